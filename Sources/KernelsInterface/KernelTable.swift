// What every compiled copy of the SIMD kernels exports and what Kernels calls: one table of plain function values per
// instruction set (ggml's `type_traits_cpu`), with the long signatures taken as argument structs. Each copy builds
// its table once, in the shared Kernels/SIMD/KernelTableEntries.swift; Kernels picks one table per public call and
// calls through it directly, so a kernel costs one indirect call per block or row range, never one per element.
//
// Adding a kernel (its body, a field here, its entry in KernelTableEntries.swift, the wrapper): docs/kernels.md.

/// One variant's entry points.
package struct KernelTable: Sendable {
    /// One matmul task on fp32 or widened bf16 panels.
    package let matmulBlock: @Sendable (MatmulBlockArguments) -> Void
    /// One attention task over K/V packed in panels.
    package let attentionBlock: @Sendable (AttentionBlockArguments) -> Void
    /// One head of attention over a short sequence, straight from its Q/K/V rows.
    package let attentionDirect: @Sendable (AttentionDirectArguments) -> Void
    /// y = RMSNorm(x) per row; x and y may alias.
    package let rmsNormRows: RMSNormRows
    /// residual += RMSNorm(y) per row.
    package let rmsNormAddRows: RMSNormAddRows
    /// x = softmax(x) over `count` floats.
    package let softmaxRow: @Sendable (_ x: UnsafeMutablePointer<Float>, _ count: Int) -> Void
    /// gelu(gate)·up over a block of gate/up panel pairs.
    package let geluTanhMultiplyPairs: GELUTanhMultiplyPairs
    /// Rotate-half RoPE on the heads of one row.
    package let ropeRow: RoPERow
    /// Σ a[i]·b[i].
    package let dot: @Sendable (_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float
    /// x = LayerNorm(x + (y + bias)) per row.
    package let layerNormRows: @Sendable (LayerNormRowsArguments) -> Void
    /// x += bias per row.
    package let addBiasRows: AddBiasRows
    /// x = gelu_erf(x + bias) per row; `bias` may be nil.
    package let geluErfRows: GELUErfRows
    /// Rows of a GEMM block's first row tile, for `MatmulPlan`: 12 with 32 vector registers, 6 with 16.
    package let firstTileRows: Int
    /// The bf16 dot-product GEMM, where the variant has one: bf16 weights are then packed in K pairs
    /// (`PackedMatrix.pairsAlongK`) and x is rounded to bf16 pairs for them; without it they are widened to fp32.
    package var bfloat16Dot: BFloat16DotKernels?

    package typealias RMSNormRows =
        @Sendable (
            _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ width: Int, _ rowStride: Int,
            _ weightPlusOne: UnsafePointer<Float>, _ epsilon: Float
        ) -> Void
    package typealias RMSNormAddRows =
        @Sendable (
            _ y: UnsafePointer<Float>, _ yRowStride: Int, _ residual: UnsafeMutablePointer<Float>,
            _ residualRowStride: Int, _ rows: Int, _ width: Int, _ weightPlusOne: UnsafePointer<Float>, _ epsilon: Float
        ) -> Void
    package typealias GELUTanhMultiplyPairs =
        @Sendable (
            _ products: UnsafePointer<Float>, _ productStride: Int, _ rows: Int, _ columns: Int,
            _ out: UnsafeMutablePointer<Float>, _ outStride: Int
        ) -> Void
    package typealias RoPERow =
        @Sendable (
            _ row: UnsafeMutablePointer<Float>, _ heads: Int, _ headDim: Int, _ cosines: UnsafePointer<Float>,
            _ sines: UnsafePointer<Float>
        ) -> Void
    package typealias AddBiasRows =
        @Sendable (
            _ x: UnsafeMutablePointer<Float>, _ rowStride: Int, _ rows: Int, _ columns: Int,
            _ bias: UnsafePointer<Float>
        ) -> Void
    package typealias GELUErfRows =
        @Sendable (
            _ x: UnsafeMutablePointer<Float>, _ rowStride: Int, _ rows: Int, _ columns: Int,
            _ bias: UnsafePointer<Float>?
        ) -> Void

    package init(
        matmulBlock: @escaping @Sendable (MatmulBlockArguments) -> Void,
        attentionBlock: @escaping @Sendable (AttentionBlockArguments) -> Void,
        attentionDirect: @escaping @Sendable (AttentionDirectArguments) -> Void,
        rmsNormRows: @escaping RMSNormRows, rmsNormAddRows: @escaping RMSNormAddRows,
        softmaxRow: @escaping @Sendable (UnsafeMutablePointer<Float>, Int) -> Void,
        geluTanhMultiplyPairs: @escaping GELUTanhMultiplyPairs, ropeRow: @escaping RoPERow,
        dot: @escaping @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float,
        layerNormRows: @escaping @Sendable (LayerNormRowsArguments) -> Void,
        addBiasRows: @escaping AddBiasRows, geluErfRows: @escaping GELUErfRows,
        firstTileRows: Int, bfloat16Dot: BFloat16DotKernels?
    ) {
        self.matmulBlock = matmulBlock
        self.attentionBlock = attentionBlock
        self.attentionDirect = attentionDirect
        self.rmsNormRows = rmsNormRows
        self.rmsNormAddRows = rmsNormAddRows
        self.softmaxRow = softmaxRow
        self.geluTanhMultiplyPairs = geluTanhMultiplyPairs
        self.ropeRow = ropeRow
        self.dot = dot
        self.layerNormRows = layerNormRows
        self.addBiasRows = addBiasRows
        self.geluErfRows = geluErfRows
        self.firstTileRows = firstTileRows
        self.bfloat16Dot = bfloat16Dot
    }
}

/// The entry points of a bf16 dot-product GEMM (see `KernelTable.bfloat16Dot`): on vdpbf16ps, or on AMX tiles for the
/// GEMM itself.
package struct BFloat16DotKernels: Sendable {
    /// Rows of x as bf16 pairs along K (`pairStride` words apart), rounded to nearest even.
    package let roundRowsToPairs: RoundRowsToPairs
    /// One matmul task on K-pair panels.
    package var matmulBlock: @Sendable (PairMatmulBlockArguments) -> Void
    /// `KernelTable.rmsNormRows` with y as bf16 values, `yStride` apart, rounded as `roundRowsToPairs` rounds.
    package let rmsNormRows: RMSNormRows
    /// `KernelTable.geluTanhMultiplyPairs` with out as bf16 values, rounded the same way.
    package let geluTanhMultiplyPairs: GELUTanhMultiplyPairs

    package typealias RoundRowsToPairs =
        @Sendable (
            _ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Int, _ inFeatures: Int,
            _ pairs: UnsafeMutablePointer<UInt32>, _ pairStride: Int
        ) -> Void
    package typealias RMSNormRows =
        @Sendable (
            _ x: UnsafePointer<Float>, _ ldx: Int, _ y: UnsafeMutablePointer<UInt16>, _ yStride: Int, _ rows: Int,
            _ width: Int, _ weightPlusOne: UnsafePointer<Float>, _ epsilon: Float
        ) -> Void
    package typealias GELUTanhMultiplyPairs =
        @Sendable (
            _ products: UnsafePointer<Float>, _ productStride: Int, _ rows: Int, _ columns: Int,
            _ out: UnsafeMutablePointer<UInt16>, _ outStride: Int
        ) -> Void

    package init(
        roundRowsToPairs: @escaping RoundRowsToPairs,
        matmulBlock: @escaping @Sendable (PairMatmulBlockArguments) -> Void,
        rmsNormRows: @escaping RMSNormRows, geluTanhMultiplyPairs: @escaping GELUTanhMultiplyPairs
    ) {
        self.roundRowsToPairs = roundRowsToPairs
        self.matmulBlock = matmulBlock
        self.rmsNormRows = rmsNormRows
        self.geluTanhMultiplyPairs = geluTanhMultiplyPairs
    }
}
