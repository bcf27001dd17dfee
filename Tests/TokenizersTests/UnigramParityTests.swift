import Foundation
import Testing

@testable import Tokenizers

/// The SentencePiece Unigram fixtures of scripts/fixtures/make-tiny-xlmr.py against HF `tokenizers` 0.23.3: the tiny
/// XLM-R model's tokenizer.json (XLMRobertaConverter: Precompiled with SentencePiece's real nmt_nfkc charsmap, Strip,
/// Replace of ` {2,}`, Metaspace, `<s> $A </s> </s> $B </s>`) and three variants on a small rule-made charsmap: the
/// Hub's xlm-roberta-base layout (Metaspace `first`, unsplit), transformers 5's (WhitespaceSplit + Metaspace) and a
/// byte-fallback model converted without a model class (Replace, ByteFallback + Fuse decoder).
@Suite("Unigram tokenizer.json parity")
struct UnigramParityTests {
    static func path(_ fixture: String) -> String {
        fixture == "tiny-xlmr"
            ? Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("EmbeddingModelTests/Fixtures/tiny-xlmr/tokenizer.json").path
            : Fixtures.path(fixture)
    }

    @Test(
        "each case gives HF's ids, type ids, tokens, offsets and decoded text",
        arguments: ["tiny-xlmr", "unigram-hub.json", "unigram-v5.json", "unigram-bytefallback.json"])
    func fixture(_ name: String) throws {
        let tokenizer = try Tokenizer(tokenizerJSONPath: UnigramParityTests.path(name), cacheDirectory: nil)
        let cases = try Fixtures.jsonLines("unigram-cases.jsonl").filter { $0["fixture"]?.stringValue == name }
        #expect(cases.count >= 30)
        var mismatches: [String] = []
        for row in cases {
            let text = row["text"]!.stringValue!
            let pair = row["pair"]?.stringValue
            let encoding = pair.map { tokenizer.encode(text, pair: $0) } ?? tokenizer.encode(text)
            let plain =
                pair.map { tokenizer.encode(text, pair: $0, addSpecialTokens: false) }
                ?? tokenizer.encode(text, addSpecialTokens: false)
            var wrong: [String] = []
            if encoding.ids != int32s(row["ids"]) { wrong.append("ids \(encoding.ids) != \(int32s(row["ids"]))") }
            if encoding.typeIDs != int32s(row["type_ids"]) { wrong.append("type_ids") }
            if let tokens = row["tokens"]?.arrayValue, encoding.tokens != tokens.map({ $0.stringValue! }) {
                wrong.append("tokens \(encoding.tokens)")
            }
            if encoding.offsets.flatPairs != ints(row["offsets"]) {
                wrong.append("offsets \(encoding.offsets.flatPairs) != \(ints(row["offsets"]))")
            }
            if plain.ids != int32s(row["ids_no_special"]) { wrong.append("ids_no_special") }
            let decoded = tokenizer.decode(encoding.ids, skipSpecialTokens: true)
            if !sameScalars(decoded, row["decoded"]!.stringValue!) {
                wrong.append("decoded \(decoded.debugDescription)")
            }
            if !sameScalars(
                tokenizer.decode(encoding.ids, skipSpecialTokens: false), row["decoded_special"]!.stringValue!)
            {
                wrong.append("decoded_special")
            }
            if !wrong.isEmpty {
                mismatches.append(
                    "\(text.debugDescription)\(pair.map { " + " + $0.debugDescription } ?? ""): "
                        + wrong.joined(separator: "; "))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(12).joined(separator: "\n"))")
    }
}
