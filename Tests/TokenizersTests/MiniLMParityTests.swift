import Testing

@testable import Tokenizers

/// all-MiniLM-L6-v2's real tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece, pair template) against the
/// cases of scripts/fixtures/gen-bert-tokenizer-cases.py (Python `tokenizers` 0.23.3, padding off).
@Suite("all-MiniLM-L6-v2 tokenizer parity")
struct MiniLMParityTests {
    /// Each case's `text` (and `pair`) encoded with specials, without them, and truncated.
    @Test("every case has HF's ids, type ids, offsets, tokens and decoded text, with and without specials")
    func cases() throws {
        let tokenizer = try MiniLMModel.tokenizer.get()
        let cases = try Fixtures.jsonLines("minilm-tokenizer-cases.jsonl")
        #expect(cases.count == 308)
        var mismatches: [String] = []
        for (index, row) in cases.enumerated() {
            let text = row["text"]!.stringValue!
            let pair = row["pair"]?.stringValue
            func encode(special: Bool = true, maxLength: Int? = nil) -> Encoding {
                if let pair {
                    return tokenizer.encode(
                        text, pair: pair, addSpecialTokens: special, maxLength: maxLength, direction: .right)
                }
                return tokenizer.encode(text, addSpecialTokens: special, maxLength: maxLength, direction: .right)
            }
            let encoding = encode()
            let plain = encode(special: false)
            var wrong: [String] = []
            if encoding.ids != int32s(row["ids"]) { wrong.append("ids") }
            if encoding.typeIDs != int32s(row["type_ids"]) { wrong.append("type_ids") }
            if encoding.offsets.flatPairs != ints(row["offsets"]) { wrong.append("offsets") }
            if let tokens = row["tokens"]?.arrayValue, encoding.tokens != tokens.map({ $0.stringValue! }) {
                wrong.append("tokens")
            }
            if plain.ids != int32s(row["ids_no_special"]) { wrong.append("ids_no_special") }
            if plain.typeIDs != int32s(row["type_ids_no_special"]) { wrong.append("type_ids_no_special") }
            if !sameScalars(tokenizer.decode(encoding.ids, skipSpecialTokens: true), row["decoded"]!.stringValue!) {
                wrong.append("decoded")
            }
            if !sameScalars(
                tokenizer.decode(encoding.ids, skipSpecialTokens: false), row["decoded_special"]!.stringValue!)
            {
                wrong.append("decoded_special")
            }
            for truncation in row["truncations"]!.arrayValue! {
                let length = truncation["max_length"]!.intValue!
                let truncated = encode(maxLength: length)
                if truncated.ids != int32s(truncation["ids"]) || truncated.typeIDs != int32s(truncation["type_ids"]) {
                    wrong.append("truncated to \(length)")
                }
            }
            if !wrong.isEmpty {
                let shown =
                    String(text.prefix(50)).debugDescription
                    + (pair.map { " + " + String($0.prefix(30)).debugDescription } ?? "")
                mismatches.append("case \(index) \(wrong): \(shown)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
    }

    @Test("encode without a length applies the file's truncation (128, longest first), as HF's encode does")
    func fileTruncation() throws {
        let tokenizer = try MiniLMModel.tokenizer.get()
        let cases = try Fixtures.jsonLines("minilm-tokenizer-cases.jsonl")
        var checked = 0
        for row in cases {
            guard let truncation = row["truncations"]!.arrayValue!.first(where: { $0["max_length"]?.intValue == 128 })
            else { continue }
            let text = row["text"]!.stringValue!
            let encoding = row["pair"]?.stringValue.map { tokenizer.encode(text, pair: $0) } ?? tokenizer.encode(text)
            #expect(encoding.ids == int32s(truncation["ids"]), "\(String(text.prefix(40)).debugDescription)")
            #expect(encoding.typeIDs == int32s(truncation["type_ids"]))
            checked += 1
        }
        #expect(checked >= 20)
    }

    @Test("the model is WordPiece with BERT's vocab: 30,522 tokens, [UNK] 100, [CLS] 101, [SEP] 102")
    func vocabulary() throws {
        let tokenizer = try MiniLMModel.tokenizer.get()
        #expect(tokenizer.vocabularySize == 30522)
        #expect(tokenizer.id(forToken: "[UNK]") == 100)
        #expect(tokenizer.id(forToken: "##ing") != nil)
        #expect(tokenizer.token(forID: 101) == "[CLS]")
        #expect(!tokenizer.loadedFromCache)
    }
}
