// swift-tools-version:6.1
// blobcache: a content-addressed blob cache server with bounded memory.
// No package dependencies by design (../shared/DESIGN.md); C libraries come from Debian.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "blobcache",
    products: [
        .library(name: "BlobStore", targets: ["BlobStore"]),
        .library(name: "BlobServer", targets: ["BlobServer"]),
        .executable(name: "blobcache", targets: ["blobcache"]),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .target(name: "CBlobSys", path: "Sources/CBlobSys"),
        .target(
            name: "BlobStore", dependencies: ["CBlobSys", "COpenSSL"],
            swiftSettings: strict),
        .target(
            name: "BlobServer", dependencies: ["BlobStore", "CBlobSys", "COpenSSL", "CZstd"],
            swiftSettings: strict),
        .executableTarget(
            name: "blobcache", dependencies: ["BlobServer", "BlobStore"],
            swiftSettings: strict),
        .executableTarget(
            name: "blobcache-bench", dependencies: ["BlobStore"], path: "Benchmarks/BlobBench",
            swiftSettings: strict),
        .executableTarget(
            name: "blobstore-crash-writer", dependencies: ["BlobStore"], path: "Tests/CrashWriter",
            swiftSettings: strict),
        .target(name: "TestSupport", dependencies: ["BlobStore"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "BlobStoreTests", dependencies: ["BlobStore", "CBlobSys", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "BlobServerTests", dependencies: ["BlobServer", "BlobStore", "TestSupport"],
            swiftSettings: strict),
    ]
)
