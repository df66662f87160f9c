import Chat3Client
import ChatApp
import ChatCore
import ChatStore
import Hummingbird

/// `/api/dialogs…`: the caller's dialogs through Chat3's user-scoped endpoints.
///
/// Authorization: a caller who is not a member of a dialog gets 404 for every route, reads and writes alike,
/// so a dialog's existence is never revealed to outsiders. Members get 403 only where a route needs more
/// than membership: deleting a dialog (its creator) and removing someone else (the creator). Chat3 keeps no
/// creator any more, so chatd records it in the dialog's meta (`createdBy`) at creation.
struct DialogRoutes {
    static let maxMembers = 100
    static let nameLength = 1...100

    let chat3: Chat3Client
    let store: any UserStore
    let conversations: Conversations

    init(services: DaemonServices) {
        chat3 = services.chat3
        store = services.store
        conversations = services.conversations
    }

    var routes: [APIRoute] {
        [
            APIRoute(method: .get, path: "/api/dialogs", summary: "The caller's dialogs, most recently active first",
                     tag: "dialogs", query: [.page, .limit], errors: [400, 503], handler: { try await self.list($0, $1) }),
            APIRoute(method: .post, path: "/api/dialogs", summary: "Create a dialog with the caller and members",
                     tag: "dialogs",
                     body: Schema.object(["name": Schema.text(length: Self.nameLength),
                                          "memberIds": ["type": ["array", "null"], "maxItems": .number(Double(Self.maxMembers)),
                                                        "items": Schema.pattern(OpenAPIDocument.userIDPattern)]],
                                         required: ["name"]),
                     success: 201, errors: [400, 503], handler: { try await self.create($0, $1) }),
            APIRoute(method: .get, path: "/api/dialogs/:dialogId", summary: "One dialog (members only)",
                     tag: "dialogs", errors: [400, 404, 503], handler: { try await self.get($0, $1) }),
            APIRoute(method: .delete, path: "/api/dialogs/:dialogId", summary: "Delete a dialog (its creator only)",
                     tag: "dialogs", errors: [400, 403, 404, 503], handler: { try await self.delete($0, $1) }),
            APIRoute(method: .get, path: "/api/dialogs/:dialogId/members", summary: "Members of a dialog (members only)",
                     tag: "dialogs", query: [.page, .limit], errors: [400, 404, 503], handler: { try await self.members($0, $1) }),
            APIRoute(method: .post, path: "/api/dialogs/:dialogId/members", summary: "Add a member (members only)",
                     tag: "dialogs", body: Schema.object(["userId": Schema.pattern("^usr_[a-z0-9]{8}$")], required: ["userId"]),
                     errors: [400, 404, 503], handler: { try await self.addMember($0, $1) }),
            APIRoute(method: .delete, path: "/api/dialogs/:dialogId/members/:userId",
                     summary: "Remove a member (the creator, or the member itself)",
                     tag: "dialogs", errors: [400, 403, 404, 503], handler: { try await self.removeMember($0, $1) }),
            APIRoute(method: .post, path: "/api/dialogs/:dialogId/typing", summary: "Signal that the caller is typing",
                     tag: "dialogs", success: 202, errors: [400, 404, 503], handler: { try await self.typing($0, $1) }),
            APIRoute(method: .patch, path: "/api/dialogs/:dialogId/unread",
                     summary: "Set the caller's unread counter (0 marks the dialog read; members only)", tag: "dialogs",
                     body: Self.unreadBody, optionalBody: true,
                     response: Schema.object(["data": Schema.object([
                         "dialogId": Schema.pattern(OpenAPIDocument.parameterPatterns["dialogId"]!),
                         "unreadCount": ["type": "integer", "minimum": 0],
                         "lastSeenAt": ["description": "Chat3's timestamp, or null"],
                     ], required: ["dialogId", "unreadCount"])], required: ["data"]),
                     errors: [400, 404, 503], handler: { try await self.setUnread($0, $1) }),
        ]
    }

