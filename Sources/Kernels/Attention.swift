import CPrefetch
import KernelsInterface

/// Which keys a query sees in `attention`.
package enum AttentionWindow: Sendable, Equatable {
    /// Every key of the query's own sequence (Gemma3 full-attention layers).
    case full
    /// Key j is visible from query i iff |i − j| ≤ radius (Gemma3 bidirectional sliding layers: radius 256).
    case sliding(radius: Int)
}

/// A bias on the attention logits that depends only on the head and on the key's distance from the query, j − i (MPNet's
/// relative position buckets, looked up once into a table): the same for every sequence of a batch, whatever its length.
package struct RelativePositionBias {
    /// `[heads × (2·maxLength − 1)]`: head h's bias for j − i = d at `h·(2·maxLength − 1) + maxLength − 1 + d`.
    package let table: UnsafePointer<Float>
    /// Longest sequence the table covers.
    package let maxLength: Int

    package init(table: UnsafePointer<Float>, maxLength: Int) {
        self.table = table
        self.maxLength = maxLength
    }

    /// Head `head`'s entry for distance 0.
    func center(head: Int) -> UnsafePointer<Float> { table + head * (2 * maxLength - 1) + maxLength - 1 }
}

/// Bidirectional multi-head attention with grouped K/V heads over a packed batch of sequences (no padding):
/// `out_h[i] = Σ_j softmax_j(scale · Q_h[i]·K_g[j]) · V_g[j]`, with g = h / (queryHeads / kvHeads) and j running over
/// the keys of i's own sequence that `window` lets it see. fp32 throughout, softmax with max-subtraction.
///
/// Rows are tokens. Sequence s owns the `sequenceLengths[s]` rows after those of the earlier sequences.
/// - `queries`: row r holds `queryHeads` heads of `headDim` side by side (`[tokens × queryHeads·headDim]`, rows `queryRowStride` apart).
/// - `keys`, `values`: `[tokens × kvHeads·headDim]`, rows `keyRowStride` / `valueRowStride` apart. Q, K and V may be
///   column ranges of one fused QKV buffer (e.g. q at +0, k at +768, v at +1024 with every stride 1280).
/// - `output`: `[tokens × queryHeads·headDim]`, rows `outputRowStride` apart, written (not accumulated); must not overlap Q/K/V.
/// - `scale`: multiplies the logits (Gemma3: 256^−0.5 = 0.0625).
/// - `relativeBias`: added to the scaled logits, head h's entry for j − i (nil: none, as for Gemma and BERT); every
///   sequence must fit its `maxLength`.
///
/// Work is split over (sequence, head, block of 48 queries) on `pool`. Each block computes its scores against only
/// the keys its window reaches (a `[48 × keys]` scratch per thread), so no n×n matrix is ever formed. Sequences of
/// up to 16 tokens skip the packing: their scores are dot products straight from the rows (`attentionDirect`).
package func attention(
    queries q: UnsafePointer<Float>, queryRowStride ldq: Int,
    keys k: UnsafePointer<Float>, keyRowStride ldk: Int,
    values v: UnsafePointer<Float>, valueRowStride ldv: Int,
    output out: UnsafeMutablePointer<Float>, outputRowStride ldo: Int,
    sequenceLengths: [Int], queryHeads: Int, kvHeads: Int, headDim: Int,
    scale: Float, window: AttentionWindow, relativeBias: RelativePositionBias? = nil, pool: ComputePool
) {
    precondition(
        queryHeads > 0 && kvHeads > 0 && queryHeads % kvHeads == 0,
        "attention: \(queryHeads) query heads cannot share \(kvHeads) K/V heads evenly")
    precondition(sequenceLengths.allSatisfy { $0 >= 0 }, "attention: negative sequence length")
    if case .sliding(let radius) = window { precondition(radius >= 0, "attention: negative window radius") }
    if let relativeBias {
        precondition(
            sequenceLengths.allSatisfy { $0 <= relativeBias.maxLength },
            "attention: a sequence is longer than the relative bias table's \(relativeBias.maxLength)")
    }
    let layout = AttentionLayout(
        sequenceLengths: sequenceLengths, queryHeads: queryHeads, kvHeads: kvHeads,
        headDim: headDim, window: window)
    if layout.tasks.isEmpty { return }
    let panelWidth = PackedMatrix.panelWidth
    let kernels = KernelVariant.current.table

    // Per (sequence, kv head), K and V repacked so both GEMMs read B as matmul reads packed weights:
    // Kᵀ in 32-key panels `[headDim × 32]`, and V in 32-column panels `[keys × 32]`, zero past the ends.
    let packedCount = max(1, layout.paddedKeyRows * kvHeads * (headDim + layout.paddedHeadDim))
    let packedStorage = UnsafeMutableRawPointer.allocate(
        byteCount: packedCount * MemoryLayout<Float>.size, alignment: 64
    )
    .bindMemory(to: Float.self, capacity: packedCount)
    defer { packedStorage.deallocate() }
    let scratchPerSlot = AttentionLayout.queryBlock * layout.maxKeySpan + AttentionLayout.queryBlock
    let scratchStorage = UnsafeMutablePointer<Float>.allocate(capacity: scratchPerSlot * pool.threadCount)
    defer { scratchStorage.deallocate() }

    // Raw pointers cross into the workers: every task reads Q/K/V and writes its own rows × head columns of `out`,
    // its own part of `packed` and its own slot of `scratch`; all outlive the parallelFor calls.
    nonisolated(unsafe) let q = q, k = k, v = v, out = out, packed = packedStorage, scratch = scratchStorage
    nonisolated(unsafe) let relativeBias = relativeBias

    pool.parallelFor(layout.packedSequences.count * kvHeads) { item in
        let sequence = layout.packedSequences[item / kvHeads], group = item % kvHeads
        let length = sequenceLengths[sequence], firstRow = layout.firstRows[sequence]
        let paddedKeys = layout.paddedKeys(sequence)
        let keyPanels = packed + layout.keyOffset(sequence: sequence, group: group)
        let valuePanels = packed + layout.valueOffset(sequence: sequence, group: group)
        let panelStride = paddedKeys * panelWidth // from one V column panel to the next
        // Each key's K and V come from their own row (4.6 KB apart in MiniLM's fused QKV, so each on its own page,
        // where the hardware prefetcher does not follow) and most miss the cache; the scalar stores of the transpose
        // wait on them and fill the store queue, so only a key or two is in flight. Asked for 8 keys ahead, several
        // misses run at once: the packing's share of a MiniLM corpus run fell from 2.3% to 1.1%.
        let lookAhead = 8
        // Row by row, with the padding written apart, so the inner loops carry no division and no test.
        for key in 0..<paddedKeys {
            if key + lookAhead < length {
                let keyRow = UnsafeRawPointer(k + (firstRow + key + lookAhead) * ldk + group * headDim)
                let valueRow = UnsafeRawPointer(v + (firstRow + key + lookAhead) * ldv + group * headDim)
                for offset in stride(from: 0, to: headDim * MemoryLayout<Float>.size, by: 64) {
                    prefetchForRead(keyRow + offset)
                    prefetchForRead(valueRow + offset)
                }
            }
            let keyTarget = keyPanels + (key / panelWidth) * headDim * panelWidth + key % panelWidth
            let valueTarget = valuePanels + key * panelWidth
            if key >= length {
                for d in 0..<headDim { keyTarget[d * panelWidth] = 0 }
                for panel in 0..<layout.paddedHeadDim / panelWidth {
                    (valueTarget + panel * panelStride).update(repeating: 0, count: panelWidth)
                }
                continue
            }
            let keySource = k + (firstRow + key) * ldk + group * headDim
            let valueSource = v + (firstRow + key) * ldv + group * headDim
            for d in 0..<headDim { keyTarget[d * panelWidth] = keySource[d] }
            var d = 0, panel = 0
            while d < headDim {
                let width = min(panelWidth, headDim - d)
                let target = valueTarget + panel * panelStride
                target.update(from: valueSource + d, count: width)
                if width < panelWidth { (target + width).update(repeating: 0, count: panelWidth - width) }
                d += panelWidth
                panel += 1
            }
        }
    }

    let radius: Int
    switch window {
    case .full: radius = Int(Int32.max)
    case .sliding(let windowRadius): radius = windowRadius
    }
    let runTask: @Sendable (Int, Int) -> Void = { taskIndex, slot in
        let task = layout.tasks[taskIndex]
        let length = sequenceLengths[task.sequence], firstRow = layout.firstRows[task.sequence]
        let group = task.head / (queryHeads / kvHeads)
        if AttentionLayout.isDirect(length: length) {
            kernels.attentionDirect(
                AttentionDirectArguments(
                    queries: q + firstRow * ldq + task.head * headDim, ldq: ldq,
                    keys: k + firstRow * ldk + group * headDim, ldk: ldk, values: v + firstRow * ldv + group * headDim,
                    ldv: ldv, length: length, radius: radius, headDim: headDim, scores: scratch + slot * scratchPerSlot,
                    output: out + firstRow * ldo + task.head * headDim, ldo: ldo, scale: scale,
                    relativeBias: relativeBias?.center(head: task.head)))
            return
        }
        let blockRows = min(AttentionLayout.queryBlock, length - task.firstQuery)
        let (keyStart, keyEnd) = visibleKeys(
            from: task.firstQuery, through: task.firstQuery + blockRows - 1,
            length: length, window: window)
        let scores = scratch + slot * scratchPerSlot // [blockRows × span]
        let rowSums = scores + AttentionLayout.queryBlock * layout.maxKeySpan // [blockRows]
        kernels.attentionBlock(
            AttentionBlockArguments(
                queries: q + (firstRow + task.firstQuery) * ldq + task.head * headDim, ldq: ldq, rows: blockRows,
                firstQuery: task.firstQuery, length: length, radius: radius,
                keyPanels: packed + layout.keyOffset(sequence: task.sequence, group: group),
                valuePanels: packed + layout.valueOffset(sequence: task.sequence, group: group),
                paddedKeys: layout.paddedKeys(task.sequence), headDim: headDim, keyStart: keyStart, keyEnd: keyEnd,
                scores: scores, rowSums: rowSums,
                output: out + (firstRow + task.firstQuery) * ldo + task.head * headDim,
                ldo: ldo, scale: scale, relativeBias: relativeBias?.center(head: task.head)))
    }
    // A short batch's attention is a few µs of work: one task on the calling thread beats a hand-off and a wait.
    if layout.tokenCount * layout.maxKeySpan * headDim * queryHeads <= 1 << 20 {
        pool.parallelFor(1) { _, slot in
            for taskIndex in layout.tasks.indices { runTask(taskIndex, slot) }
        }
    } else {
        pool.parallelFor(layout.tasks.count, runTask)
    }
}

