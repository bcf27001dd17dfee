import Foundation
import Testing

@testable import Tokenizers

/// A hand-written tokenizer.json (Fixtures/tiny-tokenizer.json): 31 tokens, 11 merges, byte fallback for "€" and
/// "é", fused `<unk>`, added tokens with lstrip / rstrip / single_word / normalized. Expected values are the
/// Python `tokenizers` library's output on the same file.
@Suite("tiny tokenizer.json")
struct TinyTokenizerTests {
    let tokenizer: Tokenizer

    init() throws {
        tokenizer = try Tokenizer(tokenizerJSONPath: Fixtures.path("tiny-tokenizer.json"), cacheDirectory: nil)
    }

    @Test("merges apply by rank across the whole segment, and the template adds <s> and </s> at offset 0..<0")
    func merges() {
        let encoding = tokenizer.encode("hello world")
        #expect(encoding.ids == [1, 21, 26, 2])
        #expect(encoding.tokens == ["<s>", "hello", "▁world", "</s>"])
        #expect(encoding.offsets == [0..<0, 0..<5, 5..<11, 0..<0])
        #expect(encoding.specialTokensMask == [true, false, false, true])
        #expect(tokenizer.encode("     ").ids == [1, 28, 8, 2])
        #expect(tokenizer.encode(" hello").ids == [1, 8, 21, 2])
        #expect(tokenizer.encode("").ids == [1, 2])
    }

    @Test("a scalar missing from the vocab becomes its UTF-8 byte tokens, each with the scalar's offsets")
    func byteFallback() {
        let encoding = tokenizer.encode("€é", addSpecialTokens: false)
        #expect(encoding.ids == [3, 4, 5, 6, 7])
        #expect(encoding.tokens == ["<0xE2>", "<0x82>", "<0xAC>", "<0xC3>", "<0xA9>"])
        #expect(encoding.offsets == [0..<1, 0..<1, 0..<1, 1..<2, 1..<2])
        #expect(tokenizer.decode(encoding.ids, skipSpecialTokens: true) == "€é")
    }

    @Test("without byte tokens for a scalar, consecutive unknowns fuse into one <unk>")
    func unknownFusion() {
        let encoding = tokenizer.encode("zzq hello")
        #expect(encoding.ids == [1, 0, 8, 21, 2])
        #expect(encoding.offsets == [0..<0, 0..<3, 3..<4, 4..<9, 0..<0])
        #expect(tokenizer.encode("swordfish").ids == [1, 0, 17, 23, 11, 0, 13, 2])
    }

    @Test("an lstrip added token swallows the spaces before it, within the text not already taken")
    func lstrip() {
        let encoding = tokenizer.encode("a [MASK] b")
        #expect(encoding.ids == [1, 9, 29, 8, 10, 2])
        #expect(encoding.tokens == ["<s>", "a", " [MASK]", "▁", "b", "</s>"])
        #expect(encoding.offsets == [0..<0, 0..<1, 1..<8, 8..<9, 9..<10, 0..<0])
        #expect(tokenizer.encode("a  [MASK]").offsets == [0..<0, 0..<1, 1..<9, 0..<0])
    }

    @Test("an rstrip added token swallows the spaces after it")
    func rstrip() {
        let encoding = tokenizer.encode("x<sep>  y")
        #expect(encoding.ids == [1, 0, 30, 0, 2])
        #expect(encoding.tokens == ["<s>", "<unk>", "<sep>  ", "<unk>", "</s>"])
        #expect(encoding.offsets == [0..<0, 0..<1, 1..<8, 8..<9, 0..<0])
    }

    @Test("a single_word added token matches only between non-word characters")
    func singleWord() {
        #expect(tokenizer.encode("word").ids == [1, 31, 2])
        #expect(tokenizer.encode("a word b").ids == [1, 9, 8, 31, 8, 10, 2])
        #expect(tokenizer.encode("swordfish").ids.contains(31) == false)
    }

    @Test("a normalized added token is matched in the normalized text")
    func normalizedAddedToken() {
        let encoding = tokenizer.encode("a ab b")
        #expect(encoding.ids == [1, 9, 8, 32, 8, 10, 2])
        #expect(encoding.offsets == [0..<0, 0..<1, 1..<2, 2..<4, 4..<5, 5..<6, 0..<0])
    }

    @Test("decode skips special tokens only when asked, strips one leading space, and maps bad bytes to U+FFFD each")
    func decode() {
        #expect(tokenizer.decode([1, 8, 21, 2], skipSpecialTokens: true) == "hello")
        #expect(tokenizer.decode([1, 8, 21, 2], skipSpecialTokens: false) == "<s> hello</s>")
        #expect(tokenizer.decode([1, 9, 29, 8, 10, 2], skipSpecialTokens: false) == "<s>a[MASK] b</s>")
        #expect(tokenizer.decode([3, 4, 9, 3], skipSpecialTokens: true) == "\u{FFFD}\u{FFFD}a\u{FFFD}")
        #expect(tokenizer.decode([9, 999], skipSpecialTokens: true) == "a")
    }

