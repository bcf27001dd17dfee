import Testing

@testable import Tokenizers

/// The tiny fixtures of scripts/fixtures/gen-tiny-tokenizer-cases.py (Metaspace, Prepend, Sequence normalizers and
/// pre-tokenizers, Split behaviours, BertProcessing, continuing_subword_prefix, ignore_merges; WordPiece with NFD,
/// StripAccents, Lowercase, BertNormalizer variants, Whitespace, WhitespaceSplit, BertPreTokenizer, RobertaProcessing
/// and TemplateProcessing pairs, WordPiece decoders; byte-level BPE with the ByteLevel pre-tokenizer, decoder and
/// post-processor) against HF's output.
@Suite("tiny tokenizer.json parity")
struct TinyParityTests {
    @Test(
        "each tiny fixture gives HF's ids, tokens, offsets and decoded text",
        arguments: [
            "tiny-tokenizer.json", "tiny-metaspace.json", "tiny-first.json", "tiny-wordpiece-style.json",
            "tiny-wordpiece-nfd.json", "tiny-wordpiece-roberta.json", "tiny-wordpiece-template.json",
            "tiny-bytelevel-roberta.json", "tiny-bytelevel-gpt2.json",
        ])
    func fixture(_ name: String) throws {
        let tokenizer = try Tokenizer(tokenizerJSONPath: Fixtures.path(name), cacheDirectory: nil)
        let cases = try Fixtures.jsonLines("tiny-cases.jsonl").filter { $0["fixture"]?.stringValue == name }
        #expect(cases.count >= 7)
        for row in cases {
            let text = row["text"]!.stringValue!
            let ids = int32s(row["ids"])
            let pair = row["pair"]?.stringValue
            let encoding = pair.map { tokenizer.encode(text, pair: $0) } ?? tokenizer.encode(text)
            #expect(encoding.ids == ids, "ids of \(text.debugDescription) \(pair?.debugDescription ?? "")")
            #expect(encoding.typeIDs == int32s(row["type_ids"]), "type ids of \(text.debugDescription)")
            #expect(
                encoding.tokens == row["tokens"]!.arrayValue!.map { $0.stringValue! },
                "tokens of \(text.debugDescription)")
            #expect(encoding.offsets.flatPairs == ints(row["offsets"]), "offsets of \(text.debugDescription)")
            #expect(
                sameScalars(tokenizer.decode(ids, skipSpecialTokens: true), row["decoded"]!.stringValue!),
                "decoded \(text.debugDescription)")
            #expect(
                sameScalars(tokenizer.decode(ids, skipSpecialTokens: false), row["decoded_special"]!.stringValue!),
                "decoded with specials \(text.debugDescription)")
        }
    }
}