/// Keys [start, end) visible from at least one query in first...last.
@inline(__always)
private func visibleKeys(from first: Int, through last: Int, length: Int, window: AttentionWindow) -> (Int, Int) {
    switch window {
    case .full: return (0, length)
    case .sliding(let radius): return (max(0, first - radius), min(length, last + radius + 1))
    }
}

/// Where each sequence's rows and packed K/V live, and the list of (sequence, head, query block) tasks.
private struct AttentionLayout: Sendable {
    static let queryBlock = 48
    /// Sequences up to this long skip the packing and run `attentionDirect`, one task per head (it is below
    /// `queryBlock`, so their task list needs no change). Where the two cross on one Zen 4 core, 3 heads of 256:
    /// 11 tokens 8.7 µs direct against 15 µs packed, 16 tokens 16 against 19, 24 tokens 44 against 31.
    static let directLength = 16

    static func isDirect(length: Int) -> Bool { length <= directLength }

    struct Task: Sendable {
        let sequence: Int
        let head: Int
        let firstQuery: Int
    }

    let firstRows: [Int]
    /// Rows of all sequences together.
    let tokenCount: Int
    /// Packed key rows (multiples of 32; none for direct sequences) of the sequences before each one, plus the total at
    /// the end.
    let firstKeyRows: [Int]
    /// The sequences whose K/V are packed (all but the direct ones).
    let packedSequences: [Int]
    let kvHeads: Int
    let headDim: Int
    /// headDim rounded up to whole 32-column panels.
    let paddedHeadDim: Int
    let maxKeySpan: Int
    let tasks: [Task]

