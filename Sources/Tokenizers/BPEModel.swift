import JSON

// The BPE model of tokenizer.json: vocab, ranked merges, byte fallback and unknown handling, and the merge order of
// Hugging Face's `Word::merge_all` (a min-heap of (rank, position) over the initial symbols; see gemma3-spec.md §5.3).

/// Token ids with scalar spans relative to the piece they were cut from.
struct PieceTokens {
    var ids: [Int32] = []
    var starts: [Int32] = []
    var ends: [Int32] = []

    @inline(__always)
    mutating func append(_ id: Int32, _ start: Int32, _ end: Int32) {
        ids.append(id)
        starts.append(start)
        ends.append(end)
    }

    mutating func removeAll() {
        ids.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }
}

/// Buffers reused across the pieces of one `encode` call.
struct BPEScratch {
    var ids: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    var spanStarts: [Int32] = []
    var spanEnds: [Int32] = []
    var heap: [MergeCandidate] = []
    var bytes: [UInt8] = []
}

/// Merges parsed but not yet resolved to ids. Resolving a few hundred at once lets the CPU overlap the cache misses
/// of their independent vocab lookups: the 1.5 million lookups are most of the load time.
private struct MergeBatch {
    static let capacity = 256
    var table: PairTable
    /// The left, right and merged token bytes of each merge, back to back.
    var bytes: [UInt8] = []
    /// End offset in `bytes` of each string (three per merge).
    var ends: [Int32] = []
    var rank: Int32 = 0
    private var hashes: [UInt64] = []
    private var ids: [Int32] = []

    init(table: PairTable) {
        self.table = table
    }

    mutating func flush(_ lookup: TokenLookup) throws {
        hashes.removeAll(keepingCapacity: true)
        ids.removeAll(keepingCapacity: true)
        bytes.withUnsafeBufferPointer { bytes in
            var start = 0
            for end in ends {
                hashes.append(TokenTable.hash(UnsafeBufferPointer(rebasing: bytes[start..<Int(end)])))
                start = Int(end)
            }
            start = 0
            for (i, end) in ends.enumerated() {
                ids.append(
                    lookup.idOfPresentKey(UnsafeBufferPointer(rebasing: bytes[start..<Int(end)]), hash: hashes[i]) ?? -1
                )
                start = Int(end)
            }
        }
        if let missing = ids.firstIndex(of: -1) {
            let start = missing == 0 ? 0 : Int(ends[missing - 1])
            let text = String(decoding: bytes[start..<Int(ends[missing])], as: UTF8.self)
            throw TokenizerError.invalidTokenizer("merge token \"\(text)\" is not in the vocab")
        }
        for i in stride(from: 0, to: ids.count, by: 3) {
            table.insert(left: ids[i], right: ids[i + 1], rank: rank, merged: ids[i + 2])
            rank += 1
        }
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }
}

/// A queued merge: `key` is `rank << 32 | position`, so ordering by key is HF's (rank, then position) order.
struct MergeCandidate {
    var key: UInt64
    /// The (left, right) ids the rule was found for, packed as in `PairTable.key`.
    var pair: UInt64
    var merged: Int32
}

struct BPEModel: Sendable {
    /// Scalars below this are looked up in a flat table instead of hashing their UTF-8 bytes.
    static let directScalarLimit = 0x20000

    let vocab: TokenTable
    let merges: PairTable
    /// Token text by id; nil where the vocab has no such id.
    let tokenStrings: [String?]
    /// Id of the one-scalar token for each scalar below `directScalarLimit`, or -1.
    let scalarIDs: [Int32]
    /// Ids of `<0x00>`…`<0xFF>` (-1 where missing); empty when byte fallback is off.
    let byteFallbackIDs: [Int32]
    let unknownID: Int32?
    let fuseUnknown: Bool
    let continuingSubwordPrefix: [UInt8]
    let endOfWordSuffix: [UInt8]
    let ignoreMerges: Bool