    @Test("truncation keeps the template's special tokens: right keeps the first tokens, left the last")
    func truncation() {
        let right = tokenizer.encode("hello world hello", maxLength: 4, direction: .right)
        #expect(right.ids == [1, 21, 26, 2])
        #expect(right.offsets == [0..<0, 0..<5, 5..<11, 0..<0])
        let left = tokenizer.encode("hello world hello", maxLength: 4, direction: .left)
        #expect(left.ids == [1, 8, 21, 2])
        #expect(left.offsets == [0..<0, 11..<12, 12..<17, 0..<0])
        #expect(
            tokenizer.encode("hello world hello", addSpecialTokens: false, maxLength: 1, direction: .right).ids == [21])
        #expect(tokenizer.encode("hello", maxLength: 100, direction: .left).ids == [1, 21, 2])
        #expect(tokenizer.encode("hello world", maxLength: 1, direction: .right).ids == [1, 2])
    }

    @Test("token and id lookups cover the vocab and the added tokens")
    func lookups() {
        #expect(tokenizer.vocabularySize == 31)
        #expect(tokenizer.id(forToken: "▁world") == 26)
        #expect(tokenizer.id(forToken: "word") == 31)
        #expect(tokenizer.id(forToken: "nope") == nil)
        #expect(tokenizer.token(forID: 32) == "ab")
        #expect(tokenizer.token(forID: 7) == "<0xA9>")
        #expect(tokenizer.token(forID: 500) == nil)
        #expect(tokenizer.firstIDOutsideVocabulary([1, 21, 31, 2]) == 31)
        #expect(tokenizer.firstIDOutsideVocabulary([1, 21, 2]) == nil)
    }
}

@Suite("tokenizer.json errors")
struct TokenizerErrorTests {
    /// The tiny fixture with one top-level member replaced, written to a temporary file.
    func load(replacing key: String, with json: String) throws -> Tokenizer {
        var object =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-tokenizer.json")))) as! [String: Any]
        object[key] = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try Tokenizer(tokenizerJSONPath: url.path, cacheDirectory: nil)
    }

    @Test("an unsupported normalizer is an error naming it")
    func unsupportedNormalizer() {
        #expect(throws: TokenizerError.unsupportedComponent(kind: "normalizer", type: "NFKC")) {
            try load(replacing: "normalizer", with: #"{"type": "NFKC"}"#)
        }
    }

    @Test("an unsupported pre-tokenizer, decoder, post-processor or model is an error naming it")
    func unsupportedComponents() {
        #expect(throws: TokenizerError.unsupportedComponent(kind: "pre_tokenizer", type: "Punctuation")) {
            try load(replacing: "pre_tokenizer", with: #"{"type": "Punctuation"}"#)
        }
        #expect(throws: TokenizerError.unsupportedComponent(kind: "decoder", type: "CTC")) {
            try load(replacing: "decoder", with: #"{"type": "CTC"}"#)
        }
        #expect(throws: TokenizerError.unsupportedComponent(kind: "post_processor", type: "Sequence")) {
            try load(replacing: "post_processor", with: #"{"type": "Sequence", "processors": []}"#)
        }
        #expect(throws: TokenizerError.unsupportedModel(type: "WordLevel", supported: ["BPE", "WordPiece", "Unigram"]))
        {
            try load(replacing: "model", with: #"{"type": "WordLevel", "unk_token": "<unk>", "vocab": {"<unk>": 0}}"#)
        }
        #expect(throws: TokenizerError.unsupportedComponent(kind: "pre_tokenizer", type: "Split with a Regex pattern"))
        {
            try load(
                replacing: "pre_tokenizer",
                with: #"{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": false}"#)
        }
    }

    @Test("the error text names the component and says it is not implemented")
    func errorText() {
        let error = TokenizerError.unsupportedComponent(kind: "normalizer", type: "NFKC")
        #expect(
            error.description == "unsupported normalizer \"NFKC\" in tokenizer.json (not implemented by this tokenizer)"
        )
    }

    @Test("a truncation in tokenizer.json applies to encode by default, as in HF, and not when a limit is given")
    func fileTruncation() throws {
        let tokenizer = try load(
            replacing: "truncation",
            with: #"{"direction": "Left", "max_length": 3, "strategy": "LongestFirst", "stride": 0}"#)
        #expect(tokenizer.encode("hello world hello").ids == [1, 21, 2])
        #expect(tokenizer.encode("hello world hello", addSpecialTokens: false).ids == [26, 8, 21])
        #expect(tokenizer.encode("hello world hello", maxLength: nil, direction: .right).ids == [1, 21, 26, 8, 21, 2])
    }

    @Test("padding in tokenizer.json is ignored, as TEI ignores it: an encoding is never padded")
    func padding() throws {
        let batchLongest =
            #"{"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "<unk>"}"#
        #expect(try load(replacing: "padding", with: batchLongest).encode("hello").ids == [1, 21, 2])
        let fixed =
            #"{"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": 4, "pad_id": 0, "pad_type_id": 0, "pad_token": "<unk>"}"#
        #expect(try load(replacing: "padding", with: fixed).encode("hello").ids == [1, 21, 2])
    }

    @Test("an unsupported model type is an error naming it and the supported ones")
    func unsupportedModelText() {
        let error = TokenizerError.unsupportedModel(type: "Unigram", supported: ["BPE", "WordPiece"])
        #expect(
            error.description == "unsupported model type \"Unigram\" in tokenizer.json (supported: BPE, WordPiece)")
    }

    @Test("a merge naming a token missing from the vocab is an error")
    func badMerge() {
        #expect(throws: TokenizerError.self) {
            try load(replacing: "model", with: #"{"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "q"]]}"#)
        }
    }

    @Test("a missing file is an unreadable-file error with the path")
    func missingFile() {
        #expect(
            throws: TokenizerError.unreadableFile(
                path: "/nonexistent/tokenizer.json", reason: "No such file or directory")
        ) {
            try Tokenizer(directory: "/nonexistent")
        }
    }
}
