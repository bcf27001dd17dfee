import Foundation
import Testing

@testable import Tokenizers

/// A tokenizer.json with a Unigram model of `pieces` (JSON `[piece, score]` pairs) and the given extra members.
private func unigramJSON(_ pieces: String, unkID: String = "0", byteFallback: Bool = false, extra: String = "")
    -> String
{
    #"{\#(extra)"model":{"type":"Unigram","unk_id":\#(unkID),"vocab":[\#(pieces)],"byte_fallback":\#(byteFallback)}}"#
}

/// A Precompiled normalizer over hand-built charsmap bytes.
private func precompiled(_ bytes: [UInt8]) -> String {
    #""normalizer":{"type":"Precompiled","precompiled_charsmap":"\#(Data(bytes).base64EncodedString())"},"#
}

/// A darts-clone charsmap of one key, "a": the root's children are at state 256, "a"'s unit at 256 ^ 0x61 = 353,
/// with `unit353` there (its label, flags and offset) and `leafValue` at unit 97 (353 ^ 256, where a leaf unit with
/// offset 256 points); `replacements` follow the 512 units.
private func charsmap(unit353: UInt32 = 0x100 << 10 | 0x100 | 0x61, leafValue: UInt32 = 0, replacements: [UInt8])
    -> [UInt8]
{
    var units = [UInt32](repeating: 0, count: 512)
    units[0] = 256 << 10
    units[353] = unit353
    units[97] = leafValue
    var bytes: [UInt8] = []
    for word in [UInt32(units.count * 4)] + units { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
    return bytes + replacements
}

private func load(_ text: String) throws -> Tokenizer {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("unigram-\(UUID().uuidString).json")
    try Data(text.utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return try Tokenizer(tokenizerJSONPath: url.path, cacheDirectory: nil)
}

private func expectRefused(_ text: String, _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try load(text)
        Issue.record("the tokenizer loaded", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(phrase), "\(error)", sourceLocation: sourceLocation)
    }
}

/// HF's own example pieces (`Unigram::encode`'s doc test): "abcdacdxx" is abcd, a, cd and the unknown run xx.
private let examplePieces =
    #"["<unk>",0],["a",0],["b",0],["c",0],["d",0],["cd",1],["ab",2],["abc",5],["abcd",10],["<0x78>",-1]"#

@Suite("Unigram model")
struct UnigramTests {
    @Test("Viterbi picks the best-scoring path; an unknown run is one token whose string is its text")
    func bestPath() throws {
        let tokenizer = try load(unigramJSON(examplePieces))
        let encoding = tokenizer.encode("abcdacdxx")
        #expect(encoding.ids == [8, 1, 5, 0])
        #expect(encoding.tokens == ["abcd", "a", "cd", "xx"])
        #expect(encoding.offsets == [0..<4, 4..<5, 5..<7, 7..<9])
        #expect(tokenizer.vocabularySize == 10)
    }

    @Test("with byte_fallback an unknown run becomes its bytes' tokens, each spanning the whole run")
    func byteFallback() throws {
        let tokenizer = try load(unigramJSON(examplePieces, byteFallback: true))
        let encoding = tokenizer.encode("abxx")
        #expect(encoding.ids == [6, 9, 9])
        #expect(encoding.tokens == ["ab", "<0x78>", "<0x78>"])
        #expect(encoding.offsets == [0..<2, 2..<4, 2..<4])
        // A byte without its token leaves the run unknown.
        #expect(tokenizer.encode("xé").ids == [0])
    }

    @Test("a piece listed twice has its last id, as HF's map built from the list; ids count every entry")
    func repeatedPiece() throws {
        let tokenizer = try load(unigramJSON(#"["<unk>",0],["a",-1],["a",-2]"#))
        #expect(tokenizer.encode("aa").ids == [2, 2])
        #expect(tokenizer.vocabularySize == 3)
        #expect(tokenizer.token(forID: 1) == "a")
    }

    @Test("a hand-built charsmap maps its key; other text is left alone")
    func charsmapKey() throws {
        let pieces = #"["<unk>",0],["b",-1],["c",-1]"#
        let tokenizer = try load(unigramJSON(pieces, extra: precompiled(charsmap(replacements: Array("b\0".utf8)))))
        #expect(tokenizer.encode("ac").tokens == ["b", "c"])
        #expect(tokenizer.encode("ac").offsets == [0..<1, 1..<2])
    }

    @Test("a charsmap whose offsets make a cycle loads, and lookups stay bounded")
    func charsmapCycle() throws {
        // "a" leads from state 256 back to state 256 (offset 353 ^ 256), with no leaf: every "a…" key is a prefix.
        let map = charsmap(unit353: (353 ^ 256) << 10 | 0x61, replacements: Array("b\0".utf8))
        let tokenizer = try load(unigramJSON(#"["<unk>",0],["a",-1]"#, extra: precompiled(map)))
        #expect(tokenizer.encode(String(repeating: "a", count: 10_000)).ids.count == 10_000)
    }
}

@Suite("Unigram tokenizer.json from untrusted files")
struct UntrustedUnigramTests {
    @Test("vocab and settings: empty, non-finite scores, unk_id, byte_fallback")
    func model() {
        expectRefused(unigramJSON(""), "empty vocab")
        expectRefused(unigramJSON(#"["<unk>",0],["a",1e999]"#), "score inf")
        expectRefused(unigramJSON(#"["<unk>",0]"#, unkID: "1"), "unk_id 1 is outside 0..<1")
        expectRefused(unigramJSON(#"["<unk>",0]"#, unkID: "-1"), "unk_id")
        expectRefused(unigramJSON(#"["<unk>",0]"#, unkID: "null"), "without unk_id")
        expectRefused(unigramJSON(#"["<unk>",0],["a"]"#), "expected")
        expectRefused(unigramJSON(#"["<unk>","x"]"#), "number")
        expectRefused(#"{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",0]],"byte_fallback":1}}"#, "byte_fallback")
        expectRefused(#"{"model":{"type":"Unigram","unk_id":0}}"#, "no vocab")
    }

    @Test("charsmap bytes: base64, header, trie size, replacement strings, leaves")
    func charsmaps() {
        let pieces = #"["<unk>",0],["b",-1]"#
        func refused(_ bytes: [UInt8], _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) {
            expectRefused(unigramJSON(pieces, extra: precompiled(bytes)), phrase, sourceLocation: sourceLocation)
        }
        expectRefused(
            unigramJSON(pieces, extra: #""normalizer":{"type":"Precompiled","precompiled_charsmap":"AA=A"},"#),
            "not valid base64")
        expectRefused(
            unigramJSON(pieces, extra: #""normalizer":{"type":"Precompiled","precompiled_charsmap":null},"#),
            "no precompiled_charsmap")
        refused([1, 0], "too short")
        refused([0, 0, 0, 0], "declares a trie of 0 bytes")
        refused([16, 0, 0, 0, 1, 2, 3, 4], "declares a trie of 16 bytes in 4")
        refused(charsmap(replacements: [0xFF, 0]), "not UTF-8")
        refused(charsmap(leafValue: 9, replacements: Array("b\0".utf8)), "leaf value 9")
        refused(charsmap(leafValue: 1, replacements: Array("é\0".utf8)), "leaf value 1")
        refused(charsmap(unit353: 0x200 << 10 | 0x100 | 0x61, replacements: Array("b\0".utf8)), "outside its trie")
    }

    @Test("a Replace regex other than one repeated scalar is an unsupported component")
    func regex() {
        for regex in [#"\\s+"#, "a|b", "x*", " {0,}", " {3,2}", "(a)"] {
            expectRefused(
                unigramJSON(
                    #"["<unk>",0]"#,
                    extra: #""normalizer":{"type":"Replace","pattern":{"Regex":"\#(regex)"},"content":"-"},"#),
                "unsupported normalizer")
        }
    }

    @Test("repeated-scalar regexes match leftmost and greedy, as a regex engine does")
    func repeatedScalar() throws {
        let runs = try #require(RepeatedScalar(regex: " {2,3}"))
        #expect(runs.matches(in: scalarsOf("a       b  c d")) == [1..<4, 4..<7, 9..<11])
        #expect(RepeatedScalar(regex: #"\."#) == RepeatedScalar(regex: "\\.{1}"))
        #expect(try #require(RepeatedScalar(regex: "x+")).matches(in: scalarsOf("axxbx")) == [1..<3, 4..<5])
    }
}

@Suite("Unigram and the tokenizer cache")
struct UnigramCacheTests {
    @Test("a Unigram tokenizer writes no cache, and a BPE cache made for its file is not used")
    func bypassesCache() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("unigram-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tokenizer.json").path
        try FileManager.default.copyItem(atPath: UnigramParityTests.path("unigram-v5.json"), toPath: path)
        let reference = try Tokenizer(tokenizerJSONPath: path, cacheDirectory: nil)
        let first = try Tokenizer(tokenizerJSONPath: path, cacheDirectory: directory.path)
        let cachePath = TokenizerCache.path(for: path, in: directory.path)
        #expect(!first.loadedFromCache)
        #expect(!FileManager.default.fileExists(atPath: cachePath))

        // A well-formed cache with this file's hash, as someone able to write the directory could leave.
        let bpe = try Tokenizer(tokenizerJSONPath: Fixtures.path("tiny-tokenizer.json"), cacheDirectory: nil)
        let tables = try #require(bpe.model.cacheableTables)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let hash = bytes.withUnsafeBufferPointer { TokenizerCache.contentHash($0) }
        TokenizerCache.store(path: cachePath, contentHash: hash, vocab: tables.vocab, merges: tables.merges)
        let second = try Tokenizer(tokenizerJSONPath: path, cacheDirectory: directory.path)
        #expect(!second.loadedFromCache)
        for text in ["Hello world", "ｶﾞ ﬁ  x", "日本語"] {
            #expect(second.encode(text) == reference.encode(text))
        }
    }
}