    init(vocab: TokenTable, merges: PairTable, settings: [String: JSONValue]) throws {
        self.vocab = vocab
        self.merges = merges
        // Ids index tables sized by the vocab, so they must lie inside it (a file is free to say 2^31).
        if let id = vocab.entryIDs.first(where: { $0 < 0 || Int($0) >= vocab.count }) {
            throw TokenizerError.invalidTokenizer("vocab id \(id) is outside 0..<\(vocab.count), the vocab's size")
        }
        var strings = [String?](repeating: nil, count: vocab.count)
        var scalarIDs = [Int32](repeating: -1, count: BPEModel.directScalarLimit)
        for entry in 0..<vocab.count {
            let id = vocab.entryIDs[entry]
            let text = String(decoding: vocab.entryBytes(entry), as: UTF8.self)
            strings[Int(id)] = text
            var scalars = text.unicodeScalars.makeIterator()
            if let first = scalars.next(), scalars.next() == nil, Int(first.value) < BPEModel.directScalarLimit {
                scalarIDs[Int(first.value)] = id
            }
        }
        tokenStrings = strings
        self.scalarIDs = scalarIDs

        if settings["byte_fallback"]?.boolValue == true {
            byteFallbackIDs = (0..<256).map { byte in
                vocab.lookup(Array(BPEModel.byteTokenName(UInt8(byte)).utf8)) ?? -1
            }
        } else {
            byteFallbackIDs = []
        }
        if let unknown = settings["unk_token"]?.stringValue {
            guard let id = vocab.lookup(Array(unknown.utf8)) else {
                throw TokenizerError.invalidTokenizer("unk_token \"\(unknown)\" is not in the vocab")
            }
            unknownID = id
        } else {
            unknownID = nil
        }
        fuseUnknown = settings["fuse_unk"]?.boolValue ?? false
        continuingSubwordPrefix = Array((settings["continuing_subword_prefix"]?.stringValue ?? "").utf8)
        endOfWordSuffix = Array((settings["end_of_word_suffix"]?.stringValue ?? "").utf8)
        ignoreMerges = settings["ignore_merges"]?.boolValue ?? false
    }

