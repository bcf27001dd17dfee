// Invariants of `Tokenizer.encode`/`decode` that hold for any tokenizer.json this module loads; shared by the
// tokenizer, tokenizer-json and tokenizer-cache harnesses (compiled with the Tokenizers sources, so internals are
// visible).

/// Encodes `text` with and without the template and checks what must hold whatever the vocab and pipeline:
/// - ids, tokens, offsets and the special-tokens mask have one entry per token;
/// - every content id is a known id (`token(forID:)` answers): a vocab entry, byte fallback, <unk> or added token;
/// - every offset is a range `lower <= upper` inside the text's Unicode scalars;
/// - the templated encoding is the plain one with the template's specials around it (mask true on exactly those);
/// - truncation keeps a prefix (right) or suffix (left) of the content and the specials;
/// - decoding, with and without specials, returns (a crash or a trap in the decoder chain is the failure).
/// Returns the plain (no specials) encoding for further checks.
@discardableResult
func checkGenericEncoding(_ tokenizer: Tokenizer, _ text: String, truncateTo maxLength: Int) -> Encoding {
    let scalarCount = text.unicodeScalars.count
    let plain = tokenizer.encode(text, addSpecialTokens: false, maxLength: nil, direction: .right)
    let full = tokenizer.encode(text, addSpecialTokens: true, maxLength: nil, direction: .right)
    for (name, encoding) in [("plain", plain), ("templated", full)] {
        let n = encoding.ids.count
        guard encoding.specialTokensMask.count == n else { fuzzFail("\(name) encoding has \(n) ids and \(encoding.specialTokensMask.count) mask entries") }
        fuzzCheck(encoding.tokens.count == n && encoding.offsets.count == n && encoding.specialTokensMask.count == n,
                  "\(name) encoding has ragged arrays: \(n) ids, \(encoding.tokens.count) tokens, "
                  + "\(encoding.offsets.count) offsets, \(encoding.specialTokensMask.count) mask entries")
        for (i, id) in encoding.ids.enumerated() {
            // Template specials are taken from the post-processor as written, unchecked against the vocab (as in HF);
            // callers that embed reject ids outside the vocab (firstIDOutsideVocabulary). Content ids must be known.
            fuzzCheck(encoding.specialTokensMask[i] || (id >= 0 && tokenizer.token(forID: id) != nil),
                      "\(name) token \(i) has id \(id), which no vocab entry or added token has (vocab size \(tokenizer.vocabularySize))")
            let range = encoding.offsets[i]
            fuzzCheck(range.lowerBound >= 0 && range.lowerBound <= range.upperBound && range.upperBound <= scalarCount,
                      "\(name) token \(i) (id \(id)) has offsets \(range.lowerBound)..<\(range.upperBound) outside the "
                      + "\(scalarCount) scalars of the text")
        }
    }
    fuzzCheck(plain.specialTokensMask.allSatisfy { !$0 }, "a plain encoding marks special tokens")
    let content = zip(full.ids, full.specialTokensMask).filter { !$0.1 }.map(\.0)
    fuzzCheck(content == plain.ids, "the templated encoding's content \(content.prefix(20)) differs from the plain one \(plain.ids.prefix(20))")
    let specialsCount = full.ids.count - plain.ids.count

    // Truncation: the content is cut to maxLength - specials (at least 0), from the right or the left.
    let keep = max(0, maxLength - specialsCount)
    for direction in [TruncationDirection.right, .left] {
        let truncated = tokenizer.encode(text, addSpecialTokens: true, maxLength: maxLength, direction: direction)
        let kept = zip(truncated.ids, truncated.specialTokensMask).filter { !$0.1 }.map(\.0)
        let expected = direction == .right ? Array(plain.ids.prefix(keep)) : Array(plain.ids.suffix(keep))
        fuzzCheck(kept == expected && truncated.ids.count - kept.count == specialsCount,
                  "truncation to \(maxLength) from the \(direction) kept \(truncated.ids.prefix(20)), expected the content \(expected.prefix(20)) and \(specialsCount) specials")
    }

    _ = tokenizer.decode(full.ids, skipSpecialTokens: true)
    _ = tokenizer.decode(full.ids, skipSpecialTokens: false)
    return plain
}

/// Arbitrary ids through `decode`, which must drop unknown ones rather than crash.
func checkDecodeOfArbitraryIDs(_ tokenizer: Tokenizer, _ bytes: some Collection<UInt8>) {
    var ids: [Int32] = []
    var iterator = bytes.makeIterator()
    while let a = iterator.next(), let b = iterator.next(), let c = iterator.next() {
        // Mostly ids near the vocab (or just past it), sometimes anything.
        let raw = Int32(a) << 16 | Int32(b) << 8 | Int32(c)
        ids.append(a & 0x80 == 0 ? raw % Int32(max(1, tokenizer.vocabularySize + 8)) : raw &* 257 &- 1)
    }
    _ = tokenizer.decode(ids, skipSpecialTokens: false)
    _ = tokenizer.decode(ids, skipSpecialTokens: true)
}

/// The input as text: valid UTF-8 as is, anything else with U+FFFD for each bad sequence (as a JSON body would
/// arrive after the server's UTF-8 check, which rejects it; the tokenizer only ever sees valid `String`s).
func textFromInput(_ bytes: some Collection<UInt8>) -> String {
    String(decoding: Array(bytes), as: UTF8.self)
}

