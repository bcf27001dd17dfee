import Foundation
import Kernels
import TestSupport

/// Test data committed next to the tests (`Fixtures/`), found from this file's path.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    static var tinyModel: String { SharedFixtures.tinyModel }
}

/// One pool for all tests, like the server's single pool.
let testPool = ComputePool(threadCount: 2)

/// Expected outputs of the tiny model, written by scripts/fixtures/make-tiny-model.py from sentence-transformers.
struct TinyExpectations: Decodable {
    struct Case: Decodable {
        let ids: [Int32]
        let raw: [Float]
        let normalized: [Float]
        let hidden: [Float]
    }

    let cases: [Case]

    static func load() throws -> TinyExpectations {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-expected.json")))
        return try JSONDecoder().decode(TinyExpectations.self, from: data)
    }
}