    /// `<0xE2>`: the byte-fallback token for one byte.
    static func byteTokenName(_ byte: UInt8) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        return String(
            decoding: [
                UInt8(ascii: "<"), UInt8(ascii: "0"), UInt8(ascii: "x"),
                hex[Int(byte >> 4)], hex[Int(byte & 15)], UInt8(ascii: ">"),
            ], as: UTF8.self)
    }

    static func readVocab(_ reader: inout JSONReader, into vocab: inout TokenTable) throws {
        var key: [UInt8] = []
        guard try reader.enterObject() else { return }
        repeat {
            key.removeAll(keepingCapacity: true)
            try reader.readKey(into: &key)
            let id = try reader.readInt()
            guard id >= 0, id < Int(Int32.max) else { throw reader.invalid("token id \(id) out of range") }
            key.withUnsafeBufferPointer { vocab.insert($0, id: Int32(id)) }
        } while try reader.nextMember()
    }

    /// Reads merges as `["a", "b"]` pairs or legacy `"a b"` strings; rank is the index in the list.
    static func readMerges(_ reader: inout JSONReader, vocab: TokenTable, prefix: JSONValue?) throws
        -> PairTable
    {
        let prefixLength = prefix?.stringValue?.utf8.count ?? 0
        var batch = MergeBatch(table: PairTable(capacityFor: max(1 << 10, vocab.count * 2)))
        try vocab.withLookup { lookup in
            try reader.readArray { reader in
                let leftStart = batch.bytes.count
                if try reader.peek() == UInt8(ascii: "[") {
                    try reader.expect(UInt8(ascii: "["))
                    try reader.readString(into: &batch.bytes)
                    batch.ends.append(Int32(batch.bytes.count))
                    try reader.expect(UInt8(ascii: ","))
                    try reader.readString(into: &batch.bytes)
                    batch.ends.append(Int32(batch.bytes.count))
                    try reader.expect(UInt8(ascii: "]"))
                } else {
                    try reader.readString(into: &batch.bytes)
                    let line = batch.bytes[leftStart...]
                    let spaces = line.indices.filter { line[$0] == UInt8(ascii: " ") }
                    guard spaces.count == 1 else {
                        throw TokenizerError.invalidTokenizer(
                            "merge \"\(String(decoding: line, as: UTF8.self))\" is not two tokens")
                    }
                    batch.bytes.remove(at: spaces[0])
                    batch.ends.append(Int32(spaces[0]))
                    batch.ends.append(Int32(batch.bytes.count))
                }
                let rightStart = Int(batch.ends[batch.ends.count - 2])
                let rightEnd = batch.bytes.count
                // Element by element: appending a slice of the array itself would copy the whole buffer.
                for i in leftStart..<rightStart { batch.bytes.append(batch.bytes[i]) }
                for i in min(rightStart + prefixLength, rightEnd)..<rightEnd { batch.bytes.append(batch.bytes[i]) }
                batch.ends.append(Int32(batch.bytes.count))
                if batch.ends.count >= 3 * MergeBatch.capacity { try batch.flush(lookup) }
            }
            try batch.flush(lookup)
        }
        return batch.table
    }

    /// Appends the tokens of one pre-token (`scalars`) to `output`.
    func tokenize(_ scalars: UnsafeBufferPointer<UInt32>, into output: inout PieceTokens, scratch: inout BPEScratch) {
        let n = scalars.count
        guard n > 0 else { return }
        if ignoreMerges {
            scratch.bytes.removeAll(keepingCapacity: true)
            for s in scalars { appendUTF8(Unicode.Scalar(s)!, to: &scratch.bytes) }
            if let id = vocab.lookup(scratch.bytes) {
                output.append(id, 0, Int32(n))
                return
            }
        }
        buildSymbols(scalars, scratch: &scratch)
        let count = scratch.ids.count
        guard count > 0 else { return }
        merges.withLookup { lookup in
            scratch.ids.withUnsafeMutableBufferPointer { ids in
                scratch.previous.withUnsafeMutableBufferPointer { previous in
                    scratch.next.withUnsafeMutableBufferPointer { next in
                        BPEModel.mergeAll(ids: ids, previous: previous, next: next, heap: &scratch.heap, lookup: lookup)
                    }
                }
            }
        }
        var position = 0
        while position >= 0 {
            let following = Int(scratch.next[position])
            let last = following >= 0 ? following - 1 : count - 1
            output.append(scratch.ids[position], scratch.spanStarts[position], scratch.spanEnds[last])
            position = following
        }
    }

    /// The initial symbols: one per scalar found in the vocab, else one per UTF-8 byte, else the (fused) unknown.
    private func buildSymbols(_ scalars: UnsafeBufferPointer<UInt32>, scratch: inout BPEScratch) {
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.spanStarts.removeAll(keepingCapacity: true)
        scratch.spanEnds.removeAll(keepingCapacity: true)
        let direct = continuingSubwordPrefix.isEmpty && endOfWordSuffix.isEmpty
        var pendingUnknown: (id: Int32, start: Int32, end: Int32)?
        let n = scalars.count
        for k in 0..<n {
            let scalar = scalars[k]
            let position = Int32(k)
            var id: Int32 = -1
            var lookupBytes: [UInt8] = []
            if direct, scalar < UInt32(BPEModel.directScalarLimit) {
                id = scalarIDs[Int(scalar)]
                if id < 0, !byteFallbackIDs.isEmpty { appendUTF8(Unicode.Scalar(scalar)!, to: &lookupBytes) }
            } else {
                if k > 0 { lookupBytes.append(contentsOf: continuingSubwordPrefix) }
                appendUTF8(Unicode.Scalar(scalar)!, to: &lookupBytes)
                if k == n - 1 { lookupBytes.append(contentsOf: endOfWordSuffix) }
                id = vocab.lookup(lookupBytes) ?? -1
            }
            if id >= 0 {
                if let unknown = pendingUnknown {
                    appendSymbol(unknown.id, unknown.start, unknown.end, scratch: &scratch)
                    pendingUnknown = nil
                }
                appendSymbol(id, position, position + 1, scratch: &scratch)
                continue
            }
            if !byteFallbackIDs.isEmpty, lookupBytes.allSatisfy({ byteFallbackIDs[Int($0)] >= 0 }) {
                // As in HF, a pending unknown is not flushed before byte tokens.
                for byte in lookupBytes {
                    appendSymbol(byteFallbackIDs[Int(byte)], position, position + 1, scratch: &scratch)
                }
                continue
            }
            if let unknownID {
                if let unknown = pendingUnknown {
                    if fuseUnknown {
                        pendingUnknown = (unknown.id, unknown.start, position + 1)
                        continue
                    }
                    appendSymbol(unknown.id, unknown.start, unknown.end, scratch: &scratch)
                }
                pendingUnknown = (unknownID, position, position + 1)
            }
        }
        if let unknown = pendingUnknown { appendSymbol(unknown.id, unknown.start, unknown.end, scratch: &scratch) }
        let count = scratch.ids.count
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        for i in 0..<count {
            scratch.previous.append(Int32(i) - 1)
            scratch.next.append(i + 1 < count ? Int32(i + 1) : -1)
        }
    }

    @inline(__always)
    private func appendSymbol(_ id: Int32, _ start: Int32, _ end: Int32, scratch: inout BPEScratch) {
        scratch.ids.append(id)
        scratch.spanStarts.append(start)
        scratch.spanEnds.append(end)
    }

    /// HF `Word::merge_all` without dropout. Dead symbols get id -1; `next`/`previous` link the live ones.
    private static func mergeAll(
        ids: UnsafeMutableBufferPointer<Int32>, previous: UnsafeMutableBufferPointer<Int32>,
        next: UnsafeMutableBufferPointer<Int32>, heap: inout [MergeCandidate], lookup: PairLookup
    ) {
        heap.removeAll(keepingCapacity: true)
        let count = ids.count
        for i in 0..<(count - 1) {
            let rule = lookup.find(ids[i], ids[i + 1])
            if rule != UInt64.max {
                heap.append(
                    MergeCandidate(
                        key: rule & 0xFFFF_FFFF_0000_0000 | UInt64(i), pair: PairTable.key(ids[i], ids[i + 1]),
                        merged: Int32(truncatingIfNeeded: rule)))
            }
        }
        guard !heap.isEmpty else { return }
        heap.withUnsafeMutableBufferPointer { MinHeap.heapify($0) }
        var heapCount = heap.count
        while heapCount > 0 {
            let top = heap.withUnsafeMutableBufferPointer { MinHeap.pop($0, count: &heapCount) }
            let position = Int(UInt32(truncatingIfNeeded: top.key))
            let left = ids[position]
            if left < 0 { continue }
            let right = Int(next[position])
            if right < 0 { continue }
            // HF re-reads the rule of the current pair and merges if it yields the queued id. When the pair is the one
            // queued, that holds without a lookup; otherwise the lookup decides (another pair may yield the same id).
            if PairTable.key(left, ids[right]) != top.pair {
                let rule = lookup.find(left, ids[right])
                if rule == UInt64.max || Int32(truncatingIfNeeded: rule) != top.merged { continue }
            }
            ids[position] = top.merged
            ids[right] = -1
            let afterRight = next[right]
            next[position] = afterRight
            if afterRight >= 0 { previous[Int(afterRight)] = Int32(position) }
            let before = previous[position]
            if before >= 0 {
                let rule = lookup.find(ids[Int(before)], top.merged)
                if rule != UInt64.max {
                    push(
                        MergeCandidate(
                            key: rule & 0xFFFF_FFFF_0000_0000 | UInt64(before),
                            pair: PairTable.key(ids[Int(before)], top.merged),
                            merged: Int32(truncatingIfNeeded: rule)),
                        heap: &heap, count: &heapCount)
                }
            }
            if afterRight >= 0 {
                let rule = lookup.find(top.merged, ids[Int(afterRight)])
                if rule != UInt64.max {
                    push(
                        MergeCandidate(
                            key: rule & 0xFFFF_FFFF_0000_0000 | UInt64(position),
                            pair: PairTable.key(top.merged, ids[Int(afterRight)]),
                            merged: Int32(truncatingIfNeeded: rule)),
                        heap: &heap, count: &heapCount)
                }
            }
        }
    }

    @inline(__always)
    private static func push(_ candidate: MergeCandidate, heap: inout [MergeCandidate], count: inout Int) {
        if count < heap.count {
            heap[count] = candidate
        } else {
            heap.append(candidate)
        }
        count += 1
        let c = count
        heap.withUnsafeMutableBufferPointer { MinHeap.siftUp($0, from: c - 1) }
    }
}

/// A binary min-heap on `MergeCandidate.key` over the first `count` elements of a buffer.
enum MinHeap {
    static func heapify(_ heap: UnsafeMutableBufferPointer<MergeCandidate>) {
        var i = heap.count / 2 - 1
        while i >= 0 {
            siftDown(heap, from: i, count: heap.count)
            i -= 1
        }
    }

    @inline(__always)
    static func pop(_ heap: UnsafeMutableBufferPointer<MergeCandidate>, count: inout Int) -> MergeCandidate {
        let top = heap[0]
        count -= 1
        if count > 0 {
            heap[0] = heap[count]
            siftDown(heap, from: 0, count: count)
        }
        return top
    }

    @inline(__always)
    static func siftUp(_ heap: UnsafeMutableBufferPointer<MergeCandidate>, from index: Int) {
        let item = heap[index]
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[parent].key <= item.key { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = item
    }

    @inline(__always)
    static func siftDown(_ heap: UnsafeMutableBufferPointer<MergeCandidate>, from index: Int, count: Int) {
        let item = heap[index]
        var i = index
        while true {
            var child = 2 * i + 1
            if child >= count { break }
            if child + 1 < count, heap[child + 1].key < heap[child].key { child += 1 }
            if item.key <= heap[child].key { break }
            heap[i] = heap[child]
            i = child
        }
        heap[i] = item
    }
}
