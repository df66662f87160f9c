/// Opens the MongoDB backend for `StoreOpener`.
enum MongoStoreBridge {
    static func open(url: String) throws -> any UserStore {
        try MongoUserStore(url: url)
    }
}
