import Testing

@testable import Tokenizers

/// The shared golden cases (Python `tokenizers` 0.23.3 on the real tokenizer.json).
@Suite("golden tokenizer parity")
struct GoldenParityTests {
    @Test("every golden case has the same ids, ids without specials, offsets and decoded text as HF")
    func goldenCases() throws {
        let tokenizer = try RealModel.tokenizer.get()
        let cases = try Fixtures.jsonLines("golden-tokenizer.jsonl")
        #expect(cases.count == 193)
        var mismatches: [String] = []
        for (index, row) in cases.enumerated() {
            let text = row["text"]!.stringValue!
            let encoding = tokenizer.encode(text)
            let plain = tokenizer.encode(text, addSpecialTokens: false)
            var wrong: [String] = []
            if encoding.ids != int32s(row["ids"]) { wrong.append("ids") }
            if plain.ids != int32s(row["ids_no_special"]) { wrong.append("ids_no_special") }
            if encoding.offsets.pairs != offsetPairs(row["offsets"]) { wrong.append("offsets") }
            if encoding.tokens != (row["tokens"]!.arrayValue!.map { $0.stringValue! }) { wrong.append("tokens") }
            if !sameScalars(tokenizer.decode(encoding.ids, skipSpecialTokens: true), row["decoded"]!.stringValue!) {
                wrong.append("decoded")
            }
            if !wrong.isEmpty {
                mismatches.append("case \(index) \(wrong): \(String(text.prefix(60)).debugDescription)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
    }
}
