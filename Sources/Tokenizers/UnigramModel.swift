import JSON

// The Unigram model of tokenizer.json (SentencePiece: XLM-RoBERTa, T5, mBART, …): each piece has a log-probability
// score and a word becomes the sequence of pieces with the highest total, found by Viterbi over the scalar
// boundaries, as HF `tokenizers`' `Unigram::encode_optimized` does (same order, same tie-breaks, f64 sums).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Buffers reused across the words of one `encode` call.
struct UnigramScratch {
    var bytes: [UInt8] = []
    /// Where each scalar of the word starts in `bytes`, then the byte count.
    var byteStarts: [Int32] = []
    /// Per scalar boundary: the best total score of a path ending there, and that path's last piece.
    var bestScores: [Double] = []
    var bestStarts: [Int32] = []
    var bestIDs: [Int32] = []
    /// The best path's pieces from the end, as (start, end, id) triples.
    var path: [Int32] = []
}

struct UnigramModel: Sendable {
    /// HF's `K_UNK_PENALTY`: an unknown scalar scores this much below the lowest piece.
    static let unknownPenalty = 10.0

    /// Piece bytes → id (a repeated piece has its last id, as HF's map collected from the list).
    let vocab: TokenTable
    /// Piece text by id.
    let tokenStrings: [String?]
    /// Score by id.
    let scores: [Double]
    let trie: PieceTrie
    let unknownID: Int32
    let unknownScore: Double
    /// Ids of `<0x00>`…`<0xFF>`, -1 where missing; empty when byte fallback is off.
    let byteFallbackIDs: [Int32]

    /// The model from its streamed vocab and the other members of the `model` object.
    init(vocab: TokenTable, tokenStrings: [String?], scores: [Double], settings: [String: JSONValue]) throws {
        guard !scores.isEmpty else { throw TokenizerError.invalidTokenizer("Unigram model has an empty vocab") }
        self.vocab = vocab
        self.tokenStrings = tokenStrings
        self.scores = scores
        trie = PieceTrie(vocab)
        guard let unknown = settings["unk_id"], !unknown.isNull else {
            // HF fails the encoding of any text with a scalar outside the vocab then; refusing the file is clearer.
            throw TokenizerError.unsupportedComponent(kind: "Unigram model", type: "without unk_id")
        }
        guard let id = unknown.intValue, id >= 0, id < scores.count else {
            let shown = unknown.intValue.map(String.init) ?? "\(unknown)"
            throw TokenizerError.invalidTokenizer("Unigram unk_id \(shown) is outside 0..<\(scores.count)")
        }
        unknownID = Int32(id)
        unknownScore = scores.min()! - UnigramModel.unknownPenalty
        let byteFallback = settings["byte_fallback"].flatMap { $0.isNull ? nil : $0 }
        guard byteFallback == nil || byteFallback?.boolValue != nil else {
            throw TokenizerError.invalidTokenizer("Unigram byte_fallback must be true or false")
        }
        if byteFallback?.boolValue == true {
            byteFallbackIDs = (0..<256).map { vocab.lookup(Array(BPEModel.byteTokenName(UInt8($0)).utf8)) ?? -1 }
        } else {
            byteFallbackIDs = []
        }
    }

    /// Reads `[["piece", score], …]`: ids are positions; scores must be finite.
    static func readVocab(_ reader: inout JSONReader) throws -> (TokenTable, [String?], [Double]) {
        var table = TokenTable(expectedCount: 1 << 12)
        var strings: [String?] = []
        var scores: [Double] = []
        var piece: [UInt8] = []
        try reader.readArray { reader in
            guard scores.count < Int(Int32.max) else { throw reader.invalid("Unigram vocab too large") }
            piece.removeAll(keepingCapacity: true)
            try reader.expect(UInt8(ascii: "["))
            try reader.readString(into: &piece)
            try reader.expect(UInt8(ascii: ","))
            let score = try reader.readNumber().value
            try reader.expect(UInt8(ascii: "]"))
            guard score.isFinite else {
                throw TokenizerError.invalidTokenizer("Unigram piece \(scores.count) has the score \(score)")
            }
            piece.withUnsafeBufferPointer { table.insert($0, id: Int32(scores.count)) }
            strings.append(String(decoding: piece, as: UTF8.self))
            scores.append(score)
        }
        return (table, strings, scores)
    }

