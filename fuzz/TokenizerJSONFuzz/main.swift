// libFuzzer harness for tokenizer.json loading, built by `scripts/check/fuzz tokenizer-json` with the Tokenizers
// sources (-Ounchecked, as in the release build).
//
// Input: tokenizer.json bytes, optionally followed by a NUL and a text to encode (JSON text never holds a raw NUL).
// Each input runs on a thread with a 512 KB stack (FUZZ_STACK_KB), so nesting within -max_len can overflow it.
// 1. The JSON module's reader on the bytes: `readValue` and `skipValue` (what the loader uses over members it does
//    not read, and over the vocab and merges on a cached load) accept the same values, stop at the same byte and fail
//    with the same error; a value re-serialised reads back equal.
// 2. `Tokenizer(tokenizerJSONPath:cacheDirectory: nil)` on the bytes, written to a tmpfs file (the loader only takes
//    a path). Whatever loads must keep checkGenericEncoding's invariants on the input's text and a few fixed texts,
//    and decode arbitrary ids without crashing.
// 3. For one input in eight that loads: the binary table cache round trip. Loading with a cache directory writes the
//    cache; loading again reads it; both tokenizers must encode every text identically.
// Seeds: the tiny tokenizer.json fixtures of Tests/*/Fixtures (never the real, Gemma-licensed one).

import JSON

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var scratch = ""
nonisolated(unsafe) private var jsonPath = ""

private let fixedTexts = ["Hello world", "", " ", "  a  b\t\n\r\nc ", "<bos>é😀 ▁x <unk> <eos>", "ab ab ab abc bca",
                          "\u{0301}e\u{0301} \u{FEFF}\u{10FFFF}\u{0}", String(repeating: "ab", count: 40)]

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    scratch = makeScratchDirectory("tokenizer-json")
    jsonPath = scratch + "/tokenizer.json"
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // The scanner and the loader recurse on nesting: on a 512 KB stack (FUZZ_STACK_KB) a few KB of brackets reach
    // a depth that overflows it, which on main's 8 MB would take more than -max_len allows.
    onThread(stackKilobytes: fuzzStackKilobytes) { testOneInput(UnsafeBufferPointer(start: data, count: size)) }
    return 0
}

private func testOneInput(_ input: UnsafeBufferPointer<UInt8>) {
    let size = input.count
    let split = input.firstIndex(of: 0) ?? size
    let json = UnsafeBufferPointer(rebasing: input[..<split])
    let text = split < size ? textFromInput(input[(split + 1)...]) : nil
    checkReader(json)

    writeFileBytes(jsonPath, json)
    guard let tokenizer = try? Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: nil) else { return }
    let hash = inputHash(input)
    let texts = (text.map { [$0] } ?? []) + fixedTexts
    for (i, text) in texts.enumerated() {
        checkGenericEncoding(tokenizer, text, truncateTo: Int((hash >> UInt64(i * 4)) % 12))
    }
    checkDecodeOfArbitraryIDs(tokenizer, input.suffix(36))

    if hash % 8 == 0 { checkCacheRoundTrip(parsed: tokenizer, texts: texts) }
}

private func checkReader(_ json: UnsafeBufferPointer<UInt8>) {
    var reader = JSONReader(bytes: json)
    var skipper = JSONReader(bytes: json)
    let value: JSONValue
    do {
        value = try reader.readValue()
    } catch {
        let readError = error
        do {
            try skipper.skipValue()
            fuzzFail("readValue failed (\(readError)) but skipValue passed the value, up to byte \(skipper.position)")
        } catch {
            fuzzCheck(readError == error, "readValue failed with \(readError), skipValue with \(error)")
        }
        return
    }
    do {
        try skipper.skipValue()
    } catch {
        fuzzFail("readValue read a value up to byte \(reader.position) but skipValue failed: \(error)")
    }
    fuzzCheck(skipper.position == reader.position,
              "readValue stopped at byte \(reader.position), skipValue at \(skipper.position)")

    var text: [UInt8] = []
    serialize(value, into: &text)
    do {
        let reread = try JSONValue.parse(text)
        fuzzCheck(reread == value, "re-serialised JSON reads back differently: \(String(decoding: text.prefix(200), as: UTF8.self))")
    } catch {
        fuzzFail("re-serialised JSON does not read back (\(error)): \(String(decoding: text.prefix(200), as: UTF8.self))")
    }
}

/// JSON text for a value (the reader has no writer): strings escaped, numbers as Swift's shortest round-trip form.
private func serialize(_ value: JSONValue, into out: inout [UInt8]) {
    switch value {
    case .null: out += "null".utf8
    case .bool(let flag): out += (flag ? "true" : "false").utf8
    case .number(let number, _):
        if number.isInfinite {
            out += (number < 0 ? "-1e999" : "1e999").utf8
        } else if number == number.rounded(), abs(number) < 1e15 {
            out += String(Int64(number)).utf8
        } else {
            out += number.description.utf8
        }
    case .string(let string): serializeString(string, into: &out)
    case .array(let elements):
        out.append(UInt8(ascii: "["))
        for (i, element) in elements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            serialize(element, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    case .object(let members):
        out.append(UInt8(ascii: "{"))
        for (i, (key, element)) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            serializeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            serialize(element, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

private func serializeString(_ string: String, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in string.utf8 {
        switch byte {
        case 0x22, 0x5C: out += [0x5C, byte]
        case 0x00..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
}

/// A tokenizer rebuilt through the binary table cache must encode exactly as the parsed one.
private func checkCacheRoundTrip(parsed: Tokenizer, texts: [String]) {
    let cachePath = TokenizerCache.path(for: jsonPath, in: scratch)
    unlink(cachePath)
    guard let writer = try? Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: scratch) else {
        fuzzFail("the tokenizer.json loaded without a cache directory but not with one")
    }
    fuzzCheck(!writer.loadedFromCache, "a tokenizer loaded from a cache that was just deleted")
    guard let cached = try? Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: scratch) else {
        fuzzFail("the tokenizer.json no longer loads once its cache was written")
    }
    // Only BPE tables are cached (a WordPiece vocab parses in milliseconds): the others load from the JSON twice.
    let isBPE: Bool
    if case .bpe = parsed.model { isBPE = true } else { isBPE = false }
    fuzzCheck(cached.loadedFromCache == isBPE, "the cache written by the first load was used: \(cached.loadedFromCache), BPE: \(isBPE)")
    fuzzCheck(cached.vocabularySize == parsed.vocabularySize, "the cached vocab has \(cached.vocabularySize) tokens, the parsed one \(parsed.vocabularySize)")
    for text in texts {
        let a = parsed.encode(text), b = cached.encode(text)
        fuzzCheck(a == b, "cached and parsed tokenizers encode \(text.debugDescription) differently: \(a.ids.prefix(20)) vs \(b.ids.prefix(20))")
        fuzzCheck(parsed.decode(a.ids, skipSpecialTokens: false).unicodeScalars.elementsEqual(cached.decode(b.ids, skipSpecialTokens: false).unicodeScalars),
                  "cached and parsed tokenizers decode differently")
    }
    unlink(cachePath)
}
