// libFuzzer harness for the binary tokenizer table cache (TokenizerCache.load), built by
// `scripts/check/fuzz tokenizer-cache` with the Tokenizers sources (-Ounchecked, as in the release build).
//
// The cache belongs to one tokenizer.json: FUZZ_TINY_TOKENIZER (a tiny fixture; scripts/check/fuzz passes
// Tests/TokenizersTests/Fixtures/tiny-tokenizer.json), copied to a tmpfs directory. Each input becomes the cache file
// next to it (the loader only takes a path), shaped by its first byte so that most inputs get past the checksum:
//   byte % 4 == 0   the rest is the whole file, as is
//   byte % 4 == 1   the rest plus its checksum (the file's last word)
//   byte % 4 >= 2   magic, the tokenizer.json's content hash and the two slot strides, then the rest, then the
//                   checksum: the fuzzer works on the tables themselves
// Then `TokenizerCache.load`; when it accepts the file, a Tokenizer is loaded through it and must keep
// checkGenericEncoding's invariants on fixed texts and the input's tail, and decode arbitrary ids. No crash, no hang
// (-timeout), no absurd allocation (-malloc_limit_mb).
//
// FUZZ_MAKE_SEEDS=DIR: write seeds (the real cache of the fixture in the three shapes) to DIR and exit.

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var scratch = ""
nonisolated(unsafe) private var jsonPath = ""
nonisolated(unsafe) private var cachePath = ""
nonisolated(unsafe) private var jsonHash: UInt64 = 0

/// TokenizerCache's format version word ("!SWTOK01"); private there, so repeated here (checked against a real cache
/// when seeds are made).
private let cacheMagic: UInt64 = 0x3130_4B4F_5457_5321
private let headerWords = 4
private let fixedTexts = ["Hello world", "", "  a  b\t\nc ", "<bos>é😀 ▁x <unk>", "ab ab abc bca", String(repeating: "ab", count: 30)]

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    guard let source = environment("FUZZ_TINY_TOKENIZER"), let json = readFileBytes(source) else {
        fuzzFail("set FUZZ_TINY_TOKENIZER to a tiny tokenizer.json fixture (scripts/check/fuzz tokenizer-cache does)")
    }
    scratch = makeScratchDirectory("tokenizer-cache")
    jsonPath = scratch + "/tokenizer.json"
    cachePath = TokenizerCache.path(for: jsonPath, in: scratch)
    writeFileBytes(jsonPath, json)
    jsonHash = json.withUnsafeBufferPointer { TokenizerCache.contentHash($0) }
    if let directory = environment("FUZZ_MAKE_SEEDS") {
        makeSeeds(directory)
        _exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let body = input[1...]
    var file: [UInt8] = []
    switch input[0] % 4 {
    case 0:
        file = Array(body)
    case 1:
        file = Array(body)
        appendWord(file.withUnsafeBufferPointer { TokenizerCache.contentHash($0) }, to: &file)
    default:
        for word in [cacheMagic, jsonHash, UInt64(MemoryLayout<TokenSlot>.stride), UInt64(MemoryLayout<PairSlot>.stride)] {
            appendWord(word, to: &file)
        }
        file += body
        appendWord(file.withUnsafeBufferPointer { TokenizerCache.contentHash($0) }, to: &file)
    }
    writeFileBytes(cachePath, file)

    guard case .loaded = TokenizerCache.load(path: cachePath, contentHash: jsonHash) else { return 0 }
    // The tables passed the loader's checks, so the tokenizer is built on them (not on the JSON).
    guard let tokenizer = try? Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: scratch) else { return 0 }
    fuzzCheck(tokenizer.loadedFromCache, "TokenizerCache.load accepted the file but the tokenizer did not use it")
    let tail = textFromInput(input.suffix(24))
    for (i, text) in ([tail] + fixedTexts).enumerated() {
        checkGenericEncoding(tokenizer, text, truncateTo: (size + i) % 10)
    }
    checkDecodeOfArbitraryIDs(tokenizer, input.suffix(30))
    return 0
}

private func appendWord(_ word: UInt64, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: word.littleEndian) { bytes += $0 }
}