    static let maxUnread = 1_000_000
    static let unreadBody = Schema.object([
        "unreadCount": ["type": ["integer", "null"], "minimum": 0, "maximum": .number(Double(maxUnread)),
                        "description": "At most the current count; default 0"],
        "lastSeenAt": ["type": ["number", "null"], "minimum": 0, "description": "Milliseconds since 1970"],
        "reason": Schema.nullable(Schema.string(length: 1...100)),
    ])

    // MARK: Handlers

    /// One Chat3 call, nothing else: this is the hot proxied path.
    func list(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let (page, limit) = try RouteInput.paging(request, defaultLimit: 20)
        let result = try await chat3Call { try await chat3.userDialogs(of: me, page: page, limit: limit) }
        return JSONResponse.ok(["data": .array(result.items.map(Self.json)), "pagination": result.pagination.json])
    }

    func create(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        var request = request
        let body = try await request.jsonObject(context: context)
        let name = try Self.dialogName(RouteInput.string(body, "name", required: true)!)
        var memberIds: [UserID] = []
        switch body["memberIds"] {
        case nil, .null?: break
        case .array(let items)?:
            guard items.count <= Self.maxMembers else {
                throw APIError.badRequest("memberIds has more than \(Self.maxMembers) entries")
            }
            for item in items {
                let id = try RouteInput.userID(item.stringValue)
                if id != me, !memberIds.contains(id) { memberIds.append(id) }
            }
        default: throw APIError.badRequest("memberIds must be an array of user ids")
        }
        for id in memberIds where try await store.user(id: id) == nil {
            throw APIError.badRequest("Unknown user \(id.rawValue)")
        }
        let dialog = try await chat3Call {
            try await chat3.createDialog(members: [me] + memberIds,
                                         meta: ["name": .string(name), "createdBy": .string(me.rawValue)])
        }
        context.logger.info("dialog created", metadata: ["user.id": "\(me)", "dialog.id": "\(dialog.dialogId)"])
        return JSONResponse.ok(["data": Self.json(dialog)], status: .created)
    }

    func get(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        let dialog = try await visibleDialog(id, to: me)
        return JSONResponse.ok(["data": Self.json(dialog)])
    }

    func delete(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        try await chat3Call { try await conversations.requireCreator(me, of: id, to: .deleteDialog) }
        try await chat3Call(notFound: .notFound("Dialog not found")) { try await chat3.deleteDialog(id) }
        context.logger.info("dialog deleted", metadata: ["user.id": "\(me)", "dialog.id": "\(id)"])
        return JSONResponse.ok(["message": "Dialog deleted"])
    }

    func members(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        let (page, limit) = try RouteInput.paging(request, defaultLimit: 50)
        try await chat3Call { try await conversations.requireMember(me, of: id) }
        let result = try await chat3Call(notFound: .notFound("Dialog not found")) {
            try await chat3.members(of: id, page: page, limit: limit)
        }
        return JSONResponse.ok(["data": .array(result.items.map { JSONValue.object($0.raw) }), "pagination": result.pagination.json])
    }

    func addMember(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        var request = request
        let body = try await request.jsonObject(context: context)
        let userId = try RouteInput.userID(RouteInput.string(body, "userId", required: true))
        try await chat3Call { try await conversations.requireMember(me, of: id) }
        guard try await store.user(id: userId) != nil else { throw APIError.notFound("User not found") }
        let added = try await chat3Call(notFound: .notFound("Dialog not found")) { try await chat3.addMember(userId, to: id) }
        return JSONResponse.ok(["message": .string(added ? "Member added" : "Already a member"),
                                "data": ["userId": .string(userId.rawValue), "dialogId": .string(id.rawValue)]])
    }

    func removeMember(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        let userId = try RouteInput.userID(context.parameters.get("userId"))
        try await chat3Call { try await conversations.requireMayRemove(userId, from: id, by: me) }
        try await chat3Call(notFound: .notFound("Dialog not found")) { try await chat3.removeMember(userId, from: id) }
        return JSONResponse.ok(["message": "Member removed"])
    }

    /// Chat3 would refuse a non-member too, but no write is sent for one: membership is checked first (cached).
    func typing(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        try await chat3Call { try await conversations.requireMember(me, of: id) }
        let expires = try await chat3Call(notFound: .notFound("Dialog not found")) { try await chat3.typing(me, in: id) }
        return JSONResponse.ok(["expiresInMs": .number(Double(expires))], status: .accepted)
    }

    /// The seed frontend's "mark read" (`PATCH` with `{unreadCount: 0}` or no body), through Chat3's member
    /// unread endpoint. Chat3 refuses a count above the current one; that is the caller's 400.
    func setUnread(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let id = try RouteInput.dialogID(context)
        var request = request
        let body = try await request.optionalJSONObject(context: context)
        var unreadCount = 0
        switch body["unreadCount"] {
        case nil, .null?: break
        case let value?:
            guard let count = value.intValue, (0...Self.maxUnread).contains(count) else {
                throw APIError.badRequest("unreadCount must be an integer from 0 to \(Self.maxUnread)")
            }
            unreadCount = count
        }
        var lastSeenAt: Double?
        switch body["lastSeenAt"] {
        case nil, .null?: break
        case let value?:
            guard let ms = value.doubleValue, ms >= 0, ms.isFinite else {
                throw APIError.badRequest("lastSeenAt must be milliseconds since 1970")
            }
            lastSeenAt = ms
        }
        let reason = try RouteInput.string(body, "reason", required: false)
        if let reason, !(1...100).contains(reason.count) { throw APIError.badRequest("reason must be 1 to 100 characters") }
        try await chat3Call { try await conversations.requireMember(me, of: id) }
        let state = try await chat3Call(notFound: .notFound("Dialog not found")) {
            try await chat3.setUnread(me, in: id, unreadCount: unreadCount, lastSeenAt: lastSeenAt, reason: reason)
        }
        return JSONResponse.ok(["data": [
            "dialogId": .string(id.rawValue), "unreadCount": state["unreadCount"] ?? .number(Double(unreadCount)),
            "lastSeenAt": state["lastSeenAt"] ?? .null,
        ]])
    }

    // MARK: Helpers

    /// The dialog as the caller sees it; 404 when the caller is not a member (or it does not exist).
    func visibleDialog(_ id: DialogID, to user: UserID) async throws -> Chat3UserDialog {
        guard let dialog = try await chat3Call({ try await chat3.userDialog(of: user, dialog: id) }) else {
            throw APIError.notFound("Dialog not found")
        }
        return dialog
    }

    static func creator(_ meta: [String: JSONValue]) -> UserID? {
        meta["createdBy"]?.stringValue.flatMap(UserID.init(rawValue:))
    }

    static func dialogName(_ raw: String) throws -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard nameLength.contains(name.count),
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw APIError.badRequest("name must be 1 to 100 characters") }
        return name
    }

    /// Chat3's object plus the fields our clients read at the top level.
    static func json(_ dialog: Chat3UserDialog) -> JSONValue {
        var object = dialog.raw
        object["name"] = dialog.meta["name"] ?? .string(dialog.dialogId.rawValue)
        object["createdBy"] = dialog.meta["createdBy"]
        object["unreadCount"] = .number(Double(dialog.unreadCount))
        return .object(object)
    }

    static func json(_ dialog: Chat3Dialog) -> JSONValue {
        var object = dialog.raw
        object["name"] = dialog.meta["name"] ?? .string(dialog.dialogId.rawValue)
        object["createdBy"] = dialog.meta["createdBy"]
        return .object(object)
    }
}

/// Runs a Chat3 call, turning its failures into API errors; `notFound` overrides the generic 404.
func chat3Call<T: Sendable>(notFound: APIError? = nil, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as Chat3Error {
        if error == .notFound, let notFound { throw notFound }
        throw APIError(chat3: error)
    }
}
