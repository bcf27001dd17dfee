import KernelsInterface

/// y[M×N] = x[M×K] · Wᵀ  (+ y if accumulate). Row strides let callers work on sub-matrices.
///
/// `x` is `[m × w.inFeatures]` with rows `ldx` apart; `y` is `[m × w.outFeatures]` with rows `ldy` apart.
/// Work is split over the pool by blocks of rows and groups of 32-column panels.
package func matmul(
    _ x: UnsafePointer<Float>, rows m: Int, rowStride ldx: Int,
    _ w: PackedMatrix,
    into y: UnsafeMutablePointer<Float>, rowStride ldy: Int,
    accumulate: Bool = false, pool: ComputePool
) {
    matmul(
        MatmulInput(UnsafeMutablePointer(mutating: x), rowStride: ldx, form: .float32), rows: m, w, into: y,
        rowStride: ldy, accumulate: accumulate, pool: pool)
}

/// `matmul` on x as a norm or an activation wrote it for `w` (see `MatmulInput`).
package func matmul(
    _ x: MatmulInput, rows m: Int, _ w: PackedMatrix, into y: UnsafeMutablePointer<Float>,
    rowStride ldy: Int, accumulate: Bool = false, pool: ComputePool
) {
    if m <= 0 { return }
    precondition(ldy >= w.outFeatures, "matmul: row stride smaller than the row")
    runMatmul(
        x, rows: m, w, into: y, rowStride: ldy, accumulate: accumulate, panelMultiple: 1, pool: pool,
        finishTask: nil)
}

/// What a matmul task does once its block of y is complete, while the block is still in cache.
typealias TaskEpilogue = @Sendable (MatmulPlan.Block) -> Void

/// `matmul` whose tasks each take a multiple of `panelMultiple` panels and run `finishTask` on their block.
func runMatmul(
    _ input: MatmulInput, rows m: Int, _ w: PackedMatrix,
    into y: UnsafeMutablePointer<Float>, rowStride ldy: Int, accumulate: Bool, panelMultiple: Int,
    pool: ComputePool, finishTask: TaskEpilogue?
) {
    precondition(input.fits(inFeatures: w.inFeatures), "matmul: row stride smaller than the row")
    let kernels = KernelVariant.current.table
    if w.pairsAlongK {
        guard let dot = kernels.bfloat16Dot else {
            preconditionFailure(
                "matmul: weights packed in bf16 pairs for a variant with a dot product, run on \(KernelVariant.current)"
            )
        }
        // Panels in groups at every height: a dot tile's prefetch stream runs on past its panel into the next one in
        // memory, which is worth fetching only for the task that reads it next. An 11-token query p50 7.5–7.8 ms
        // against 7.9–8.5 with a task per panel (Zen 4; for the fp32 tile the grouping made no difference).
        let plan = MatmulPlan(
            rows: m, inFeatures: w.inFeatures, panelCount: w.panelCount, threads: pool.threadCount,
            tileRows: 0, panelMultiple: panelMultiple)
        switch input.form {
        case .bfloat16Pairs:
            matmulPairs(
                input.pairs, pairStride: input.rowStride, rows: m, w, into: y, rowStride: ldy,
                accumulate: accumulate, plan: plan, dot: dot, pool: pool, finishTask: finishTask)
        case .float32:
            let pairStride = w.storedRows / 2
            let pairs = UnsafeMutableRawPointer.allocate(
                byteCount: m * pairStride * MemoryLayout<UInt32>.stride,
                alignment: 64
            )
            .bindMemory(to: UInt32.self, capacity: m * pairStride)
            defer { pairs.deallocate() }
            roundRowsToPairs(
                input.floats, rowStride: input.rowStride, rows: m, inFeatures: w.inFeatures, into: pairs,
                pairStride: pairStride, dot: dot, pool: pool)
            matmulPairs(
                pairs, pairStride: pairStride, rows: m, w, into: y, rowStride: ldy, accumulate: accumulate,
                plan: plan, dot: dot, pool: pool, finishTask: finishTask)
        }
        return
    }
    precondition(input.form == .float32, "matmul: x given as bf16 pairs for weights that are not packed in pairs")
    let plan = MatmulPlan(
        rows: m, inFeatures: w.inFeatures, panelCount: w.panelCount, threads: pool.threadCount,
        tileRows: kernels.firstTileRows, panelMultiple: panelMultiple)
    // Tasks read x and w and write disjoint blocks of y; the caller keeps all alive until parallelFor returns.
    nonisolated(unsafe) let x = input.floats, y = y
    let ldx = input.rowStride
    let panels = UnsafeRawPointer(w.storage), bfloat16 = w.precision == .bfloat16
    nonisolated(unsafe) let sharedPanels = panels
    // bf16 panels that several row tiles read are widened once per task into the running thread's slot (no two
    // tasks run on one slot at once): the fp32 tile then runs at full speed, and its 12 rows do not spill as they do
    // when each tile widens its own B rows.
    let widenedLength = plan.kBlock * PackedMatrix.panelWidth
    let widened =
        bfloat16 && m >= MatmulPlan.widenedFromRows
        ? UnsafeMutablePointer<Float>.allocate(capacity: widenedLength * pool.threadCount) : nil
    defer { widened?.deallocate() }
    nonisolated(unsafe) let sharedWidened = widened
    pool.parallelFor(plan.taskCount) { task, slot in
        let block = plan.block(task)
        kernels.matmulBlock(
            MatmulBlockArguments(
                x: x + block.rowStart * ldx, ldx: ldx, rows: block.rows, panels: sharedPanels, bfloat16: bfloat16,
                inFeatures: w.inFeatures, kBlock: plan.kBlock, firstPanel: block.firstPanel,
                lastPanel: block.lastPanel, outFeatures: w.outFeatures, y: y + block.rowStart * ldy, ldy: ldy,
                accumulate: accumulate, widened: sharedWidened.map { $0 + slot * widenedLength }))
        finishTask?(block)
    }
}

