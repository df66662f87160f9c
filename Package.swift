// swift-tools-version:6.2
// chatd + chatctl: a chat backend in front of Chat3, and its operations toolkit.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "chatd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chatd", targets: ["chatd"]),
        .executable(name: "chatctl", targets: ["chatctl"]),
        .executable(name: "chat3-sim", targets: ["chat3-sim"]),
        .executable(name: "socketio-conformance", targets: ["socketio-conformance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System libraries: module maps + shim.h with static inline wrappers for C variadics.
        .systemLibrary(name: "CMongoc", pkgConfig: "libmongoc-1.0",
                       providers: [.apt(["libmongoc-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq",
                       providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        // Starting child programs: posix_spawn with every inherited descriptor closed (see ChildProcess).
        .target(name: "CSpawn"),
        .target(name: "Spawn", dependencies: ["CSpawn"], swiftSettings: strict),

        // Core: domain types and rules. No I/O.
        .target(name: "ChatCore",
                dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strict),
        // Use cases without transports: who may read or change a dialog, written once (see Conversations).
        .target(name: "ChatApp", dependencies: ["ChatCore"], swiftSettings: strict),
        // Configuration: TOML file + environment + flags → validated immutable config.
        .target(name: "ChatConfig", dependencies: ["ChatCore"], swiftSettings: strict),
        // User store: protocol, SQLite (GRDB) and MongoDB (libmongoc) backends, migrations.
        .target(name: "ChatStore",
                dependencies: ["ChatCore", "CMongoc",
                               .product(name: "GRDB", package: "GRDB.swift"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Auth: one-time codes, JWT issuing and checking (shared by chatd and chatctl).
        .target(name: "ChatAuth",
                dependencies: ["ChatCore", "ChatStore", "Spawn",
                               .product(name: "JWTKit", package: "jwt-kit"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Engine.IO 4 + Socket.IO 5: packet codecs, sessions, rooms. Transport-agnostic.
        .target(name: "SocketIO", dependencies: ["ChatCore"], swiftSettings: strict),
        // RabbitMQ on librabbitmq: connection, publisher, consumer thread; management API client.
        .target(name: "ChatAMQP",
                dependencies: ["ChatCore", "CRabbitMQ", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Typed client for the Chat3 REST API over libcurl: pooled connections, timeouts, retries, breaker.
        .target(name: "Chat3Client",
                dependencies: ["ChatCore", "CCurl", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // The Chat3 emulator (library so tests can run it in-process).
        .target(name: "Chat3Sim",
                dependencies: ["ChatCore", "ChatAMQP",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Daemon composition root: HTTP routes, health, lifecycle.
        .target(name: "ChatDaemon",
                dependencies: ["ChatApp", "ChatCore", "ChatConfig", "ChatStore", "ChatAuth", "SocketIO", "Chat3Client", "ChatAMQP",
                               "ChatControl",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdCore", package: "hummingbird"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                               .product(name: "NIOWebSocket", package: "swift-nio"),
                               .product(name: "NIOHTTP1", package: "swift-nio"),
                               .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                               .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Control-socket wire types and the typed client chatctl uses.
        .target(name: "ChatControl", dependencies: ["ChatCore", "CCurl"], swiftSettings: strict),
        // Every chatctl command, as a library so tests can run them in-process.
        .target(name: "ChatCTL",
                dependencies: ["ChatCore", "ChatConfig", "ChatStore", "ChatAuth", "ChatControl", "ChatAMQP", "Chat3Client",
                               .product(name: "ArgumentParser", package: "swift-argument-parser"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),

        .executableTarget(name: "chatd",
                          dependencies: ["ChatDaemon", "ChatConfig", .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: strict),
        .executableTarget(name: "chatctl",
                          dependencies: ["ChatCTL", .product(name: "Logging", package: "swift-log")],
                          swiftSettings: strict),
        // The Socket.IO conformance server the official protocol test suites run against (DESIGN.md).
        .target(name: "SocketIOConformance",
                dependencies: ["ChatCore", "SocketIO",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdCore", package: "hummingbird"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .executableTarget(name: "socketio-conformance",
                          dependencies: ["SocketIOConformance", .product(name: "Logging", package: "swift-log")],
                          swiftSettings: strict),
        .executableTarget(name: "chat3-sim",
                          dependencies: ["Chat3Sim",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: strict),

        // The benchmark tool: Socket.IO WebSocket clients, updates into RabbitMQ, HTTP load; JSON results.
        .executableTarget(name: "chatbench",
                          dependencies: ["ChatCore", "ChatAMQP", "ChatConfig", "SocketIO",
                                         .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                         .product(name: "NIOCore", package: "swift-nio"),
                                         .product(name: "NIOPosix", package: "swift-nio"),
                                         .product(name: "NIOHTTP1", package: "swift-nio"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log")],
                          swiftSettings: strict),

        // Test support: service fixtures (MongoDB stand-in, RabbitMQ, binaries) shared by test targets.
        .target(name: "TestSupport", dependencies: ["ChatCore", "ChatStore", "Spawn"], path: "Tests/TestSupport"),
        .testTarget(name: "ChatCoreTests", dependencies: ["ChatCore"]),
        .testTarget(name: "ChatAppTests", dependencies: ["ChatApp"]),
        .testTarget(name: "SpawnTests", dependencies: ["Spawn"]),
        .testTarget(name: "ChatConfigTests", dependencies: ["ChatConfig"]),
        .testTarget(name: "ChatStoreTests", dependencies: ["ChatStore", "TestSupport"]),
        .testTarget(name: "ChatAuthTests", dependencies: ["ChatAuth", "ChatStore", "TestSupport"]),
        .testTarget(name: "ChatDaemonTests",
                    dependencies: ["ChatDaemon", "ChatConfig", "ChatAuth", "ChatStore", "ChatAMQP", "TestSupport",
                                   .product(name: "HTTPTypes", package: "swift-http-types"),
                                   .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "Chat3ClientTests", dependencies: ["Chat3Client", "Chat3Sim", "TestSupport"]),
        .testTarget(name: "ChatControlTests", dependencies: ["ChatControl", "ChatCTL", "TestSupport"]),
        .testTarget(name: "SocketIOTests", dependencies: ["SocketIO"]),
        .testTarget(name: "SocketIOConformanceTests",
                    dependencies: ["SocketIOConformance", "SocketIO", "ChatCore", "TestSupport",
                                   .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                   .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ChatAMQPTests", dependencies: ["ChatAMQP", "TestSupport"]),
        .testTarget(name: "Chat3SimTests", dependencies: ["Chat3Sim", "ChatAMQP", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["ChatCore", "ChatStore", "ChatConfig", "ChatAMQP", "TestSupport"]),
    ]
)
