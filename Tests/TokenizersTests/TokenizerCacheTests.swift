import Foundation
import Testing

@testable import Tokenizers

/// The binary table cache next to tokenizer.json: used when it matches, ignored when stale, damaged or unwritable.
@Suite("tokenizer table cache")
struct TokenizerCacheTests {
    let directory: URL
    let jsonPath: String
    let texts = ["hello world", "€é zzq", "a [MASK] b", "x<sep>  y", "a word b", "a ab b", "     "]

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tokenizer-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        jsonPath = directory.appendingPathComponent("tokenizer.json").path
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-tokenizer.json"), toPath: jsonPath)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    func encodings(_ tokenizer: Tokenizer) -> [Encoding] {
        texts.map { tokenizer.encode($0) }
    }

    @Test("the first load writes the cache next to the file, the second reads it and encodes identically")
    func roundTrip() throws {
        defer { cleanUp() }
        let parsed = try Tokenizer(tokenizerJSONPath: jsonPath)
        #expect(!parsed.loadedFromCache && parsed.cacheRebuildReason == nil)
        #expect(FileManager.default.fileExists(atPath: TokenizerCache.path(for: jsonPath, in: directory.path)))
        let cached = try Tokenizer(directory: directory.path)
        #expect(cached.loadedFromCache)
        #expect(encodings(cached) == encodings(parsed))
        #expect(cached.decode([1, 3, 4, 5, 8, 21, 2], skipSpecialTokens: false) == "<s>€ hello</s>")
    }

    @Test("an edited tokenizer.json invalidates the cache")
    func staleCache() throws {
        defer { cleanUp() }
        _ = try Tokenizer(tokenizerJSONPath: jsonPath)
        // Drop the merge ["l", "d"].
        var object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as! [String: Any]
        var model = object["model"] as! [String: Any]
        model["merges"] = (model["merges"] as! [[String]]).filter { $0 != ["l", "d"] }
        object["model"] = model
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: jsonPath))
        let edited = try Tokenizer(tokenizerJSONPath: jsonPath)
        #expect(!edited.loadedFromCache)
        #expect(edited.cacheRebuildReason?.contains("written for another tokenizer.json") == true)
        #expect(edited.encode("hello world").ids == [1, 21, 24, 14, 11, 2])
        #expect(try Tokenizer(tokenizerJSONPath: jsonPath).loadedFromCache)
    }

    @Test("a damaged cache file is ignored")
    func damagedCache() throws {
        defer { cleanUp() }
        let parsed = try Tokenizer(tokenizerJSONPath: jsonPath)
        let cachePath = TokenizerCache.path(for: jsonPath, in: directory.path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: cachePath))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: cachePath))
        let reloaded = try Tokenizer(tokenizerJSONPath: jsonPath)
        #expect(!reloaded.loadedFromCache)
        #expect(encodings(reloaded) == encodings(parsed))
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: cachePath))
        #expect(try !Tokenizer(tokenizerJSONPath: jsonPath).loadedFromCache)
    }

    @Test("a file that fails to load leaves no cache behind")
    func failedLoad() throws {
        defer { cleanUp() }
        var object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as! [String: Any]
        object["normalizer"] = ["type": "NFKC"]
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: jsonPath))
        #expect(throws: TokenizerError.unsupportedComponent(kind: "normalizer", type: "NFKC")) {
            try Tokenizer(tokenizerJSONPath: jsonPath)
        }
        #expect(!FileManager.default.fileExists(atPath: TokenizerCache.path(for: jsonPath, in: directory.path)))
    }

    @Test("an unwritable cache directory silently means parsing")
    func unwritableDirectory() throws {
        defer { cleanUp() }
        let tokenizer = try Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: "/nonexistent/cache")
        #expect(!tokenizer.loadedFromCache)
        #expect(tokenizer.encode("hello world").ids == [1, 21, 26, 2])
    }

    @Test("the real tokenizer.json loads through the cache with the same results as parsing")
    func realModel() throws {
        let parsed = try RealModel.tokenizer.get()
        let cached = try RealModel.cachedTokenizer.get()
        #expect(cached.loadedFromCache)
        #expect(cached.vocabularySize == parsed.vocabularySize)
        let text = "Hello   world <bos> 東京 🍕\n\n" + String(repeating: " ", count: 32) + "x ☃ \u{0}"
        #expect(cached.encode(text) == parsed.encode(text))
    }
}
