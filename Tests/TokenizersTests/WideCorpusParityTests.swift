import Testing

@testable import Tokenizers

/// The wide corpus from scripts/fixtures/gen-tokenizer-cases.py (see its header for the file format and what is
/// elided), run on a tokenizer loaded through the binary table cache (the golden cases run on a parsed one).
@Suite("wide-corpus tokenizer parity")
struct WideCorpusParityTests {
    @Test(
        "every generated case matches HF: ids, ids without specials, offsets, decoded with and without specials, truncations"
    )
    func wideCorpus() throws {
        let tokenizer = try RealModel.cachedTokenizer.get()
        let cases = try Fixtures.jsonLines("tokenizer-cases.jsonl")
        #expect(cases.count > 3000)
        var mismatches: [String] = []
        var truncationsChecked = 0
        for (index, row) in cases.enumerated() {
            let text = row["text"]!.stringValue!
            let ids = int32s(row["ids"])
            let encoding = tokenizer.encode(text)
            var wrong: [String] = []
            if encoding.ids != ids { wrong.append("ids") }
            let expectedPlain = row["ids_no_special"].map { int32s($0) } ?? Array(ids.dropFirst().dropLast())
            if tokenizer.encode(text, addSpecialTokens: false).ids != expectedPlain { wrong.append("ids_no_special") }
            if encoding.offsets.flatPairs != ints(row["offsets"]) { wrong.append("offsets") }
            let decoded = row["decoded"]?.stringValue ?? text
            if !sameScalars(tokenizer.decode(ids, skipSpecialTokens: true), decoded) { wrong.append("decoded") }
            let decodedSpecial = row["decoded_special"]?.stringValue ?? "<bos>" + decoded + "<eos>"
            if !sameScalars(tokenizer.decode(ids, skipSpecialTokens: false), decodedSpecial) {
                wrong.append("decoded_special")
            }
            for truncation in row["truncations"]?.arrayValue ?? [] {
                let maxLength = truncation["max_length"]!.intValue!
                let direction = TruncationDirection(rawValue: truncation["direction"]!.stringValue!)!
                let truncated = tokenizer.encode(text, maxLength: maxLength, direction: direction)
                if truncated.ids != int32s(truncation["ids"]) {
                    wrong.append("truncation \(maxLength) \(direction) ids")
                }
                if let offsets = truncation["offsets"], truncated.offsets.flatPairs != ints(offsets) {
                    wrong.append("truncation \(maxLength) \(direction) offsets")
                }
                truncationsChecked += 1
            }
            if !wrong.isEmpty {
                mismatches.append("case \(index) \(wrong): \(String(text.prefix(60)).debugDescription)")
            }
        }
        #expect(truncationsChecked > 1000)
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
    }
}
