import Foundation
import JSON
import Testing

@testable import Tokenizers

/// Files committed next to the tests (found from this source file, so no resource bundle is needed).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// One JSON value per line, parsed with the JSON module: Foundation's JSONSerialization drops a U+FEFF at the
    /// start of a string, which would silently change the texts under test.
    static func jsonLines(_ name: String) throws -> [JSONValue] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        return try data.split(separator: 0x0A).map { line in try JSONValue.parse(Array(line)) }
    }
}

enum RealModel {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// EMBED_MODEL_DIR, else the default Hugging Face cache snapshot of google/embeddinggemma-300m.
    static func directory() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let dir = environment["EMBED_MODEL_DIR"], !dir.isEmpty { candidates.append(dir) }
        let home = environment["HF_HOME"] ?? (NSHomeDirectory() + "/.cache/huggingface")
        let snapshots = home + "/hub/models--google--embeddinggemma-300m/snapshots"
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: snapshots) {
            candidates += entries.sorted().map { snapshots + "/" + $0 }
        }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/tokenizer.json") })
        else {
            throw Missing(
                description:
                    "the real EmbeddingGemma tokenizer.json was not found (EMBED_MODEL_DIR unset and nothing in "
                    + snapshots + "): run scripts/fetch-model.sh, or use scripts/test, which exports EMBED_MODEL_DIR")
        }
        return found
    }

    /// Parsed from tokenizer.json (no cache), once for all real-model tests.
    static let tokenizer: Result<Tokenizer, Error> = Result {
        try Tokenizer(tokenizerJSONPath: try directory() + "/tokenizer.json", cacheDirectory: nil)
    }

    /// Loaded through the binary table cache: written to a fresh directory, then read back.
    static let cachedTokenizer: Result<Tokenizer, Error> = Result {
        let path = try directory() + "/tokenizer.json"
        let cacheDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tokenizer-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: cacheDirectory) }
        let first = try Tokenizer(tokenizerJSONPath: path, cacheDirectory: cacheDirectory.path)
        let second = try Tokenizer(tokenizerJSONPath: path, cacheDirectory: cacheDirectory.path)
        guard !first.loadedFromCache, second.loadedFromCache else {
            throw Missing(description: "the tokenizer cache was not written and read back in \(cacheDirectory.path)")
        }
        return second
    }
}

extension Array where Element == Range<Int> {
    /// `[[start, end], …]` as in the Python fixtures.
    var pairs: [[Int]] { map { [$0.lowerBound, $0.upperBound] } }

    /// `[start0, end0, start1, end1, …]` as in tokenizer-cases.jsonl.
    var flatPairs: [Int] { flatMap { [$0.lowerBound, $0.upperBound] } }
}

func ints(_ value: JSONValue?) -> [Int] {
    (value?.arrayValue ?? []).map { $0.intValue! }
}

func int32s(_ value: JSONValue?) -> [Int32] {
    ints(value).map { Int32($0) }
}

/// `[[start, end], …]` as in the golden file.
func offsetPairs(_ value: JSONValue?) -> [[Int]] {
    (value?.arrayValue ?? []).map(ints)
}

/// String equality by Unicode scalars: Swift's `==` treats canonically equivalent strings as equal.
func sameScalars(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.elementsEqual(b.unicodeScalars)
}

/// sentence-transformers/all-MiniLM-L6-v2 (a BERT WordPiece tokenizer), from EMBED_MINILM_DIR.
enum MiniLMModel {
    /// EMBED_MINILM_DIR: a directory with all-MiniLM-L6-v2's tokenizer.json (scripts/test exports it).
    static func directory() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        guard let dir = environment["EMBED_MINILM_DIR"], !dir.isEmpty else {
            throw RealModel.Missing(
                description:
                    "EMBED_MINILM_DIR is not set: point it at the sentence-transformers/all-MiniLM-L6-v2 snapshot "
                    + "(scripts/fetch-model.sh sentence-transformers/all-MiniLM-L6-v2 prints it; scripts/test "
                    + "exports it)")
        }
        guard FileManager.default.fileExists(atPath: dir + "/tokenizer.json") else {
            throw RealModel.Missing(description: "EMBED_MINILM_DIR=\(dir) has no tokenizer.json")
        }
        return dir
    }

    /// Parsed once for all MiniLM tests.
    static let tokenizer: Result<Tokenizer, Error> = Result {
        try Tokenizer(tokenizerJSONPath: try directory() + "/tokenizer.json", cacheDirectory: nil)
    }
}