/// Rows of x rounded to bf16 pairs for a dot-product GEMM (rows split over the pool).
private func roundRowsToPairs(
    _ x: UnsafePointer<Float>, rowStride ldx: Int, rows m: Int, inFeatures: Int,
    into pairs: UnsafeMutablePointer<UInt32>, pairStride: Int, dot: BFloat16DotKernels,
    pool: ComputePool
) {
    // Tasks read x and write disjoint rows of `pairs`; the caller keeps both alive until parallelFor returns.
    nonisolated(unsafe) let x = x, pairs = pairs
    // Up to 32 rows (a few µs) are one chunk on the calling thread: a hand-off per matmul would cost more than it
    // saves (an 11-token query spent 170 µs in 96 roundings over two threads).
    let chunk = max(32, (m + 4 * pool.threadCount - 1) / (4 * pool.threadCount))
    pool.parallelFor((m + chunk - 1) / chunk) { task, _ in
        let first = task * chunk
        dot.roundRowsToPairs(
            x + first * ldx, ldx, min(chunk, m - first), inFeatures, pairs + first * pairStride,
            pairStride)
    }
}

/// The dot-product GEMM on rows of x already rounded to bf16 pairs (`pairStride` words apart).
private func matmulPairs(
    _ pairs: UnsafePointer<UInt32>, pairStride: Int, rows m: Int, _ w: PackedMatrix,
    into y: UnsafeMutablePointer<Float>, rowStride ldy: Int, accumulate: Bool, plan: MatmulPlan,
    dot: BFloat16DotKernels, pool: ComputePool, finishTask: TaskEpilogue?
) {
    // Tasks read the pairs and the panels and write disjoint blocks of y; the caller keeps all alive until
    // parallelFor returns.
    nonisolated(unsafe) let pairs = pairs, y = y
    nonisolated(unsafe) let panels = UnsafePointer(w.storage.assumingMemoryBound(to: UInt32.self))
    let pairRows = w.storedRows / 2, pairBlock = (plan.kBlock + 1) / 2
    pool.parallelFor(plan.taskCount) { task, _ in
        let block = plan.block(task)
        dot.matmulBlock(
            PairMatmulBlockArguments(
                pairs: pairs + block.rowStart * pairStride, ldp: pairStride, rows: block.rows, panels: panels,
                pairRows: pairRows, pairBlock: pairBlock, firstPanel: block.firstPanel, lastPanel: block.lastPanel,
                outFeatures: w.outFeatures, y: y + block.rowStart * ldy, ldy: ldy, accumulate: accumulate))
        finishTask?(block)
    }
}

