/// The rows of x that a matmul reads, in the form its weights multiply: fp32, or bf16 K pairs for weights packed in
/// pairs (the `avx512bf16` variant with bf16 weights). The norm or activation that produces a matmul's input writes it
/// in that form (`rmsNorm(_:rowStride:into:rows:width:weightPlusOne:epsilon:)`, `matmulGELUGated`), so the matmul
/// has no rounding pass of its own over x: for a short query that pass took about 1.8 µs per GEMM, mostly in cache
/// misses on the fp32 rows just written, against 0.7 µs on rows already in cache.
package struct MatmulInput: @unchecked Sendable {
    // @unchecked: a view of a buffer the caller owns and keeps alive while kernels use it; parallel producers write
    // disjoint rows of it.

    package enum Form: Sendable, Equatable {
        case float32
        /// bf16 values rounded to nearest even, K pairs in 32-bit words: word p holds x[2p] low and x[2p+1] high, and
        /// an odd K ends on a pair whose high half is zero, as `PackedMatrix.pairsAlongK` weights do.
        case bfloat16Pairs
    }

    package let form: Form
    let base: UnsafeMutableRawPointer
    /// Elements of the form from one row to the next: floats, or 32-bit pair words (as many: see `init`).
    let rowStride: Int

    /// A view of `buffer` (rows `rowStride` floats apart) as the input of a matmul on `weights`. In pair form a row
    /// takes the first half of its floats' bytes, so each row stays where its fp32 row is: a producer that reads the
    /// fp32 rows of a block and then writes the same rows as pairs into the same buffer touches no other block's rows.
    package init(_ buffer: UnsafeMutablePointer<Float>, rowStride: Int, for weights: PackedMatrix) {
        self.init(buffer, rowStride: rowStride, form: weights.pairsAlongK ? .bfloat16Pairs : .float32)
    }

    /// A view of `buffer` as the input of `matmulGELUGated` on `projections`.
    package init(_ buffer: UnsafeMutablePointer<Float>, rowStride: Int, for projections: GatedProjections) {
        self.init(buffer, rowStride: rowStride, for: projections.packed)
    }

    /// A view of `buffer` (rows `rowStride` floats apart) in `form`: `.float32` for rows that stay fp32 whatever reads
    /// them (a final norm).
    package init(_ buffer: UnsafeMutablePointer<Float>, rowStride: Int, form: Form) {
        self.form = form
        base = UnsafeMutableRawPointer(buffer)
        self.rowStride = rowStride
    }

    private init(base: UnsafeMutableRawPointer, rowStride: Int, form: Form) {
        self.base = base
        self.rowStride = rowStride
        self.form = form
    }

    /// The same view from row `row` on.
    package func rows(from row: Int) -> MatmulInput {
        // A float and a pair word are both 4 bytes.
        MatmulInput(base: base + row * rowStride * MemoryLayout<UInt32>.stride, rowStride: rowStride, form: form)
    }

    /// Whether a row holds K = `inFeatures` values.
    func fits(inFeatures: Int) -> Bool {
        form == .float32 ? rowStride >= inFeatures : rowStride >= (inFeatures + 1) / 2
    }

    var floats: UnsafeMutablePointer<Float> {
        precondition(form == .float32, "MatmulInput: fp32 rows asked of bf16 pairs")
        return base.assumingMemoryBound(to: Float.self)
    }

    var pairs: UnsafeMutablePointer<UInt32> {
        precondition(form == .bfloat16Pairs, "MatmulInput: bf16 pairs asked of fp32 rows")
        return base.assumingMemoryBound(to: UInt32.self)
    }

    /// The bf16 values of pair rows, `2 · rowStride` from one row to the next.
    var bfloat16Values: UnsafeMutablePointer<UInt16> {
        precondition(form == .bfloat16Pairs, "MatmulInput: bf16 pairs asked of fp32 rows")
        return base.assumingMemoryBound(to: UInt16.self)
    }
}

/// `rmsNorm` of `rows` rows of x (`rowStride` floats apart) written as `input`, the input of the matmul that follows:
/// in pair form each normed value is rounded to bf16 as the matmul would round it.
package func rmsNorm(
    _ x: UnsafePointer<Float>, rowStride: Int, into input: MatmulInput, rows: Int, width: Int,
    weightPlusOne: UnsafePointer<Float>, epsilon: Float
) {
    precondition(input.fits(inFeatures: width), "rmsNorm: target rows narrower than \(width)")
    let kernels = KernelVariant.current.table
    switch input.form {
    case .float32:
        precondition(input.rowStride == rowStride, "rmsNorm: fp32 rows of x and of the target must share a stride")
        kernels.rmsNormRows(x, input.floats, rows, width, rowStride, weightPlusOne, epsilon)
    case .bfloat16Pairs:
        guard let dot = kernels.bfloat16Dot else {
            preconditionFailure(
                "rmsNorm: bf16 pairs for a variant without a dot product, run on \(KernelVariant.current)")
        }
        dot.rmsNormRows(x, rowStride, input.bfloat16Values, 2 * input.rowStride, rows, width, weightPlusOne, epsilon)
    }
}