    /// Appends the pieces of one word (`scalars`) to `output`. A run of unknown scalars is one token (HF fuses
    /// them): the vocab's piece if the run is one, else its bytes' `<0xXX>` tokens with byte fallback (each spanning
    /// the whole run, as in HF), else the unknown id.
    func tokenize(_ scalars: UnsafeBufferPointer<UInt32>, into output: inout PieceTokens, scratch: inout UnigramScratch)
    {
        let n = scalars.count
        guard n > 0 else { return }
        scratch.bytes.removeAll(keepingCapacity: true)
        scratch.byteStarts.removeAll(keepingCapacity: true)
        for scalar in scalars {
            scratch.byteStarts.append(Int32(scratch.bytes.count))
            appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: &scratch.bytes)
        }
        scratch.byteStarts.append(Int32(scratch.bytes.count))
        scratch.bestScores.removeAll(keepingCapacity: true)
        scratch.bestScores.append(contentsOf: repeatElement(0, count: n + 1))
        scratch.bestStarts.removeAll(keepingCapacity: true)
        scratch.bestStarts.append(contentsOf: repeatElement(-1, count: n + 1))
        scratch.bestIDs.removeAll(keepingCapacity: true)
        scratch.bestIDs.append(contentsOf: repeatElement(-1, count: n + 1))

        trie.withWalker { walker in
            scratch.bytes.withUnsafeBufferPointer { bytes in
                scratch.byteStarts.withUnsafeBufferPointer { byteStarts in
                    scores.withUnsafeBufferPointer { scores in
                        scratch.bestScores.withUnsafeMutableBufferPointer { bestScores in
                            scratch.bestStarts.withUnsafeMutableBufferPointer { bestStarts in
                                scratch.bestIDs.withUnsafeMutableBufferPointer { bestIDs in
                                    viterbi(
                                        bytes: bytes, byteStarts: byteStarts, scores: scores, walker: walker,
                                        bestScores: bestScores, bestStarts: bestStarts, bestIDs: bestIDs)
                                }
                            }
                        }
                    }
                }
            }
        }