/// How one matmul is cut into tasks: cache-sized row blocks × panel groups, and K blocks inside a task.
struct MatmulPlan: Sendable {
    /// From this many rows on, bf16 panels are widened once per task. Below it the extra pass costs more than the
    /// tiles save: over the model's shapes on two threads (Emerald Rapids), widening took 14–25% more time at M = 16
    /// and 32, 0–8% more at 48–96, and 4–10% less from 128 on (286–312 against 275–290 GFLOP/s at M ≥ 512).
    static let widenedFromRows = 128

    let rows: Int
    let panelCount: Int
    let kBlock: Int
    let rowsPerBlock: Int
    let panelsPerGroup: Int
    let panelGroups: Int
    let taskCount: Int

    /// `tileRows`: the rows of the variant's first row tile, so a block of more rows takes several passes; 0 groups
    /// the panels of every block.
    /// `panelMultiple`: every group but the last holds a multiple of this many panels.
    init(rows m: Int, inFeatures k: Int, panelCount: Int, threads: Int, tileRows: Int, panelMultiple: Int = 1) {
        // K is split only past 1152, so each tile runs its whole dot product and stores C once, while a block of
        // 192 rows of x is reused across the task's panels: 96 GFLOP/s on two threads against 85 with 256-wide K
        // blocks, which reloaded C two to four times per tile (2-core Zen 3, the model's shapes at M = 512 and 2048).
        // With few rows, whole K lets a task read its weights as one stream.
        rows = m
        self.panelCount = panelCount
        let kLimit = 1152
        let kBlocks = (k + kLimit - 1) / kLimit
        kBlock = (k + kBlocks - 1) / kBlocks
        rowsPerBlock = min(m, 192)
        let rowBlocks = (m + rowsPerBlock - 1) / rowsPerBlock
        // Enough tasks that dynamic claiming evens out the threads, few enough that claiming stays cheap.
        let wanted = max(1, rowBlocks * panelCount / (16 * threads))
        // With one block of several row tiles, the later tiles prefetch the task's next panel (see `tileBlock`), so
        // long runs of panels per task keep memory streaming under their arithmetic: two tasks per thread (a 40-token
        // fp32 query on AVX-512: 33.0 ms against 38.9 with a task per panel). With 6-row tiles an 11-token query
        // takes two passes per half as well, and grouped its fp32 GEMMs take 26–29 ms against 33–36 (AVX2).
        let severalTiles = m > tileRows
        let panels = rowBlocks == 1 && severalTiles ? (panelCount + 2 * threads - 1) / (2 * threads) : min(4, wanted)
        panelsPerGroup = (panels + panelMultiple - 1) / panelMultiple * panelMultiple
        panelGroups = (panelCount + panelsPerGroup - 1) / panelsPerGroup
        taskCount = rowBlocks * panelGroups
    }

    /// The rows and panels one task computes.
    struct Block {
        let rowStart: Int
        let rows: Int
        let firstPanel: Int
        let lastPanel: Int
    }

    /// Task `task`'s block: row blocks outermost, panel groups within each.
    func block(_ task: Int) -> Block {
        let rowStart = task / panelGroups * rowsPerBlock, firstPanel = task % panelGroups * panelsPerGroup
        return Block(
            rowStart: rowStart, rows: min(rowsPerBlock, rows - rowStart), firstPanel: firstPanel,
            lastPanel: min(firstPanel + panelsPerGroup, panelCount))
    }
}
