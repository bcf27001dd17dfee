// libFuzzer harness for `Tokenizer.encode`/`decode` on the real EmbeddingGemma tokenizer.json, built by
// `scripts/check/fuzz tokenizer` with the Tokenizers sources (same flags as the release build: -Ounchecked, so ASan is
// what catches an out-of-bounds access the optimiser no longer checks).
//
// Environment:
//   FUZZ_TOKENIZER_JSON   the real tokenizer.json (scripts/check/fuzz passes $(scripts/fetch-model.sh)/tokenizer.json)
//   FUZZ_TOKENIZER_CASES  colon-separated JSON-lines files of outputs frozen from Hugging Face `tokenizers`
//                         (Tests/TokenizersTests/Fixtures/golden-tokenizer.jsonl, tokenizer-cases.jsonl). At start-up
//                         every case is replayed (ids, offsets, tokens, decodes, truncations) and run through the
//                         invariants below; then an input whose text is one of them is checked against its frozen ids.
//   FUZZ_REPLAY_ONLY=1    replay the cases and exit (status 0 when all match).
//   FUZZ_REPLAY=0         only load the cases for the per-input check (start-up in 3 s instead of 17 s).
//
// Each input is the text (UTF-8; bad sequences become U+FFFD). Invariants, on top of checkGenericEncoding's:
// - with the template, the ids are <bos> + the plain ids + <eos>, and the specials' offsets are 0..<0;
// - the plain tokens' offsets tile the text in order: the first starts at 0, each starts where the previous ended
//   (or repeats the previous range: the byte-fallback pieces of one character share its range), the last ends at the
//   text's scalar count, and none is empty (Gemma's normalizer maps scalars one to one and byte fallback leaves no
//   character without a token);
// - each token string is the vocab's (or added token's) string for its id; ids >= vocabularySize are added tokens;
// - the round trip: decode(plain ids, keeping specials) is the text with U+2581 (▁) replaced by a space, scalar for
//   scalar. That is the real invariant of this tokenizer: its normalizer turns " " into "▁" and its decoder turns
//   every "▁" back into " " (so a literal ▁ comes back as a space), nothing is stripped or lost (byte fallback, no
//   <unk>), and added tokens decode to their content. Skipping specials instead drops every special token's text
//   wherever it appeared (HF's `decoded` in the fixtures), which the replay checks against the frozen values.

import JSON

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var tokenizer: Tokenizer!
/// Frozen HF ids (with specials) by the text's scalars.
nonisolated(unsafe) private var frozenIDs: [[UInt32]: [Int32]] = [:]
nonisolated(unsafe) private var bosID: Int32 = 2
nonisolated(unsafe) private var eosID: Int32 = 1

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    guard let path = environment("FUZZ_TOKENIZER_JSON") else {
        fuzzFail("set FUZZ_TOKENIZER_JSON to the real tokenizer.json (scripts/check/fuzz tokenizer does)")
    }
    do {
        tokenizer = try Tokenizer(tokenizerJSONPath: path, cacheDirectory: nil)
    } catch {
        fuzzFail("cannot load \(path): \(error)")
    }
    bosID = tokenizer.id(forToken: "<bos>") ?? 2
    eosID = tokenizer.id(forToken: "<eos>") ?? 1
    var replayed = 0
    let check = environment("FUZZ_REPLAY") != "0"
    for file in (environment("FUZZ_TOKENIZER_CASES") ?? "").split(separator: ":").map(String.init) {
        replayed += replayCases(file, check: check)
    }
    if replayed > 0 {
        printError("tokenizer harness: \(replayed) frozen HF cases " + (check ? "replayed and checked" : "loaded (FUZZ_REPLAY=0: not replayed)"))
    }
    // _exit: LeakSanitizer's exit-time check reports the global tokenizer's enum payloads (Swift keeps tags in
    // their pointers' spare bits, so LSan does not see them referenced).
    if environment("FUZZ_REPLAY_ONLY") == "1" { _exit(0) }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = textFromInput(bytes)
    let maxLength = Int(inputHash(bytes) % 24)
    let plain = checkGemmaInvariants(text, truncateTo: maxLength)
    if let expected = frozenIDs[text.unicodeScalars.map(\.value)] {
        fuzzCheck([bosID] + plain.ids + [eosID] == expected, "ids \(plain.ids) differ from the frozen HF ids \(expected)")
    }
    checkDecodeOfArbitraryIDs(tokenizer, bytes.prefix(48))
    return 0
}