        scratch.path.removeAll(keepingCapacity: true)
        var end = n
        while end > 0 {
            let start = Int(scratch.bestStarts[end])
            scratch.path.append(Int32(start))
            scratch.path.append(Int32(end))
            scratch.path.append(scratch.bestIDs[end])
            end = start
        }
        var k = scratch.path.count - 3
        while k >= 0 {
            let start = scratch.path[k]
            var end = scratch.path[k + 1]
            let id = scratch.path[k + 2]
            if id == unknownID {
                while k >= 3 && scratch.path[k - 1] == unknownID {
                    k -= 3
                    end = scratch.path[k + 1]
                }
                appendUnknownRun(start, end, scratch: scratch, to: &output)
            } else {
                output.append(id, start, end)
            }
            k -= 3
        }
    }

    /// HF `encode_optimized`'s forward pass: from each scalar boundary, every piece starting there (shortest
    /// first) offers the boundary it ends at its score plus the best score so far; the first strictly better offer
    /// wins. A boundary no one-scalar piece leaves from gets an unknown of one scalar at `unknownScore`.
    @inline(__always)
    private func viterbi(
        bytes: UnsafeBufferPointer<UInt8>, byteStarts: UnsafeBufferPointer<Int32>, scores: UnsafeBufferPointer<Double>,
        walker: PieceTrie.Walker, bestScores: UnsafeMutableBufferPointer<Double>,
        bestStarts: UnsafeMutableBufferPointer<Int32>, bestIDs: UnsafeMutableBufferPointer<Int32>
    ) {
        let n = byteStarts.count - 1
        for i in 0..<n {
            let scoreHere = bestScores[i]
            var hasSingleScalarPiece = false
            var position = Int(byteStarts[i])
            var end = i
            var node = walker.root
            while position < bytes.count {
                node = walker.child(node, bytes[position])
                if node < 0 { break }
                position += 1
                // A piece can only end where a scalar does.
                guard position == Int(byteStarts[end + 1]) else { continue }
                end += 1
                let id = walker.pieceID(node)
                guard id >= 0 else { continue }
                let candidate = scores[Int(id)] + scoreHere
                if bestStarts[end] < 0 || candidate > bestScores[end] {
                    bestScores[end] = candidate
                    bestStarts[end] = Int32(i)
                    bestIDs[end] = id
                }
                if end == i + 1 { hasSingleScalarPiece = true }
            }
            if !hasSingleScalarPiece {
                let candidate = unknownScore + scoreHere
                if bestStarts[i + 1] < 0 || candidate > bestScores[i + 1] {
                    bestScores[i + 1] = candidate
                    bestStarts[i + 1] = Int32(i)
                    bestIDs[i + 1] = unknownID
                }
            }
        }
    }

    private func appendUnknownRun(_ start: Int32, _ end: Int32, scratch: UnigramScratch, to output: inout PieceTokens) {
        let runBytes = scratch.bytes[Int(scratch.byteStarts[Int(start)])..<Int(scratch.byteStarts[Int(end)])]
        if let id = runBytes.withUnsafeBufferPointer({ vocab.lookup($0) }) {
            output.append(id, start, end)
        } else if !byteFallbackIDs.isEmpty, runBytes.allSatisfy({ byteFallbackIDs[Int($0)] >= 0 }) {
            for byte in runBytes { output.append(byteFallbackIDs[Int(byte)], start, end) }
        } else {
            output.append(unknownID, start, end)
        }
    }
}

/// The vocab's pieces as a byte trie, so Viterbi finds every piece starting at a position in one step per byte.
/// Built from the sorted pieces level by level, so each node's children are consecutive node ids in byte order:
/// 13 bytes a node, about half what a hash table of edges needs.
struct PieceTrie: Sendable {
    /// Children of the root by byte (-1: none): every walk starts there.
    private let rootChildren: [Int32]
    /// The byte leading to each node from its parent.
    private let nodeBytes: [UInt8]
    /// Each node's children are the nodes `firstChild[n] ..< firstChild[n] + childCount[n]`, by ascending byte.
    private let firstChild: [Int32]
    private let childCount: [Int32]
    /// The id of the piece ending at each node, or -1.
    private let pieceIDs: [Int32]

    init(_ vocab: TokenTable) {
        let (rootChildren, nodeBytes, firstChild, childCount, pieceIDs) = vocab.storage.withUnsafeBufferPointer {
            storage in
            vocab.entryStarts.withUnsafeBufferPointer { starts in
                PieceTrie.build(storage: storage, starts: starts, ids: vocab.entryIDs)
            }
        }
        self.rootChildren = rootChildren
        self.nodeBytes = nodeBytes
        self.firstChild = firstChild
        self.childCount = childCount
        self.pieceIDs = pieceIDs
    }

    /// Breadth first over the sorted pieces: a node stands for the pieces in `sorted[low..<high]`, which share its
    /// first `depth` bytes; the one that ends there (at most one: the table holds each piece once) is the node's
    /// piece, the others are grouped by their next byte into its children. A queue, not recursion: a piece may be
    /// as long as tokenizer.json makes it.
    private static func build(storage: UnsafeBufferPointer<UInt8>, starts: UnsafeBufferPointer<Int32>, ids: [Int32])
        -> ([Int32], [UInt8], [Int32], [Int32], [Int32])
    {
        func bytes(_ entry: Int32) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: storage[Int(starts[Int(entry)])..<Int(starts[Int(entry) + 1])])
        }
        // memcmp: the generic lexicographic comparison made the sort most of a 250,000-piece load.
        let sorted = (0..<Int32(ids.count)).sorted { a, b in
            let x = bytes(a)
            let y = bytes(b)
            let common = min(x.count, y.count)
            if common > 0 {
                let order = memcmp(x.baseAddress!, y.baseAddress!, common)
                if order != 0 { return order < 0 }
            }
            return x.count < y.count
        }
        // The pieces copied out in sorted order: the walk below reads them level after level, in order.
        var keyBytes: [UInt8] = []
        keyBytes.reserveCapacity(storage.count)
        var keyStarts: [Int32] = [0]
        keyStarts.reserveCapacity(sorted.count + 1)
        for entry in sorted {
            keyBytes.append(contentsOf: bytes(entry))
            keyStarts.append(Int32(keyBytes.count))
        }
        func keyLength(_ i: Int) -> Int { Int(keyStarts[i + 1] - keyStarts[i]) }
        func keyByte(_ i: Int, _ depth: Int) -> UInt8 { keyBytes[Int(keyStarts[i]) + depth] }

        var rootChildren = [Int32](repeating: -1, count: 256)
        var nodeBytes: [UInt8] = [0]
        var firstChild: [Int32] = [0]
        var childCount: [Int32] = [0]
        var pieceIDs: [Int32] = [-1]
        var queue: [(node: Int32, low: Int, high: Int, depth: Int)] = [(0, 0, sorted.count, 0)]
        var head = 0
        while head < queue.count {
            let (node, low, high, depth) = queue[head]
            head += 1
            var i = low
            if i < high && keyLength(i) == depth {
                pieceIDs[Int(node)] = ids[Int(sorted[i])]
                i += 1
            }
            firstChild[Int(node)] = Int32(nodeBytes.count)
            while i < high {
                let byte = keyByte(i, depth)
                var end = i + 1
                while end < high && keyByte(end, depth) == byte { end += 1 }
                let child = Int32(nodeBytes.count)
                nodeBytes.append(byte)
                firstChild.append(0)
                childCount.append(0)
                pieceIDs.append(-1)
                if node == 0 { rootChildren[Int(byte)] = child }
                childCount[Int(node)] += 1
                queue.append((child, i, end, depth + 1))
                i = end
            }
            // The processed part of the queue is dead weight once it is half of it.
            if head > 4096 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
        }
        return (rootChildren, nodeBytes, firstChild, childCount, pieceIDs)
    }

    /// A borrowed view for the Viterbi loop.
    struct Walker {
        let rootChildren: UnsafeBufferPointer<Int32>
        let nodeBytes: UnsafeBufferPointer<UInt8>
        let firstChild: UnsafeBufferPointer<Int32>
        let childCount: UnsafeBufferPointer<Int32>
        let pieceIDs: UnsafeBufferPointer<Int32>
        let root: Int32 = 0

        /// The child of `node` along `byte`, or -1: a binary search of its children (most have one or two).
        @inline(__always)
        func child(_ node: Int32, _ byte: UInt8) -> Int32 {
            if node == 0 { return rootChildren[Int(byte)] }
            var low = Int(firstChild[Int(node)])
            var high = low + Int(childCount[Int(node)])
            while low < high {
                let middle = (low + high) >> 1
                if nodeBytes[middle] < byte { low = middle + 1 } else { high = middle }
            }
            return low < Int(firstChild[Int(node)]) + Int(childCount[Int(node)]) && nodeBytes[low] == byte
                ? Int32(low) : -1
        }

        @inline(__always)
        func pieceID(_ node: Int32) -> Int32 { pieceIDs[Int(node)] }
    }

    func withWalker<R>(_ body: (Walker) -> R) -> R {
        rootChildren.withUnsafeBufferPointer { rootChildren in
            nodeBytes.withUnsafeBufferPointer { nodeBytes in
                firstChild.withUnsafeBufferPointer { firstChild in
                    childCount.withUnsafeBufferPointer { childCount in
                        pieceIDs.withUnsafeBufferPointer { pieceIDs in
                            body(
                                Walker(
                                    rootChildren: rootChildren, nodeBytes: nodeBytes, firstChild: firstChild,
                                    childCount: childCount, pieceIDs: pieceIDs))
                        }
                    }
                }
            }
        }
    }
}
