import ChatCore

/// Chat3's list pagination: `{page, limit, total, pages}`.
public struct Chat3Pagination: Sendable, Equatable {
    public var page: Int
    public var limit: Int
    public var total: Int
    public var pages: Int

    public init(page: Int, limit: Int, total: Int, pages: Int) {
        self.page = page
        self.limit = limit
        self.total = total
        self.pages = pages
    }

    init(_ json: JSONValue?, fallbackPage: Int, fallbackLimit: Int, count: Int) {
        page = json?["page"]?.intValue ?? fallbackPage
        limit = json?["limit"]?.intValue ?? fallbackLimit
        total = json?["total"]?.intValue ?? count
        pages = json?["pages"]?.intValue ?? (limit > 0 ? (total + limit - 1) / limit : 0)
    }

    public var json: JSONValue {
        ["page": .number(Double(page)), "limit": .number(Double(limit)), "total": .number(Double(total)),
         "pages": .number(Double(pages))]
    }
}

/// One page of a Chat3 list.
public struct Chat3Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var pagination: Chat3Pagination
}

/// A dialog (`GET/POST /dialogs`). `raw` is Chat3's object as received, for passing on to clients.
public struct Chat3Dialog: Sendable, Equatable {
    public var dialogId: DialogID
    public var meta: [String: JSONValue]
    public var raw: [String: JSONValue]

    init?(_ json: JSONValue) {
        guard let object = json.objectValue, let id = object["dialogId"]?.stringValue.flatMap(DialogID.init) else {
            return nil
        }
        dialogId = id
        meta = object["meta"]?.objectValue ?? [:]
        raw = object
    }
}

/// A dialog as one member sees it (`GET /users/:u/dialogs` items): the dialog plus the member's context.
public struct Chat3UserDialog: Sendable, Equatable {
    public var dialogId: DialogID
    public var meta: [String: JSONValue]
    public var unreadCount: Int
    public var raw: [String: JSONValue]

    init?(_ json: JSONValue) {
        guard let object = json.objectValue, let id = object["dialogId"]?.stringValue.flatMap(DialogID.init) else {
            return nil
        }
        dialogId = id
        meta = object["meta"]?.objectValue ?? [:]
        unreadCount = object["context"]?["unreadCount"]?.intValue ?? 0
        raw = object
    }
}

/// A dialog member (`GET /dialogs/:d/members` items). Member ids are Chat3's and need not be ours.
public struct Chat3Member: Sendable, Equatable {
    public var userId: String
    public var raw: [String: JSONValue]

    init?(_ json: JSONValue) {
        guard let object = json.objectValue, let id = object["userId"]?.stringValue else { return nil }
        userId = id
        raw = object
    }
}

/// A message (create, lookup, lists).
public struct Chat3Message: Sendable, Equatable {
    public var messageId: MessageID
    public var dialogId: DialogID
    public var senderId: String
    public var raw: [String: JSONValue]

    init?(_ json: JSONValue) {
        guard let object = json.objectValue,
              let id = object["messageId"]?.stringValue.flatMap(MessageID.init),
              let dialog = object["dialogId"]?.stringValue.flatMap(DialogID.init)
        else { return nil }
        messageId = id
        dialogId = dialog
        senderId = object["senderId"]?.stringValue ?? ""
        raw = object
    }
}
