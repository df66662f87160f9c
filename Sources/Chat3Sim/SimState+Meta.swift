import ChatCore

extension SimState {
    static let metaEntityTypes: Set<String> = [
        "user", "dialog", "message", "tenant", "system", "dialogMember", "topic", "pack",
    ]

    /// Checks the entity type and, for the kinds Chat3 looks up, that the entity exists.
    func metaTarget(_ t: TenantRecord, _ entityType: String, _ entityId: String) throws(SimError) {
        guard Self.metaEntityTypes.contains(entityType) else {
            throw .invalidParameter(field: "entityType", received: entityType, example: "dialog")
        }
        switch entityType {
        case "dialog":
            guard t.dialogs[entityId] != nil else { throw .notFound("Dialog not found") }
        case "message":
            guard t.messages[entityId] != nil else { throw .notFound("Message not found") }
        case "dialogMember":
            let parts = entityId.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, t.dialogs[parts[0]]?.members[parts[1]] != nil else {
                throw .notFound("Dialog member not found")
            }
        case "topic": throw .notFound("Topic not found")
        case "pack": throw .notFound("Pack not found")
        default: break
        }
    }

    static func requireMetaKey(_ key: String) throws(SimError) {
        let valid = !key.isEmpty && key.utf8.count <= 100 && key.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95
        }
        guard valid else { throw .invalidParameter(field: "key", received: key, example: "name") }
    }

    func getMeta(_ t: TenantRecord, _ entityType: String, _ entityId: String) throws(SimError) -> Reply {
        try metaTarget(t, entityType, entityId)
        return (200, .obj(["data": t.metaJSON(entityType, entityId)]))
    }

    func putMeta(_ t: TenantRecord, _ entityType: String, _ entityId: String, _ key: String, _ body: JSONValue?)
        throws(SimError) -> Reply
    {
        try metaTarget(t, entityType, entityId)
        try Self.requireMetaKey(key)
        let object = try Self.object(body)
        guard let value = object["value"] else {
            throw .validation([.init(field: "value", message: "\"value\" is required", value: .null)])
        }
        let dataType = object["dataType"]?.stringValue ?? MetaEntry.dataType(of: value)
        let entry = setMeta(t, entityType, entityId, key: key, value: value, dataType: dataType, now: clock.now())
        metaChanged(t, entityType, entityId, keys: [key])
        return (200, .obj(["data": .obj([
            "_id": .string(entry.objectId), "tenantId": .string(t.tenantId), "entityType": .string(entityType),
            "entityId": .string(entityId), "key": .string(key), "value": SimJSON(entry.value),
            "dataType": .string(entry.dataType), "createdAt": .double(entry.createdAt.millis),
            "updatedAt": .double(entry.updatedAt.millis), "__v": 0,
        ]), "message": "Meta set successfully"]))
    }

    func putMetaMap(_ t: TenantRecord, _ entityType: String, _ entityId: String, _ body: JSONValue?)
        throws(SimError) -> Reply
    {
        try metaTarget(t, entityType, entityId)
        let object = try Self.object(body)
        guard let map = object["meta"]?.objectValue else {
            throw .validation([.init(field: "meta", message: "\"meta\" is required", value: .null)])
        }
        for key in map.keys { try Self.requireMetaKey(key) }
        let now = clock.now()
        for (key, raw) in map {
            let write = Self.metaWrite(raw)
            setMeta(t, entityType, entityId, key: key, value: write.value, dataType: write.dataType, now: now)
        }
        metaChanged(t, entityType, entityId, keys: map.keys.sorted())
        return (200, .obj(["data": t.metaJSON(entityType, entityId), "message": "Meta updated successfully"]))
    }

    func deleteMeta(_ t: TenantRecord, _ entityType: String, _ entityId: String, _ key: String) throws(SimError)
        -> Reply
    {
        try metaTarget(t, entityType, entityId)
        let storeKey = TenantRecord.metaKey(entityType, entityId)
        guard t.meta[storeKey]?.removeValue(forKey: key) != nil else { throw .notFound("Meta key not found") }
        metaChanged(t, entityType, entityId, keys: [key])
        return (200, .obj(["message": "Meta deleted successfully"]))
    }

    func deleteMetaKeys(_ t: TenantRecord, _ entityType: String, _ entityId: String, _ body: JSONValue?)
        throws(SimError) -> Reply
    {
        try metaTarget(t, entityType, entityId)
        let object = try Self.object(body)
        guard let keys = object["keys"]?.arrayValue?.compactMap(\.stringValue), !keys.isEmpty else {
            throw .validation([.init(field: "keys", message: "\"keys\" is required", value: .null)])
        }
        let storeKey = TenantRecord.metaKey(entityType, entityId)
        for key in keys { t.meta[storeKey]?.removeValue(forKey: key) }
        metaChanged(t, entityType, entityId, keys: keys)
        return (200, .obj(["data": t.metaJSON(entityType, entityId), "message": "Meta deleted successfully"]))
    }

    /// The `*.changed` event a meta write causes.
    private func metaChanged(_ t: TenantRecord, _ entityType: String, _ entityId: String, keys: [String]) {
        statsVersion += 1
        switch entityType {
        case "dialog":
            guard let dialog = t.dialogs[entityId] else { return }
            emit(SimEvent(.dialogChanged, entityId: entityId, dialogId: entityId, updatedFields: ["dialog.meta"]),
                 in: t, to: dialog.memberOrder) { recipient in
                [.init("dialog", self.dialogSection(t, dialog, for: recipient))]
            }
        case "message":
            guard let message = t.messages[entityId] else { return }
            emitMessageEvent(.messageChanged, t, message, updatedFields: keys.map { "message.meta.\($0)" },
                             section: messageSection(t, message))
        case "user":
            guard let user = t.user(entityId) else { return }
            emitUserEvent(.userChanged, t, user, updatedFields: ["user.meta"])
        case "dialogMember":
            let parts = entityId.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let dialog = t.dialogs[parts[0]], let member = dialog.members[parts[1]] else { return }
            emitMemberEvent(.memberChanged, t, dialog, member, to: [member.userId], updatedFields: ["member.meta"])
        default:
            break
        }
    }
}
