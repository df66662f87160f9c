/// Settings that chatd and chatctl both need, each read and checked in one place: chatd's `load()`
/// builds them from the same reader, and chatctl asks `ConfigLoader` for just the section it uses, so a
/// default or a check is never restated by a command.

/// The Chat3 API (chat3.*).
public struct Chat3Settings: Sendable, Equatable {
    public var url: String
    /// Sent as `X-API-Key`; nil when the deployment's Chat3 needs none.
    public var apiKey: String?
    public var tenant: String
    public var connectTimeout: Double
    public var requestTimeout: Double

    public init(url: String, apiKey: String?, tenant: String, connectTimeout: Double, requestTimeout: Double) {
        self.url = url
        self.apiKey = apiKey
        self.tenant = tenant
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
    }

    init(_ reader: TypedReader) throws(ConfigError) {
        self.init(url: try reader.url("chat3.url", schemes: ["http", "https"]),
                  apiKey: reader.optional("chat3.api_key"),
                  tenant: try reader.string("chat3.tenant"),
                  connectTimeout: try reader.duration("chat3.connect_timeout", positive: true),
                  requestTimeout: try reader.duration("chat3.request_timeout", positive: true))
    }
}

/// How a user's update queue and its bindings are named (rabbitmq.queue_template, .instance, .bindings):
/// chatd declares the queue under this name and `chatctl queue --user` finds it by the same rule.
public struct QueueNaming: Sendable, Equatable {
    public var template: String
    /// This instance's name; empty when one chatd serves the broker alone.
    public var instance: String
    public var bindingTemplates: [String]

    public init(template: String, instance: String, bindingTemplates: [String]) {
        self.template = template
        self.instance = instance
        self.bindingTemplates = bindingTemplates
    }

    /// The queue that collects `userId`'s updates for this instance.
    public func queueName(for userId: String) -> String {
        template.replacingOccurrences(of: "{userId}", with: userId).replacingOccurrences(of: "{instance}", with: instance)
    }

    public func bindingKeys(for userId: String) -> [String] {
        bindingTemplates.map { $0.replacingOccurrences(of: "{userId}", with: userId) }
    }

    init(_ reader: TypedReader) throws(ConfigError) {
        let template = try reader.template("rabbitmq.queue_template")
        let instance = reader.optional("rabbitmq.instance") ?? ""
        if !instance.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            try reader.report(.invalid(key: "rabbitmq.instance", reason: "letters, digits, - and _ only"))
        }
        // Several instances on one user's queue would compete for its messages and split the stream.
        if !instance.isEmpty && !template.contains("{instance}") {
            try reader.report(.invalid(key: "rabbitmq.queue_template", reason: "must contain {instance} when rabbitmq.instance is set"))
        }
        let bindings = (reader.optional("rabbitmq.bindings") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if bindings.isEmpty || !bindings.allSatisfy({ $0.contains("{userId}") }) {
            try reader.report(.invalid(key: "rabbitmq.bindings", reason: "one or more routing keys, each containing {userId}"))
        }
        self.init(template: template, instance: instance, bindingTemplates: bindings)
    }
}

extension ConfigLoader {
    /// Just the Chat3 settings, checked as chatd checks them.
    public func chat3Settings() throws(ConfigError) -> Chat3Settings {
        try Chat3Settings(TypedReader(raw: try resolve().mapValues(\.value)))
    }

    /// Just the queue naming, checked as chatd checks it.
    public func queueNaming() throws(ConfigError) -> QueueNaming {
        try QueueNaming(TypedReader(raw: try resolve().mapValues(\.value)))
    }

    /// The management API's URL (rabbitmq.management_url), checked as chatd checks it.
    public func managementURL() throws(ConfigError) -> String {
        try TypedReader(raw: try resolve().mapValues(\.value)).url("rabbitmq.management_url", schemes: ["http", "https"])
    }
}