/// Seeds from the fixture's real tables, in the three input shapes plus a few variants. A real cache holds the
/// 2^19-slot vocab table every load starts with (8 MB); the seeds re-place the same entries in the smallest
/// power-of-two tables the loader accepts, so they stay a few KB.
private func makeSeeds(_ directory: String) {
    unlink(cachePath)
    guard (try? Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: scratch)) != nil,
          let real = readFileBytes(cachePath), real.count > 8 * (headerWords + 1)
    else { fuzzFail("the fixture did not load or wrote no cache") }
    let magic = real.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    fuzzCheck(magic == cacheMagic, "TokenizerCache's magic is now \(String(magic, radix: 16)): update cacheMagic")
    guard case let .loaded(vocab, merges) = TokenizerCache.load(path: cachePath, contentHash: jsonHash) else {
        fuzzFail("the cache just written does not load")
    }
    unlink(cachePath)

    // The vocab: same storage, starts and ids; slots re-placed by hash with linear probing, as TokenTable does.
    var slotCount = 2
    while slotCount < vocab.count * 2 { slotCount <<= 1 }
    var slots = [TokenSlot](repeating: .empty, count: slotCount)
    for entry in 0..<vocab.count {
        let hash = vocab.storage.withUnsafeBufferPointer {
            TokenTable.hash(UnsafeBufferPointer(rebasing: $0[Int(vocab.entryStarts[entry])..<Int(vocab.entryStarts[entry + 1])]))
        }
        var slot = Int(truncatingIfNeeded: hash) & (slotCount - 1)
        while slots[slot].entry >= 0 { slot = (slot + 1) & (slotCount - 1) }
        slots[slot] = TokenSlot(hash: hash, entry: Int32(entry), id: vocab.entryIDs[entry])
    }
    // The merges: the same pairs in a table of 4/3 their count, placed at PairTable.home with linear probing.
    let pairs = merges.slots.filter { $0.key != UInt64.max }
    var bits = 1
    while (1 << bits) * 3 < pairs.count * 4 + 4 { bits += 1 }
    let shift = UInt64(64 - bits)
    var pairSlots = [PairSlot](repeating: PairSlot(key: UInt64.max, value: 0), count: 1 << bits)
    for pair in pairs {
        var slot = PairTable.home(pair.key, shift: shift)
        while pairSlots[slot].key != UInt64.max { slot = (slot + 1) & (pairSlots.count - 1) }
        pairSlots[slot] = pair
    }

    func payload(collision: UInt64 = 0, shift: UInt64 = shift, pairCount: Int = pairs.count, pairSlots: [PairSlot] = pairSlots) -> [UInt8] {
        var out: [UInt8] = []
        func array<T>(_ values: [T]) {
            appendWord(UInt64(values.count), to: &out)
            values.withUnsafeBytes { out += $0 }
        }
        appendWord(collision, to: &out)
        appendWord(shift, to: &out)
        appendWord(UInt64(pairCount), to: &out)
        array(vocab.storage)
        array(vocab.entryStarts)
        array(vocab.entryIDs)
        array(slots)
        array(pairSlots)
        return out
    }
    let header = [cacheMagic, jsonHash, UInt64(MemoryLayout<TokenSlot>.stride), UInt64(MemoryLayout<PairSlot>.stride)]
    var whole: [UInt8] = []
    for word in header { appendWord(word, to: &whole) }
    whole += payload()
    writeFileBytes(directory + "/file-without-checksum", [1] + whole)
    appendWord(whole.withUnsafeBufferPointer { TokenizerCache.contentHash($0) }, to: &whole)
    writeFileBytes(directory + "/raw-file", [0] + whole)
    writeFileBytes(directory + "/tables", [2] + payload())
    writeFileBytes(directory + "/tables-hash-collision", [3] + payload(collision: 1))
    writeFileBytes(directory + "/tables-no-pairs", [2] + payload(shift: 63, pairCount: 0,
                                                                  pairSlots: [PairSlot](repeating: PairSlot(key: UInt64.max, value: 0), count: 2)))
    printError("tokenizer-cache: seeds written to \(directory) (vocab \(vocab.count) entries in \(slotCount) slots, "
               + "\(pairs.count) merges in \(pairSlots.count) slots; the real cache is \(real.count) bytes)")
}
