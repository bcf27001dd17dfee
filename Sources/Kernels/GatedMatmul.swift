/// The gate and up projections of a gated MLP (Gemma's gate_proj and up_proj), packed so that one matmul task
/// computes the gate and the up columns of the same outputs and applies gelu(gate)·up to them while they are in
/// cache: panel 2p holds gate outputs 32p..<32p+32 and panel 2p+1 the same up outputs (zero rows pad the last pair).
package struct GatedProjections: Sendable {
    let packed: PackedMatrix
    /// Outputs of each projection: the MLP's intermediate width.
    package let outFeatures: Int
    package var inFeatures: Int { packed.inFeatures }
    /// Width of the scratch rows that `matmulGELUGated` writes the gate and up products to.
    package var scratchWidth: Int { packed.outFeatures }
    /// `scratchWidth` for projections of `outFeatures` outputs: both, rounded up to whole panels.
    package static func scratchWidth(outFeatures: Int) -> Int {
        let width = PackedMatrix.panelWidth
        return 2 * ((outFeatures + width - 1) / width * width)
    }

    /// `gate` and `up` are row-major `[outFeatures × inFeatures]` (PyTorch Linear layout).
    package init(
        gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, outFeatures: Int, inFeatures: Int,
        precision: WeightPrecision = .float32
    ) {
        let count = outFeatures * inFeatures
        precondition(outFeatures > 0 && inFeatures > 0, "GatedProjections needs positive dimensions")
        precondition(
            gate.count >= count && up.count >= count,
            "GatedProjections: \(gate.count) and \(up.count) weights for two \(outFeatures)×\(inFeatures) matrices")
        let width = PackedMatrix.panelWidth, packedOutFeatures = Self.scratchWidth(outFeatures: outFeatures)
        let interleaved = UnsafeMutableBufferPointer<Float>.allocate(capacity: packedOutFeatures * inFeatures)
        defer { interleaved.deallocate() }
        interleaved.initialize(repeating: 0)
        for pair in 0..<packedOutFeatures / (2 * width) {
            let first = pair * width, rows = min(width, outFeatures - first)
            for (part, source) in [gate, up].enumerated() {
                let target = interleaved.baseAddress! + (2 * pair + part) * width * inFeatures
                target.update(from: source.baseAddress! + first * inFeatures, count: rows * inFeatures)
            }
        }
        packed = PackedMatrix(
            weights: UnsafeBufferPointer(interleaved), outFeatures: packedOutFeatures,
            inFeatures: inFeatures, precision: precision)
        self.outFeatures = outFeatures
    }
}

/// y[M × I] = gelu_tanh(x·Gᵀ) ⊙ (x·Uᵀ), the gated MLP's activation, with the gelu·up step done by each matmul task on
/// the block it just computed, so the products are read back from cache rather than in a pass of their own.
///
/// `x` is `[m × w.inFeatures]` with rows `ldx` apart; `scratch` has room for `m × w.scratchWidth` floats (the gate
/// and up products, rows contiguous); `y` is `[m × w.outFeatures]` with rows `ldy` apart and must not overlap `scratch`.
package func matmulGELUGated(
    _ x: UnsafePointer<Float>, rows m: Int, rowStride ldx: Int, _ w: GatedProjections,
    scratch: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>,
    rowStride ldy: Int, pool: ComputePool
) {
    matmulGELUGated(
        MatmulInput(UnsafeMutablePointer(mutating: x), rowStride: ldx, form: .float32), rows: m, w,
        scratch: scratch, into: MatmulInput(y, rowStride: ldy, form: .float32), pool: pool)
}

/// `matmulGELUGated` on x as a norm wrote it for `w`, writing y as the input of the matmul that follows (the down
/// projection): in bf16 pair form each task rounds its block of y as it writes it.
package func matmulGELUGated(
    _ x: MatmulInput, rows m: Int, _ w: GatedProjections,
    scratch: UnsafeMutablePointer<Float>, into y: MatmulInput, pool: ComputePool
) {
    if m <= 0 { return }
    precondition(y.fits(inFeatures: w.outFeatures), "matmulGELUGated: row stride smaller than the row")
    // Resolved here, on the thread that may carry a forced variant, not in the tasks.
    let kernels = KernelVariant.current.table
    let width = PackedMatrix.panelWidth, scratchWidth = w.scratchWidth, outFeatures = w.outFeatures
    let ldy = y.rowStride
    // Each task reads the scratch block it wrote and writes its own columns of y; the caller keeps both alive.
    nonisolated(unsafe) let products = scratch
    // A block's outputs: its panel pairs' columns. Its products start at twice its first column.
    let columns = { @Sendable (block: MatmulPlan.Block) -> (first: Int, count: Int) in
        let first = block.firstPanel / 2 * width
        return (first, min(block.lastPanel / 2 * width, outFeatures) - first)
    }
    let epilogue: TaskEpilogue
    switch y.form {
    case .float32:
        let gelu = kernels.geluTanhMultiplyPairs
        nonisolated(unsafe) let y = y.floats
        epilogue = { block in
            let (first, count) = columns(block)
            gelu(
                products + block.rowStart * scratchWidth + 2 * first, scratchWidth, block.rows, count,
                y + block.rowStart * ldy + first, ldy)
        }
    case .bfloat16Pairs:
        guard let dot = kernels.bfloat16Dot else {
            preconditionFailure(
                "matmulGELUGated: bf16 pairs for a variant without a dot product, run on \(KernelVariant.current)")
        }
        let gelu = dot.geluTanhMultiplyPairs
        // Tasks start on whole panel pairs, so every block's first column is even: its pairs are its own words.
        nonisolated(unsafe) let y = y.bfloat16Values
        epilogue = { block in
            let (first, count) = columns(block)
            gelu(
                products + block.rowStart * scratchWidth + 2 * first, scratchWidth, block.rows, count,
                y + block.rowStart * 2 * ldy + first, 2 * ldy)
        }
    }
    // Tasks take whole gate/up panel pairs.
    runMatmul(
        x, rows: m, w.packed, into: scratch, rowStride: scratchWidth, accumulate: false, panelMultiple: 2,
        pool: pool, finishTask: epilogue)
}