@discardableResult
private func checkGemmaInvariants(_ text: String, truncateTo maxLength: Int) -> Encoding {
    let plain = checkGenericEncoding(tokenizer, text, truncateTo: maxLength)
    let full = tokenizer.encode(text, addSpecialTokens: true, maxLength: nil, direction: .right)
    fuzzCheck(full.ids == [bosID] + plain.ids + [eosID], "templated ids are not <bos> + content + <eos>")
    fuzzCheck(full.offsets.first == 0..<0 && full.offsets.last == 0..<0, "a template special has offsets other than 0..<0")

    let scalarCount = text.unicodeScalars.count
    var previous: Range<Int>?
    for (i, range) in plain.offsets.enumerated() {
        fuzzCheck(!range.isEmpty, "token \(i) (id \(plain.ids[i])) has an empty range \(range)")
        if let previous {
            fuzzCheck(range == previous || range.lowerBound == previous.upperBound,
                      "token \(i) (id \(plain.ids[i])) has offsets \(range) after \(previous): a gap or an overlap")
        } else {
            fuzzCheck(range.lowerBound == 0, "the first token starts at \(range.lowerBound), not 0")
        }
        previous = range
        fuzzCheck(tokenizer.token(forID: plain.ids[i]) == plain.tokens[i],
                  "token \(i) is \(plain.tokens[i].debugDescription) but id \(plain.ids[i]) is \(String(describing: tokenizer.token(forID: plain.ids[i])))")
    }
    fuzzCheck((previous?.upperBound ?? 0) == scalarCount,
              "the tokens cover \(previous?.upperBound ?? 0) of \(scalarCount) scalars")

    let decoded = tokenizer.decode(plain.ids, skipSpecialTokens: false)
    let expected = text.unicodeScalars.map { $0.value == 0x2581 ? 0x20 : $0.value }
    fuzzCheck(decoded.unicodeScalars.map(\.value) == expected,
              "round trip: decode(encode(\(text.debugDescription))) is \(decoded.debugDescription)")
    return plain
}

/// Replays one JSON-lines file of frozen HF outputs as the parity tests do; returns the number of cases.
private func replayCases(_ path: String, check: Bool) -> Int {
    guard let file = readFileBytes(path) else { fuzzFail("cannot read the frozen cases \(path)") }
    var count = 0
    for line in file.split(separator: 0x0A) where !line.isEmpty {
        let row: JSONValue
        do {
            row = try JSONValue.parse(Array(line))
        } catch {
            fuzzFail("\(path): line \(count + 1) is not JSON: \(error)")
        }
        guard let text = row["text"]?.stringValue else { fuzzFail("\(path): line \(count + 1) has no text") }
        let ids = int32s(row["ids"])
        frozenIDs[text.unicodeScalars.map(\.value)] = ids
        count += 1
        if !check { continue }
        let context = "\(path):\(count) \(String(text.prefix(60)).debugDescription)"
        let encoding = tokenizer.encode(text)
        fuzzCheck(encoding.ids == ids, "\(context): ids \(encoding.ids.prefix(30)) differ from HF's \(ids.prefix(30))")
        let plainIDs = row["ids_no_special"].map(int32s) ?? Array(ids.dropFirst().dropLast())
        fuzzCheck(tokenizer.encode(text, addSpecialTokens: false).ids == plainIDs, "\(context): ids without specials differ")
        if let offsets = row["offsets"]?.arrayValue {
            let flat: [Int] = offsets.first?.arrayValue != nil ? offsets.flatMap { ints($0) } : ints(.array(offsets))
            fuzzCheck(encoding.offsets.flatMap { [$0.lowerBound, $0.upperBound] } == flat, "\(context): offsets differ")
        }
        if let tokens = row["tokens"]?.arrayValue {
            fuzzCheck(encoding.tokens == tokens.map { $0.stringValue ?? "" }, "\(context): tokens differ")
        }
        let decoded = row["decoded"]?.stringValue ?? text
        fuzzCheck(sameScalars(tokenizer.decode(ids, skipSpecialTokens: true), decoded), "\(context): decoded text differs")
        // The wide corpus elides "decoded_special" when it is <bos> + decoded + <eos>; the golden file has none.
        let wideFormat = row["tokens"] == nil
        if let decodedSpecial = row["decoded_special"]?.stringValue ?? (wideFormat ? "<bos>" + decoded + "<eos>" : nil) {
            fuzzCheck(sameScalars(tokenizer.decode(ids, skipSpecialTokens: false), decodedSpecial),
                      "\(context): decoded text with specials differs")
        }
        for truncation in row["truncations"]?.arrayValue ?? [] {
            guard let maxLength = truncation["max_length"]?.intValue,
                  let direction = truncation["direction"]?.stringValue.flatMap(TruncationDirection.init(rawValue:))
            else { fuzzFail("\(context): bad truncation \(truncation)") }
            let truncated = tokenizer.encode(text, maxLength: maxLength, direction: direction)
            fuzzCheck(truncated.ids == int32s(truncation["ids"]), "\(context): truncation to \(maxLength) \(direction) differs")
            if let offsets = truncation["offsets"] {
                fuzzCheck(truncated.offsets.flatMap { [$0.lowerBound, $0.upperBound] } == ints(offsets),
                          "\(context): truncation offsets differ")
            }
        }
        // The fuzz invariants must hold on every frozen case too (this is what keeps them honest).
        checkGemmaInvariants(text, truncateTo: count % 24)
    }
    return count
}

private func ints(_ value: JSONValue?) -> [Int] { (value?.arrayValue ?? []).compactMap(\.intValue) }
private func int32s(_ value: JSONValue?) -> [Int32] { ints(value).map { Int32($0) } }
private func sameScalars(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }
