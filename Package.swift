// swift-tools-version:6.0
import PackageDescription

// Rill links nothing but the Swift toolchain (and, for connectors, Debian's C libraries).
let package = Package(
    name: "Rill",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Rill", targets: ["Rill"]),
        .library(name: "RillTesting", targets: ["RillTesting"]),
        .executable(name: "rill", targets: ["rill"]),
        .executable(name: "rill-bench", targets: ["rill-bench"]),
    ],
    targets: [
        .target(name: "Rill"),
        .target(name: "RillTesting", dependencies: ["Rill"]),
        .executableTarget(name: "rill", dependencies: ["Rill"]),
        .executableTarget(name: "rill-bench", dependencies: ["Rill"]),
        .testTarget(name: "RillTests", dependencies: ["Rill", "RillTesting"]),
    ]
)
