import ChatAMQP
import Testing

@Suite("AMQP URLs")
struct AMQPURLTests {
    @Test func aFullURLYieldsEveryPart() throws {
        let url = try AMQPURL("amqp://chat:s3cret@rabbit.internal:5673/chat")
        #expect(url == AMQPURL(host: "rabbit.internal", port: 5673, user: "chat", password: "s3cret", vhost: "chat"))
    }

    @Test func aMissingPathOrEmptyPathMeansTheDefaultVhost() throws {
        #expect(try AMQPURL("amqp://guest:guest@127.0.0.1:5672").vhost == "/")
        #expect(try AMQPURL("amqp://guest:guest@127.0.0.1:5672/").vhost == "/")
        #expect(try AMQPURL("amqp://127.0.0.1/%2F").vhost == "/")
    }

    @Test func userPasswordAndVhostArePercentDecoded() throws {
        let url = try AMQPURL("amqp://us%40er:p%3Aw%2Fd%25@localhost/team%2Fchat")
        #expect(url.user == "us@er")
        #expect(url.password == "p:w/d%")
        #expect(url.vhost == "team/chat")
    }

    @Test func portAndCredentialsHaveDefaults() throws {
        let url = try AMQPURL("amqp://localhost")
        #expect(url.port == 5672)
        #expect(url.user == "guest")
        #expect(url.password == "guest")
    }

    @Test func anIPv6HostIsWrittenInBrackets() throws {
        let url = try AMQPURL("amqp://[::1]:5999/")
        #expect(url.host == "::1")
        #expect(url.port == 5999)
    }

    @Test func theDescriptionMasksThePassword() throws {
        let url = try AMQPURL("amqp://chat:s3cret@localhost/chat")
        #expect(url.description == "amqp://chat:***@localhost:5672/chat")
        #expect(!url.description.contains("s3cret"))
    }

    @Test(arguments: [
        ("localhost:5672", AMQPURLError.missingScheme),
        ("http://localhost", .unsupportedScheme("http")),
        ("amqps://localhost", .unsupportedScheme("amqps")),
        ("amqp://", .missingHost),
        ("amqp://user:pw@:5672/", .missingHost),
        ("amqp://localhost:http", .invalidPort("http")),
        ("amqp://localhost:70000", .invalidPort("70000")),
        ("amqp://:pw@localhost", .emptyUser),
        ("amqp://localhost/a/b", .invalidVhost("a/b")),
        ("amqp://localhost/%zz", .invalidPercentEncoding(part: "vhost")),
        ("amqp://us%4@localhost", .invalidPercentEncoding(part: "user")),
        ("amqp://localhost/?heartbeat=10", .queryNotSupported),
    ])
    func badURLsAreRefusedWithASpecificError(text: String, expected: AMQPURLError) {
        #expect(throws: expected) { try AMQPURL(text) }
    }

    @Test func errorsExplainThemselves() {
        #expect(AMQPURLError.invalidVhost("a/b").description.contains("%2F"))
        #expect(AMQPURLError.missingScheme.description.contains("amqp://"))
    }
}
