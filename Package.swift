// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Hypertuna",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "HyperCrypto", targets: ["HyperCrypto"]),
        .library(name: "LMDBKit", targets: ["LMDBKit"]),
        .library(name: "CompactEncoding", targets: ["CompactEncoding"]),
        .library(name: "HyperLog", targets: ["HyperLog"]),
        .library(name: "HyperTree", targets: ["HyperTree"]),
        .library(name: "NostrRelay", targets: ["NostrRelay"]),
        .library(name: "NostrRelayServer", targets: ["NostrRelayServer"]),
        .library(name: "TokenService", targets: ["TokenService"]),
        .library(name: "PeerProtocol", targets: ["PeerProtocol"]),
        .library(name: "Telemetry", targets: ["Telemetry"]),
        .library(name: "Dispatcher", targets: ["Dispatcher"]),
        .library(name: "SwarmTransport", targets: ["SwarmTransport"]),
        .library(name: "PeerWire", targets: ["PeerWire"]),
        .library(name: "RelayHost", targets: ["RelayHost"]),
        .executable(name: "hypertuna-gateway", targets: ["GatewayApp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Gateway server (NostrRelayServer, GatewayApp, RelayBench).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Imported directly by NostrRelayServer (already in the graph through Hummingbird and swift-configuration).
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // System libraries (Debian: libsodium-dev, liblmdb-dev, libsecp256k1-dev).
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // The gateway's allocator (see Docs/operations.md "Memory allocator"): linked into the executable only.
        .systemLibrary(name: "CJemalloc", pkgConfig: "jemalloc", providers: [.apt(["libjemalloc-dev"])]),
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CSecp256k1", pkgConfig: "libsecp256k1", providers: [.apt(["libsecp256k1-dev"])]),

        // Foundations shared by several modules.
        .target(name: "HyperCrypto", dependencies: ["CSodium"]),
        .target(name: "LMDBKit", dependencies: ["CLMDB"]),
        .target(name: "CompactEncoding"),

        // Storage: signed Merkle log, B-tree on top.
        .target(name: "CLeafHash"),
        .target(name: "HyperLog", dependencies: ["HyperCrypto", "LMDBKit", "CompactEncoding", "CLeafHash"]),
        .target(name: "HyperTree", dependencies: ["HyperLog", "LMDBKit"]),

        // Nostr relay engine.
        .target(
            name: "NostrRelay",
            dependencies: [
                "CSecp256k1", "HyperCrypto", "HyperLog", "HyperTree",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // Gateway <-> peer control plane.
        .target(name: "PeerProtocol", dependencies: ["HyperCrypto", "LMDBKit", "NostrRelay"]),
        .target(
            name: "TokenService",
            dependencies: [
                "HyperCrypto", "LMDBKit", "PeerProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Telemetry",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "Dispatcher", dependencies: ["Telemetry", .product(name: "Logging", package: "swift-log")]),

        // Peer transport and replication.
        .target(
            name: "SwarmTransport",
            dependencies: [
                "HyperCrypto", "CompactEncoding", "HyperLog", "CSodium",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The gateway <-> worker channel (`hypertuna-relay-v2`), shared by both sides (Docs/peer-wire.md).
        .target(
            name: "PeerWire",
            dependencies: [
                "PeerProtocol", "SwarmTransport", "CompactEncoding",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Websocket/HTTP front of the relay engine (Hummingbird 2).
        .target(
            name: "NostrRelayServer",
            dependencies: [
                "NostrRelay", "HyperCrypto", "LMDBKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // The gateway's peer plane: registration, peer sessions, replication serving, tokens, admin API, audit.
        .target(
            name: "RelayHost",
            dependencies: [
                "PeerWire", "PeerProtocol", "SwarmTransport", "TokenService", "Dispatcher", "Telemetry", "NostrRelay",
                "NostrRelayServer", "HyperLog", "HyperCrypto", "LMDBKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // Executables.
        .executableTarget(
            name: "GatewayApp",
            dependencies: [
                "HyperLog", "HyperTree", "HyperCrypto", "NostrRelay", "NostrRelayServer", "CJemalloc", "RelayHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Fuzz target for the control-frame decoder (scripts/fuzz-control-frames.sh builds it with -DFUZZING).
        .executableTarget(name: "ControlFrameFuzz", dependencies: ["PeerProtocol", "NostrRelay"], path: "Fuzz/ControlFrameFuzz"),

        // Benchmarks (run in release: see Docs/performance.md).
        .executableTarget(
            name: "HyperLogBench", dependencies: ["HyperLog", "LMDBKit"], path: "Benchmarks/HyperLogBench"),
        .executableTarget(
            name: "HyperTreeBench", dependencies: ["HyperTree", "HyperLog", "HyperCrypto", "LMDBKit"],
            path: "Benchmarks/HyperTreeBench"),
        .target(name: "AllocationCounter", path: "Benchmarks/AllocationCounter"),
        .executableTarget(
            name: "DispatcherBench", dependencies: ["Dispatcher", "AllocationCounter"],
            path: "Benchmarks/DispatcherBench"),
        .executableTarget(
            name: "RelayBench",
            dependencies: [
                "CSecp256k1", "HyperCrypto", "NostrRelay",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/RelayBench",
            exclude: ["baseline_relay.py"]
        ),
        .executableTarget(
            name: "NostrRelayBench",
            dependencies: ["NostrRelay", "HyperCrypto", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/NostrRelayBench"),
        .executableTarget(
            name: "SwarmBench",
            dependencies: [
                "SwarmTransport", "HyperCrypto", "HyperLog", "HyperTree",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/SwarmBench"),

        // Tests.
        .target(name: "TestSupport", dependencies: ["HyperCrypto"], path: "Tests/TestSupport"),
        .testTarget(name: "HyperCryptoTests", dependencies: ["HyperCrypto", "TestSupport"]),
        .testTarget(name: "LMDBKitTests", dependencies: ["LMDBKit"]),
        .testTarget(name: "CompactEncodingTests", dependencies: ["CompactEncoding", "TestSupport"]),
        .testTarget(name: "HyperLogTests", dependencies: ["HyperLog", "LMDBKit", "TestSupport"]),
        .executableTarget(name: "HyperLogCrashChild", dependencies: ["HyperLog"], path: "Tests/HyperLogCrashChild"),
        .testTarget(name: "HyperTreeTests", dependencies: ["HyperTree", "TestSupport"]),
        .testTarget(name: "NostrRelayTests", dependencies: ["NostrRelay", "TestSupport"]),
        .testTarget(
            name: "TokenServiceTests",
            dependencies: [
                "TokenService", "PeerProtocol", "TestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(name: "PeerProtocolTests", dependencies: ["PeerProtocol", "NostrRelay", "TestSupport"]),
        .testTarget(
            name: "TelemetryTests",
            dependencies: ["Telemetry", .product(name: "MetricsTestKit", package: "swift-metrics")]
        ),
        .testTarget(name: "DispatcherTests", dependencies: ["Dispatcher", "Telemetry", "TestSupport"]),
        .testTarget(
            name: "SwarmTransportTests",
            dependencies: [
                "SwarmTransport", "TestSupport", "HyperCrypto", "CompactEncoding", "HyperLog", "HyperTree",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Swift <-> real JavaScript Hypercore peers (node + ../shared/js-holepunch; skipped when absent).
        .testTarget(
            name: "InteropTests",
            dependencies: [
                "SwarmTransport", "HyperCrypto", "HyperLog", "HyperTree",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PeerWireTests",
            dependencies: ["PeerWire", "PeerProtocol", "SwarmTransport", "HyperCrypto", "CompactEncoding"]
        ),
        .testTarget(
            name: "RelayHostTests",
            dependencies: [
                "RelayHost", "PeerWire", "PeerProtocol", "SwarmTransport", "TokenService", "Dispatcher", "NostrRelay",
                "NostrRelayServer", "HyperLog", "HyperTree", "HyperCrypto", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "NostrRelayServerTests",
            dependencies: [
                "NostrRelayServer", "NostrRelay", "TestSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
            ]
        ),
    ]
)
