// swift-tools-version:6.0
import Foundation
import PackageDescription

// Examples of the `Embeddings` library, built as a user's package would build them: this package depends on
// embed-server by path. Not part of the product. EMBED_SERVER_PACKAGE names the embed-server checkout when this
// folder is copied elsewhere (CI builds a copy outside the repository); by default it is the parent folder.
let embedServer = Context.environment["EMBED_SERVER_PACKAGE"] ?? Context.packageDirectory + "/.."
// SwiftPM names a path dependency after its folder (a clone may not be called embed-server), not its manifest.
let embedServerPackage = URL(fileURLWithPath: embedServer).standardizedFileURL.lastPathComponent.lowercased()

let package = Package(
    name: "embed-server-examples",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: embedServer)
    ],
    targets: [
        // `swift run rank [query]`: embeds a few documents and a query, prints the documents by similarity.
        .executableTarget(
            name: "rank", dependencies: [.product(name: "Embeddings", package: embedServerPackage)]),
        // `swift run parity-check GOLDEN.jsonl…`: the library's vectors against the server's golden ones.
        .executableTarget(
            name: "parity-check", dependencies: [.product(name: "Embeddings", package: embedServerPackage)]),
    ]
)
