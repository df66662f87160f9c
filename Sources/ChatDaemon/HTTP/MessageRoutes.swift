import Chat3Client
import ChatApp
import ChatConfig
import ChatCore
import Hummingbird

/// `/api/messages…`: reading and sending messages, statuses and reactions, always as the caller.
///
/// Same rule as the dialog routes: non-members get 404, for reads and writes, so nothing reveals whether a
/// dialog or message exists. Message-scoped routes learn the message's dialog first (remembered, since it
/// never changes) and then use Chat3's user-scoped endpoint, which enforces membership.
struct MessageRoutes {
    let chat3: Chat3Client
    let limits: ServerLimits
    let conversations: Conversations

    init(services: DaemonServices) {
        conversations = services.conversations
        chat3 = services.chat3
        limits = services.config.limits
    }

    /// `send`'s rules; image and file messages need `meta.url`, said with `anyOf`.
    static let sendBody: JSONValue = {
        guard case .object(var schema) = Schema.object([
            "content": ["type": "string", "minLength": 1, "maxLength": 4096, "pattern": #"^[\s\S]*\S[\s\S]*$"#],
            // null is taken as absent, as everywhere.
            "type": ["type": ["string", "null"], "enum": ["text", "image", "file", nil]],
            "meta": ["type": ["object", "null"], "maxProperties": 20,
                     "propertyNames": ["pattern": "^[A-Za-z0-9_]{1,100}$"]],
        ], required: ["content"]) else { return .null }
        let webURL: JSONValue = ["type": "string", "maxLength": 2048,
                                 "pattern": #"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"#]
        schema["anyOf"] = [
            ["not": ["required": ["type"]]],
            ["properties": ["type": ["enum": ["text", nil]]]],
            ["required": ["type", "meta"],
             "properties": ["type": Schema.enumeration(["image", "file"]),
                            "meta": ["type": "object", "required": ["url"], "properties": ["url": webURL]]]],
        ]
        return .object(schema)
    }()

    var routes: [APIRoute] {
        // The seed frontend's paths (`/api/dialog/:dialogId/messages`) are the same two operations: same
        // handlers, same rules, listed twice so both are documented and served.
        ["/api/messages/dialog/:dialogId", "/api/dialog/:dialogId/messages"].flatMap { path in
            [
                APIRoute(method: .get, path: path, summary: "Messages of a dialog, newest first (members only)",
                         tag: "messages", query: [.page, .limit], errors: [400, 404, 503],
                         handler: { try await self.list($0, $1) }),
                APIRoute(method: .post, path: path, summary: "Send a message as the caller (members only)",
                         tag: "messages", body: Self.sendBody, success: 201, errors: [400, 404, 503],
                         handler: { try await self.send($0, $1) }),
            ]
        } + [
            APIRoute(method: .post, path: "/api/messages/:messageId/status/:status",
                     summary: "Mark a message read or delivered (members only)", tag: "messages",
                     errors: [400, 404, 503], handler: { try await self.status($0, $1) }),
            APIRoute(method: .post, path: "/api/messages/:messageId/reactions", summary: "Set a reaction (members only)",
                     tag: "messages",
                     body: Schema.object(["reaction": OpenAPIDocument.pathParameterSchemas["reaction"]!], required: ["reaction"]),
                     errors: [400, 404, 503], handler: { try await self.setReaction($0, $1) }),
            APIRoute(method: .delete, path: "/api/messages/:messageId/reactions/:reaction",
                     summary: "Remove the caller's reaction (members only)", tag: "messages",
                     errors: [400, 404, 503], handler: { try await self.unsetReaction($0, $1) }),
        ]
    }

    func list(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        let (page, limit) = try RouteInput.paging(request, defaultLimit: 50)
        let result = try await chat3Call(notFound: .notFound("Dialog not found")) { () async throws in
            do {
                return try await chat3.messages(of: id, for: me, page: page, limit: limit)
            } catch Chat3Error.forbidden {
                throw Chat3Error.notFound
            }
        }
        return JSONResponse.ok(["data": .array(result.items.map { JSONValue.object($0.raw) }), "pagination": result.pagination.json])
    }

    func send(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        var request = request
        let body = try await request.jsonObject(context: context)
        let content = try RouteInput.string(body, "content", required: true)!
        // Counted in scalars and bytes: a grapheme cluster can hold any number of scalars.
        guard (1...limits.maxContentCharacters).contains(content.unicodeScalars.count) else {
            throw APIError.badRequest("content must be 1 to \(limits.maxContentCharacters) characters")
        }
        guard content.utf8.count <= limits.maxContentBytes else {
            throw APIError.badRequest("content must be at most \(limits.maxContentBytes) bytes of UTF-8")
        }
        guard !content.allSatisfy(\.isWhitespace) else { throw APIError.badRequest("content must not be blank") }
        let typeName = try RouteInput.string(body, "type", required: false) ?? "text"
        guard let type = Chat3MessageType(clientName: typeName) else {
            throw APIError.badRequest("type must be text, image or file")
        }
        let meta = try RouteInput.meta(body["meta"], maxBytes: limits.maxMetaBytes, maxValueBytes: limits.maxMetaValueBytes)
        if type.needsURL {
            guard let url = meta["url"]?.stringValue, RouteInput.isWebURL(url) else {
                throw APIError.badRequest("\(typeName) messages need meta.url with an http or https URL")
            }
        }
        // Chat3 does not check that the sender belongs to the dialog; chatd must.
        try await chat3Call { try await conversations.requireMember(me, of: id) }
        let message = try await chat3Call(notFound: .notFound("Dialog not found")) { () async throws in
            try await chat3.createMessage(in: id, sender: me, content: content, type: type, meta: meta)
        }
        let json = JSONValue.object(message.raw)
        return JSONResponse.ok(["message": json, "data": json], status: .created)
    }

    func status(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let messageId = try RouteInput.messageID(context)
        guard let status = context.parameters.get("status").flatMap(Chat3MessageStatus.init(rawValue:)) else {
            throw APIError.badRequest("status must be read or delivered")
        }
        let record = try await chat3Call(notFound: .notFound("Message not found")) { () async throws in
            // No write goes to Chat3 for a non-member, even though its user-scoped endpoint would refuse it.
            let dialog = try await conversations.dialogForMember(me, ofMessage: messageId)
            do {
                return try await chat3.setStatus(status, message: messageId, dialog: dialog, user: me)
            } catch Chat3Error.forbidden {
                throw Chat3Error.notFound
            }
        }
        return JSONResponse.ok(["message": "Status updated", "data": record])
    }

    func setReaction(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let messageId = try RouteInput.messageID(context)
        var request = request
        let body = try await request.jsonObject(context: context)
        let reaction = try RouteInput.reaction(RouteInput.string(body, "reaction", required: true))
        let added = try await chat3Call(notFound: .notFound("Message not found")) { () async throws in
            // No write goes to Chat3 for a non-member, even though its user-scoped endpoint would refuse it.
            let dialog = try await conversations.dialogForMember(me, ofMessage: messageId)
            do {
                return try await chat3.setReaction(reaction, message: messageId, dialog: dialog, user: me)
            } catch Chat3Error.forbidden {
                throw Chat3Error.notFound
            }
        }
        return JSONResponse.ok(["message": .string(added ? "Reaction added" : "Reaction already set")])
    }

    func unsetReaction(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let messageId = try RouteInput.messageID(context)
        // Path parameters arrive percent-encoded (emoji); decode before validating.
        let reaction = try RouteInput.reaction(context.parameters.get("reaction")?.removingPercentEncoding)
        enum Outcome: Sendable { case removed, notMember, notSet }
        let outcome = try await chat3Call(notFound: .notFound("Message not found")) { () async throws -> Outcome in
            // No write goes to Chat3 for a non-member, even though its user-scoped endpoint would refuse it.
            let dialog = try await conversations.dialogForMember(me, ofMessage: messageId)
            do {
                try await chat3.unsetReaction(reaction, message: messageId, dialog: dialog, user: me)
                return .removed
            } catch Chat3Error.forbidden {
                return .notMember
            } catch Chat3Error.notFound {
                return .notSet
            }
        }
        switch outcome {
        case .removed: return JSONResponse.ok(["message": "Reaction removed"])
        case .notMember: throw APIError.notFound("Message not found")
        case .notSet: throw APIError.notFound("Reaction not found")
        }
    }
}
