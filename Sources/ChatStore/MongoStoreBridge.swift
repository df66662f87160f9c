/// Temporary seam until the Mongo backend lands.
enum MongoStoreBridge {
    static func open(url: String) throws -> any UserStore {
        throw StoreError.invalid("MongoDB backend not built yet")
    }
}
