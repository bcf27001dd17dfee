/// The gate and up projections of a gated MLP (Gemma's gate_proj and up_proj), packed so that one matmul task
/// computes the gate and the up columns of the same outputs and applies gelu(gate)·up to them while they are in
/// cache: panel 2p holds gate outputs 32p..<32p+32 and panel 2p+1 the same up outputs (zero rows pad the last pair).
public struct GatedProjections: Sendable {
    let packed: PackedMatrix
    /// Outputs of each projection: the MLP's intermediate width.
    public let outFeatures: Int
    public var inFeatures: Int { packed.inFeatures }
    /// Width of the scratch rows that `matmulGELUGated` writes the gate and up products to.
    public var scratchWidth: Int { packed.outFeatures }
    /// `scratchWidth` for projections of `outFeatures` outputs: both, rounded up to whole panels.
    public static func scratchWidth(outFeatures: Int) -> Int {
        let width = PackedMatrix.panelWidth
        return 2 * ((outFeatures + width - 1) / width * width)
    }

    /// `gate` and `up` are row-major `[outFeatures × inFeatures]` (PyTorch Linear layout).
    public init(gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, outFeatures: Int, inFeatures: Int,
                precision: WeightPrecision = .float32) {
        let count = outFeatures * inFeatures
        precondition(outFeatures > 0 && inFeatures > 0, "GatedProjections needs positive dimensions")
        precondition(gate.count >= count && up.count >= count,
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
        packed = PackedMatrix(weights: UnsafeBufferPointer(interleaved), outFeatures: packedOutFeatures,
                              inFeatures: inFeatures, precision: precision)
        self.outFeatures = outFeatures
    }
}

/// y[M × I] = gelu_tanh(x·Gᵀ) ⊙ (x·Uᵀ), the gated MLP's activation, with the gelu·up step done by each matmul task on
/// the block it just computed, so the products are read back from cache rather than in a pass of their own.
///
/// `x` is `[m × w.inFeatures]` with rows `ldx` apart; `scratch` has room for `m × w.scratchWidth` floats (the gate
/// and up products, rows contiguous); `y` is `[m × w.outFeatures]` with rows `ldy` apart and must not overlap `scratch`.
public func matmulGELUGated(_ x: UnsafePointer<Float>, rows m: Int, rowStride ldx: Int, _ w: GatedProjections,
                            scratch: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>,
                            rowStride ldy: Int, pool: ComputePool) {
    if m <= 0 { return }
    precondition(ldx >= w.inFeatures && ldy >= w.outFeatures, "matmulGELUGated: row stride smaller than the row")
    // Resolved here, on the thread that may carry a forced variant, not in the tasks.
    let gelu = KernelVariant.current.table.geluTanhMultiplyPairs
    let width = PackedMatrix.panelWidth, scratchWidth = w.scratchWidth, outFeatures = w.outFeatures
    // Each task reads the scratch block it wrote and writes its own columns of y; the caller keeps both alive.
    nonisolated(unsafe) let products = scratch, y = y
    // Tasks take whole gate/up panel pairs.
    runMatmul(x, rows: m, rowStride: ldx, w.packed, into: scratch, rowStride: scratchWidth, accumulate: false,
              panelMultiple: 2, pool: pool) { block in
        let firstColumn = block.firstPanel / 2 * width, endColumn = min(block.lastPanel / 2 * width, outFeatures)
        gelu(products + block.rowStart * scratchWidth + 2 * firstColumn, scratchWidth, block.rows,
             endColumn - firstColumn, y + block.rowStart * ldy + firstColumn, ldy)
    }
}