    var paddedKeyRows: Int { firstKeyRows.last! }

    init(sequenceLengths: [Int], queryHeads: Int, kvHeads: Int, headDim: Int, window: AttentionWindow) {
        let panelWidth = PackedMatrix.panelWidth
        var firstRows: [Int] = [], firstKeyRows: [Int] = [0], packedSequences: [Int] = []
        var row = 0, maxSpan = 0
        for (sequence, length) in sequenceLengths.enumerated() {
            firstRows.append(row)
            row += length
            let isPacked = !Self.isDirect(length: length)
            if isPacked { packedSequences.append(sequence) }
            firstKeyRows.append(
                firstKeyRows.last! + (isPacked ? (length + panelWidth - 1) / panelWidth * panelWidth : 0))
            let reach: Int
            switch window {
            case .full: reach = length
            case .sliding(let radius): reach = min(length, Self.queryBlock + 2 * radius)
            }
            // +1 panel: a block's key range need not start on a panel boundary.
            maxSpan = max(maxSpan, ((reach + panelWidth - 1) / panelWidth + 1) * panelWidth)
        }
        self.firstRows = firstRows
        tokenCount = row
        self.firstKeyRows = firstKeyRows
        self.packedSequences = packedSequences
        self.kvHeads = kvHeads
        self.headDim = headDim
        paddedHeadDim = (headDim + panelWidth - 1) / panelWidth * panelWidth
        maxKeySpan = maxSpan
        // Longest sequences first, so the costliest tasks start early and the short ones fill the tail.
        var tasks: [Task] = []
        for sequence in sequenceLengths.indices.sorted(by: { sequenceLengths[$0] > sequenceLengths[$1] }) {
            for head in 0..<queryHeads {
                for firstQuery in stride(from: 0, to: sequenceLengths[sequence], by: Self.queryBlock) {
                    tasks.append(Task(sequence: sequence, head: head, firstQuery: firstQuery))
                }
            }
        }
        self.tasks = tasks
    }

    /// Key rows of `sequence` rounded up to whole panels.
    func paddedKeys(_ sequence: Int) -> Int { firstKeyRows[sequence + 1] - firstKeyRows[sequence] }

    /// Start of the Kᵀ panels of (sequence, kv head): `paddedKeys / 32` panels of `[headDim × 32]`.
    func keyOffset(sequence: Int, group: Int) -> Int {
        (firstKeyRows[sequence] * kvHeads + group * paddedKeys(sequence)) * headDim
    }

    /// Start of the V panels of (sequence, kv head): `paddedHeadDim / 32` panels of `[paddedKeys × 32]`, after all Kᵀ.
    func valueOffset(sequence: Int, group: Int) -> Int {
        paddedKeyRows * kvHeads * headDim + (firstKeyRows[sequence] * kvHeads + group * paddedKeys(sequence))
            * paddedHeadDim
    }
}
