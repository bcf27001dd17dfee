import Foundation
import Testing

@testable import Tokenizers

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory holding `tokenizer.json` with `text`.
private func tokenizerDirectory(_ text: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/tokenizer.json"))
    return directory
}

/// Expects loading `text` as tokenizer.json to throw an error whose description contains `phrase`.
private func expectRefused(_ text: String, _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let directory = try tokenizerDirectory(text)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
        _ = try Tokenizer(tokenizerJSONPath: directory + "/tokenizer.json", cacheDirectory: nil)
        Issue.record("the tokenizer loaded", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(phrase), "\(error)", sourceLocation: sourceLocation)
    }
}

/// tokenizer.json files from whoever published the model: ids, nesting and file types may be anything.
@Suite("tokenizer.json from untrusted files")
struct UntrustedTokenizerTests {
    @Test("a vocab id near 2^31 is refused before anything is sized by it; ids must lie inside the vocab")
    func hugeVocabID() throws {
        try expectRefused(#"{"model":{"type":"BPE","vocab":{"a":0,"b":2147483000},"merges":[]}}"#, "2147483000")
        try expectRefused(#"{"model":{"type":"BPE","vocab":{"a":0,"b":2},"merges":[]}}"#, "outside")
    }

    @Test("added-token and template ids that do not fit in 32 bits are refused, not truncated or trapped on")
    func hugeAddedTokenIDs() throws {
        let model = #""model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}"#
        try expectRefused(#"{"added_tokens":[{"id":3000000000,"content":"x"}],\#(model)}"#, "3000000000")
        try expectRefused(#"{"added_tokens":[{"id":-1,"content":"x"}],\#(model)}"#, "-1")
        try expectRefused(
            #"""
            {"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"s"}},{"Sequence":{"id":"A"}}],
             "special_tokens":{"s":{"id":"s","ids":[3000000000],"tokens":["s"]}}},\#(model)}
            """#, "3000000000")
        try expectRefused(
            #"{"post_processor":{"type":"BertProcessing","cls":["a",3000000000],"sep":["b",1]},\#(model)}"#,
            "3000000000")
    }

    /// A tokenizer.json like the tiny fixture's (BPE over a few tokens) with a `TemplateProcessing` made of these
    /// members; `specials` defaults to the fixture's `<s>` and `</s>`.
    private func templated(_ members: String, specials: String? = nil) -> String {
        let specials =
            specials
            ?? #"{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]},"</s>":{"id":"</s>","ids":[2],"tokens":["</s>"]}}"#
        return #"""
            {"post_processor":{"type":"TemplateProcessing",\#(members),"special_tokens":\#(specials)},
             "model":{"type":"BPE","vocab":{"<unk>":0,"<s>":1,"</s>":2,"a":3,"b":4},"merges":[]}}
            """#
    }
    private let single =
        #""single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}]"#
    private let pair =
        #""pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}]"#

    /// Loads `text` (it must load) and encodes "ab" with the template.
    private func templatedEncoding(_ text: String) throws -> Encoding {
        let directory = try tokenizerDirectory(text)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try Tokenizer(tokenizerJSONPath: directory + "/tokenizer.json", cacheDirectory: nil).encode("ab")
    }

    // fuzz/regressions/tokenizer-json/template-special-ids-tokens-length-mismatch
    @Test("a template special token whose tokens are missing or not one per id is refused, naming it")
    func templateSpecialTokenIDsAndTokensDiffer() throws {
        func specials(_ start: String) -> String {
            #"{"<s>":\#(start),"</s>":{"id":"</s>","ids":[2],"tokens":["</s>"]}}"#
        }
        try expectRefused(
            templated("\(single),\(pair)", specials: specials(#"{"id":"<s>","ids":[1]}"#)), #"special token "<s>""#)
        try expectRefused(
            templated(single, specials: specials(#"{"id":"<s>","ids":[1],"tok[ns":["<s>"]}"#)),
            #""<s>" has no "tokens""#)
        try expectRefused(
            templated(single, specials: specials(#"{"id":"<s>","ids":[1,2],"tokens":["<s>"]}"#)),
            #""<s>" has 2 ids and 1 tokens"#)
        try expectRefused(
            templated(single, specials: specials(#"{"id":"<s>","ids":[1],"tokens":[]}"#)),
            #""<s>" has 1 ids and 0 tokens"#)
        try expectRefused(
            templated(single, specials: specials(#"{"id":"<s>","ids":[1],"tokens":[7]}"#)), #"special token "<s>""#)
        try expectRefused(
            templated(single, specials: specials(#"{"id":"<s>","tokens":["<s>"]}"#)), #""<s>" has no "ids""#)
        // Several ids with as many tokens are fine, and every templated encoding has one token per id.
        let encoding = try templatedEncoding(
            templated(single, specials: specials(#"{"id":"<s>","ids":[1,2],"tokens":["<s>","</s>"]}"#)))
        #expect(encoding.ids == [1, 2, 3, 4, 2] && encoding.tokens == ["<s>", "</s>", "a", "b", "</s>"])
    }

    // fuzz/regressions/tokenizer-json/template-without-single-drops-content
    @Test("a template without single, or whose single / pair lack exactly one $A / $A and $B, is refused")
    func templateSequencePieces() throws {
        let a = #"{"Sequence":{"id":"A","type_id":0}}"#, b = #"{"Sequence":{"id":"B","type_id":1}}"#
        let s = #"{"SpecialToken":{"id":"<s>","type_id":0}}"#, e = #"{"SpecialToken":{"id":"</s>","type_id":0}}"#
        // single: required, exactly one $A (no $B: it is the template for one sequence).
        try expectRefused(
            templated(single.replacingOccurrences(of: #""single""#, with: #""Single""#) + "," + pair), "no \"single\"")
        try expectRefused(templated(#""single":"$A""#), #""single""#)
        try expectRefused(templated(#""single":[\#(s),\#(e)]"#), "0 $A")
        try expectRefused(templated(#""single":[]"#), "0 $A")
        try expectRefused(templated(#""single":[\#(s),\#(a),\#(a),\#(e)]"#), "2 $A")
        try expectRefused(templated(#""single":[\#(a),\#(b)]"#), #""single""#)
        try expectRefused(templated(#""single":[\#(a),{"Sequence":{"id":"C"}}]"#), #""single""#)
        // pair, when present: exactly one $A and one $B, special tokens that special_tokens defines.
        try expectRefused(templated(#"\#(single),"pair":[\#(s),\#(a),\#(e)]"#), "0 $B")
        try expectRefused(templated(#"\#(single),"pair":[\#(b),\#(e)]"#), "0 $A")
        try expectRefused(templated(#"\#(single),"pair":[\#(a),\#(b),\#(b)]"#), "2 $B")
        try expectRefused(templated(#"\#(single),"pair":[\#(a),\#(a),\#(b)]"#), "2 $A")
        try expectRefused(templated(#"\#(single),"pair":[\#(a),\#(b),{"SpecialToken":{"id":"<x>"}}]"#), #""<x>""#)
        try expectRefused(templated(#"\#(single),"pair":[\#(a),\#(b),{"Sequence":{"id":"C"}}]"#), #""pair""#)
        try expectRefused(templated(#"\#(single),"pair":"$A $B""#), #""pair""#)
        // special_tokens is required too (as in HF), if only as {}.
        try expectRefused(
            #"{"post_processor":{"type":"TemplateProcessing","single":[\#(a)]},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}"#,
            "special_tokens")
        // What loads wraps the text exactly once, with or without a pair template.
        for members in [single, "\(single),\(pair)", #""single":[\#(a)],"pair":[\#(b),\#(s),\#(a)]"#] {
            let expected: [Int32] = members.hasPrefix(single) ? [1, 3, 4, 2] : [3, 4]
            #expect(try templatedEncoding(templated(members)).ids == expected, "\(members)")
        }
    }

    @Test("a Strip decoder with a negative start or stop is refused (decoding would form an invalid range)")
    func negativeStrip() throws {
        let model = #""model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}"#
        try expectRefused(#"{"decoder":{"type":"Strip","content":" ","start":-1,"stop":0},\#(model)}"#, "Strip")
        try expectRefused(#"{"decoder":{"type":"Strip","content":" ","start":0,"stop":-3},\#(model)}"#, "Strip")
    }

    @Test("nesting 100,000 levels deep is a JSON error naming tokenizer.json, not a stack overflow")
    func deepNesting() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let model = #""model":{"type":"BPE","vocab":{"a":0},"merges":[]}"#
        try expectRefused(#"{"normalizer":\#(deep),\#(model)}"#, "tokenizer.json")
        try expectRefused(#"{"normalizer":\#(deep),\#(model)}"#, "nested deeper than")
        try expectRefused(#"{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"x":\#(deep)}}"#, "nested deeper than")
        let objects = String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        try expectRefused(#"{"decoder":\#(objects),\#(model)}"#, "nested deeper than")
        // 100 levels is fine (refused for what it is, not for its depth).
        let shallow = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        try expectRefused(#"{"decoder":\#(shallow),\#(model)}"#, "decoder")
    }

    @Test("a FIFO in place of tokenizer.json is refused at once instead of blocking the read")
    func fifoTokenizer() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(mkfifo(directory + "/tokenizer.json", 0o600) == 0)
        do {
            _ = try Tokenizer(directory: directory)
            Issue.record("a FIFO loaded as tokenizer.json")
        } catch {
            #expect(
                "\(error)".contains(directory + "/tokenizer.json") && "\(error)".contains("not a regular file"),
                "\(error)")
        }
    }
}

/// A crafted table cache (with a valid checksum, as anyone who can write the directory could make) must be
/// checked as strictly as tokenizer.json: a bad one is rebuilt from the JSON and rewritten, never served.
@Suite("tokenizer cache from untrusted files")
struct UntrustedTokenizerCacheTests {
    let directory: String
    let jsonPath: String
    let cachePath: String
    let parsed: Tokenizer
    let texts = ["hello world", "€é zzq", "a [MASK] b", "x<sep>  y", "a word b", "a ab b", "     "]

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tok-cache-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        jsonPath = directory + "/tokenizer.json"
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-tokenizer.json"), toPath: jsonPath)
        cachePath = TokenizerCache.path(for: jsonPath, in: directory)
        parsed = try Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: nil)
    }

    /// Writes a cache holding these tables, keyed to the current tokenizer.json, with a correct checksum.
    func writeCache(vocab: TokenTable, merges: PairTable) throws {
        let bytes = try readWholeFile(jsonPath)
        let hash = bytes.withUnsafeBufferPointer { TokenizerCache.contentHash($0) }
        TokenizerCache.store(path: cachePath, contentHash: hash, vocab: vocab, merges: merges)
        #expect(FileManager.default.fileExists(atPath: cachePath))
    }

    /// Loads through the crafted cache: it must be refused, the tokenizer must encode as the parsed one, and the
    /// cache must have been rewritten so the next start reads it.
    func expectRebuilt(_ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loaded = try Tokenizer(tokenizerJSONPath: jsonPath)
        #expect(!loaded.loadedFromCache, sourceLocation: sourceLocation)
        #expect(loaded.cacheRebuildReason?.contains(cachePath) == true, sourceLocation: sourceLocation)
        #expect(
            loaded.cacheRebuildReason?.contains(reason) == true, "\(loaded.cacheRebuildReason ?? "nil")",
            sourceLocation: sourceLocation)
        #expect(texts.map { loaded.encode($0) } == texts.map { parsed.encode($0) }, sourceLocation: sourceLocation)
        let next = try Tokenizer(tokenizerJSONPath: jsonPath)
        #expect(next.loadedFromCache && next.cacheRebuildReason == nil, sourceLocation: sourceLocation)
        #expect(texts.map { next.encode($0) } == texts.map { parsed.encode($0) }, sourceLocation: sourceLocation)
    }

    func vocab(ids: [Int32]? = nil, slots: [TokenSlot]? = nil) -> TokenTable {
        let vocab = parsed.model.vocab
        return TokenTable(
            storage: vocab.storage, entryStarts: vocab.entryStarts, entryIDs: ids ?? vocab.entryIDs,
            slots: slots ?? vocab.slotArray, hasHashCollision: vocab.hasHashCollision)
    }

    func merges(_ slots: [PairSlot]) -> PairTable {
        PairTable(
            slots: slots, shift: parsed.model.cacheableTables!.merges.shift,
            count: parsed.model.cacheableTables!.merges.count)
    }

    @Test("a merge whose result id is outside the vocab is refused (it would index past the token strings)")
    func mergedIDOutOfRange() throws {
        let slots = parsed.model.cacheableTables!.merges.slots.map { slot in
            slot.key == UInt64.max ? slot : PairSlot(key: slot.key, value: slot.value & 0xFFFF_FFFF_0000_0000 | 1 << 30)
        }
        try writeCache(vocab: vocab(), merges: merges(slots))
        try expectRebuilt("outside the vocab")
    }

    @Test("a merge table without an empty slot is refused (a lookup of an absent pair would probe forever)")
    func fullMergeTable() throws {
        let some = try #require(parsed.model.cacheableTables!.merges.slots.first { $0.key != UInt64.max })
        try writeCache(vocab: vocab(), merges: merges(parsed.model.cacheableTables!.merges.slots.map { _ in some }))
        try expectRebuilt("merge")
    }

    @Test("a vocab id near 2^31 in the cache is refused before anything is sized by it")
    func hugeVocabID() throws {
        var ids = parsed.model.vocab.entryIDs
        ids[ids.count - 1] = Int32.max - 1
        let slots = parsed.model.vocab.slotArray.map { slot in
            slot.entry == Int32(ids.count - 1) ? TokenSlot(hash: slot.hash, entry: slot.entry, id: Int32.max - 1) : slot
        }
        try writeCache(vocab: vocab(ids: ids, slots: slots), merges: parsed.model.cacheableTables!.merges)
        try expectRebuilt("vocab id 2147483646")
    }

    // fuzz/regressions/tokenizer-cache/entry-id-352M-allocates-5.6GB: BPEModel.init sized its id table by it.
    @Test("vocab entry ids of 352,321,556 in a checksummed cache are refused, the cache rebuilt")
    func entryID352M() throws {
        var ids = parsed.model.vocab.entryIDs
        ids[9] = 352_321_556
        try writeCache(vocab: vocab(ids: ids), merges: parsed.model.cacheableTables!.merges)
        try expectRebuilt("vocab id 352321556 is outside 0..<\(ids.count)")
    }

    @Test("a vocab slot id of 352,321,556 (its entry's id in range) in a checksummed cache is refused")
    func slotID352M() throws {
        let slots = parsed.model.vocab.slotArray.map { slot in
            slot.entry == 9 ? TokenSlot(hash: slot.hash, entry: slot.entry, id: 352_321_556) : slot
        }
        try writeCache(vocab: vocab(slots: slots), merges: parsed.model.cacheableTables!.merges)
        try expectRebuilt("disagrees with entry 9")
    }

    @Test("a vocab table without an empty slot is refused (a lookup of an absent token would probe forever)")
    func fullVocabTable() throws {
        let some = try #require(parsed.model.vocab.slotArray.first { $0.entry >= 0 })
        let slots = parsed.model.vocab.slotArray.map { $0.entry >= 0 ? $0 : some }
        try writeCache(vocab: vocab(slots: slots), merges: parsed.model.cacheableTables!.merges)
        try expectRebuilt("vocab")
    }

    @Test("a vocab slot whose id disagrees with its entry is refused")
    func inconsistentVocabSlot() throws {
        let slots = parsed.model.vocab.slotArray.map { slot in
            slot.entry >= 0 ? TokenSlot(hash: slot.hash, entry: slot.entry, id: (slot.id + 1) % 20) : slot
        }
        try writeCache(vocab: vocab(slots: slots), merges: parsed.model.cacheableTables!.merges)
        try expectRebuilt("disagrees")
    }

    @Test("a FIFO in place of the cache file is skipped without blocking, and replaced by a real cache")
    func fifoCache() throws {
        #expect(mkfifo(cachePath, 0o600) == 0)
        try expectRebuilt("not a regular file")
    }

    @Test("temporary files left by an interrupted cache write are removed at the next load, and nothing else")
    func leftoverTemporaryFiles() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let leftovers = [cachePath + ".4242.3735928559.tmp", cachePath + ".1.2.tmp"]
        let unrelated = [
            directory + "/other.tmp", cachePath + ".tmp", cachePath + ".x.2.tmp", directory + "/notes.4242.1.tmp",
        ]
        for path in leftovers + unrelated { #expect(FileManager.default.createFile(atPath: path, contents: Data([1]))) }
        _ = try Tokenizer(tokenizerJSONPath: jsonPath)
        for path in leftovers { #expect(!FileManager.default.fileExists(atPath: path), "\(path)") }
        for path in unrelated { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
    }
}

/// WordPiece models (BERT) and the BERT components from untrusted files.
@Suite("WordPiece tokenizer.json from untrusted files")
struct UntrustedWordPieceTests {
    /// A WordPiece tokenizer.json with these `model` members after the type.
    private func wordPiece(_ members: String, extra: String = "") -> String {
        #"{\#(extra)"model":{"type":"WordPiece",\#(members)}}"#
    }

    @Test("a vocab giving one id to two tokens, or an id outside the vocab, is refused naming the id")
    func vocabIDs() throws {
        try expectRefused(wordPiece(#""unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1,"b":1}"#), "gives id 1 to both")
        try expectRefused(wordPiece(#""unk_token":"[UNK]","vocab":{"[UNK]":0,"a":5}"#), "id 5 is outside 0..<2")
        try expectRefused(wordPiece(#""unk_token":"[UNK]","vocab":{"[UNK]":0,"a":2147483000}"#), "2147483000")
        try expectRefused(wordPiece(#""unk_token":"[UNK]","vocab":{"[UNK]":0,"a":-1}"#), "-1")
        try expectRefused(wordPiece(#""unk_token":"[UNK]","vocab":[["[UNK]",0]]"#), "has no vocab object")
        try expectRefused(wordPiece(#""unk_token":"[UNK]""#), "has no vocab object")
    }

    @Test("a missing unk_token, or one not in the vocab, is refused at load (HF would fail at the first unknown word)")
    func unknownToken() throws {
        try expectRefused(wordPiece(#""vocab":{"a":0}"#), "has no unk_token")
        try expectRefused(wordPiece(#""unk_token":"[UNK]","vocab":{"a":0}"#), #"unk_token "[UNK]" is not in the vocab"#)
        try expectRefused(wordPiece(#""unk_token":7,"vocab":{"a":0}"#), "has no unk_token")
    }

    @Test("max_input_chars_per_word outside 0...10000, or not an integer, is refused; a prefix must be a string")
    func limits() throws {
        let vocab = ###""unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1,"##a":2}"###
        for value in ["10001", "1000000000000", "-1", "\"100\"", "1.5"] {
            try expectRefused(wordPiece(vocab + #","max_input_chars_per_word":\#(value)"#), "max_input_chars_per_word")
        }
        try expectRefused(wordPiece(vocab + #","continuing_subword_prefix":3"#), "continuing_subword_prefix")
    }

    @Test("the longest allowed word is cut by lookups bounded by the longest token, not the word's square")
    func longestWord() throws {
        let directory = try tokenizerDirectory(
            wordPiece(###""unk_token":"[UNK]","max_input_chars_per_word":10000,"vocab":{"[UNK]":0,"a":1,"##a":2}"###))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tokenizer = try Tokenizer(tokenizerJSONPath: directory + "/tokenizer.json", cacheDirectory: nil)
        let ids = tokenizer.encode(String(repeating: "a", count: 10000)).ids
        #expect(ids.count == 10000 && ids.first == 1 && ids.dropFirst().allSatisfy { $0 == 2 })
        #expect(tokenizer.encode(String(repeating: "a", count: 10001)).ids == [0])
        #expect(tokenizer.encode(String(repeating: "a", count: 9999) + "b").ids == [0])
    }

    @Test("BERT components with members of the wrong type are refused, naming the member")
    func componentMembers() throws {
        let model = #""unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1}"#
        try expectRefused(
            wordPiece(model, extra: #""normalizer":{"type":"BertNormalizer","lowercase":"yes"},"#), "lowercase")
        try expectRefused(
            wordPiece(model, extra: #""normalizer":{"type":"BertNormalizer","strip_accents":1},"#), "strip_accents")
        try expectRefused(wordPiece(model, extra: #""decoder":{"type":"WordPiece","cleanup":0},"#), "cleanup")
        try expectRefused(wordPiece(model, extra: #""decoder":{"type":"WordPiece","prefix":[]},"#), "prefix")
        try expectRefused(
            wordPiece(model, extra: #""pre_tokenizer":{"type":"ByteLevel","add_prefix_space":"no"},"#),
            "add_prefix_space")
        try expectRefused(
            wordPiece(model, extra: #""post_processor":{"type":"ByteLevel","trim_offsets":1},"#), "trim_offsets")
        try expectRefused(
            wordPiece(model, extra: #""post_processor":{"type":"RobertaProcessing","cls":["a",1]},"#), "sep")
        try expectRefused(
            wordPiece(
                model,
                extra:
                    #""post_processor":{"type":"TemplateProcessing","special_tokens":{},"single":[{"Sequence":{"id":"A","type_id":4294967296}}]},"#
            ), "type_id")
    }

    @Test("an unknown model type names itself and the supported ones")
    func unknownModel() throws {
        try expectRefused(#"{"model":{"type":"WordLevel","vocab":{}}}"#, #""WordLevel""#)
        try expectRefused(#"{"model":{"type":"WordLevel","vocab":{}}}"#, "supported: BPE, WordPiece, Unigram")
        try expectRefused(#"{"model":{"vocab":{}}}"#, #"no "type""#)
    }
}
