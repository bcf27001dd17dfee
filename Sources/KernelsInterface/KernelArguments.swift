// The arguments of the kernels with long signatures, one struct each: plain values and pointers, passed by value (no
// allocation), named at the call site instead of by position.

/// One matmul task: y[rows × panels' columns] (= or +=) x[rows × K] · W over panels firstPanel..<lastPanel, K taken
/// in blocks of `kBlock` (see `matmulBlock` in Kernels/SIMD/BlockKernels.swift).
package struct MatmulBlockArguments {
    /// `[rows × inFeatures]`, rows `ldx` apart.
    package let x: UnsafePointer<Float>
    package let ldx: Int
    package let rows: Int
    /// fp32 panels, or bf16 ones with `bfloat16`.
    package let panels: UnsafeRawPointer
    package let bfloat16: Bool
    package let inFeatures: Int
    package let kBlock: Int
    package let firstPanel: Int
    package let lastPanel: Int
    package let outFeatures: Int
    /// `[rows × outFeatures]`, rows `ldy` apart.
    package let y: UnsafeMutablePointer<Float>
    package let ldy: Int
    /// y += x · W instead of y = x · W.
    package let accumulate: Bool
    /// Room for `kBlock × 32` floats to widen each bf16 panel block into once, or nil to widen per row tile.
    package let widened: UnsafeMutablePointer<Float>?

    @inlinable
    package init(
        x: UnsafePointer<Float>, ldx: Int, rows: Int, panels: UnsafeRawPointer, bfloat16: Bool, inFeatures: Int,
        kBlock: Int, firstPanel: Int, lastPanel: Int, outFeatures: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
        accumulate: Bool, widened: UnsafeMutablePointer<Float>?
    ) {
        self.x = x
        self.ldx = ldx
        self.rows = rows
        self.panels = panels
        self.bfloat16 = bfloat16
        self.inFeatures = inFeatures
        self.kBlock = kBlock
        self.firstPanel = firstPanel
        self.lastPanel = lastPanel
        self.outFeatures = outFeatures
        self.y = y
        self.ldy = ldy
        self.accumulate = accumulate
        self.widened = widened
    }
}

/// One matmul task over K-pair bf16 panels, x given as bf16 pairs (see `dotMatmulBlock` in
/// KernelsAVX512BF16/DotKernels.swift).
package struct PairMatmulBlockArguments {
    /// `[rows × pairRows]` pair words, rows `ldp` apart.
    package let pairs: UnsafePointer<UInt32>
    package let ldp: Int
    package let rows: Int
    package let panels: UnsafePointer<UInt32>
    /// K pairs of each panel half: (K + 1) / 2.
    package let pairRows: Int
    /// K pairs per block, as `MatmulBlockArguments.kBlock` rows.
    package let pairBlock: Int
    package let firstPanel: Int
    package let lastPanel: Int
    package let outFeatures: Int
    /// `[rows × outFeatures]`, rows `ldy` apart.
    package let y: UnsafeMutablePointer<Float>
    package let ldy: Int
    /// y += x · W instead of y = x · W.
    package let accumulate: Bool

    @inlinable
    package init(
        pairs: UnsafePointer<UInt32>, ldp: Int, rows: Int, panels: UnsafePointer<UInt32>, pairRows: Int,
        pairBlock: Int, firstPanel: Int, lastPanel: Int, outFeatures: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
        accumulate: Bool
    ) {
        self.pairs = pairs
        self.ldp = ldp
        self.rows = rows
        self.panels = panels
        self.pairRows = pairRows
        self.pairBlock = pairBlock
        self.firstPanel = firstPanel
        self.lastPanel = lastPanel
        self.outFeatures = outFeatures
        self.y = y
        self.ldy = ldy
        self.accumulate = accumulate
    }
}

/// One attention task: `rows` queries of one head against the keys [keyStart, keyEnd) of their sequence, K and V
/// packed in panels (see `attentionBlock` in Kernels/SIMD/BlockKernels.swift).
package struct AttentionBlockArguments {
    /// `[rows × headDim]`, rows `ldq` apart.
    package let queries: UnsafePointer<Float>
    package let ldq: Int
    package let rows: Int
    /// Sequence position of the first query.
    package let firstQuery: Int
    /// Tokens in the sequence.
    package let length: Int
    /// Query i sees keys j with |i − j| ≤ radius.
    package let radius: Int
    /// Kᵀ in `[headDim × 32]` panels.
    package let keyPanels: UnsafePointer<Float>
    /// V in `[paddedKeys × 32]` column panels.
    package let valuePanels: UnsafePointer<Float>
    package let paddedKeys: Int
    package let headDim: Int
    package let keyStart: Int
    package let keyEnd: Int
    /// `[rows × span]` scratch over the whole key panels the block reaches.
    package let scores: UnsafeMutablePointer<Float>
    /// `[rows]` scratch.
    package let rowSums: UnsafeMutablePointer<Float>
    /// `[rows × headDim]`, rows `ldo` apart.
    package let output: UnsafeMutablePointer<Float>
    package let ldo: Int
    /// The logits' scale before the softmax.
    package let scale: Float
    /// This head's bias by relative distance, added to the scaled logit of key j from query i as
    /// `relativeBias[j − i]` (it points at distance 0 and reaches ±(length − 1)); nil adds none.
    package let relativeBias: UnsafePointer<Float>?

    @inlinable
    package init(
        queries: UnsafePointer<Float>, ldq: Int, rows: Int, firstQuery: Int, length: Int, radius: Int,
        keyPanels: UnsafePointer<Float>, valuePanels: UnsafePointer<Float>, paddedKeys: Int, headDim: Int,
        keyStart: Int, keyEnd: Int, scores: UnsafeMutablePointer<Float>, rowSums: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, ldo: Int, scale: Float, relativeBias: UnsafePointer<Float>?
    ) {
        self.queries = queries
        self.ldq = ldq
        self.rows = rows
        self.firstQuery = firstQuery
        self.length = length
        self.radius = radius
        self.keyPanels = keyPanels
        self.valuePanels = valuePanels
        self.paddedKeys = paddedKeys
        self.headDim = headDim
        self.keyStart = keyStart
        self.keyEnd = keyEnd
        self.scores = scores
        self.rowSums = rowSums
        self.output = output
        self.ldo = ldo
        self.scale = scale
        self.relativeBias = relativeBias
    }
}

/// One head of attention over a short sequence, read straight from its Q/K/V rows (see `attentionDirect` in
/// Kernels/SIMD/BlockKernels.swift).
package struct AttentionDirectArguments {
    /// `[length × headDim]`, rows `ldq` apart.
    package let queries: UnsafePointer<Float>
    package let ldq: Int
    package let keys: UnsafePointer<Float>
    package let ldk: Int
    package let values: UnsafePointer<Float>
    package let ldv: Int
    package let length: Int
    /// Query i sees keys j with |i − j| ≤ radius.
    package let radius: Int
    package let headDim: Int
    /// Room for `length` floats rounded up to a multiple of 16.
    package let scores: UnsafeMutablePointer<Float>
    /// `[length × headDim]`, rows `ldo` apart.
    package let output: UnsafeMutablePointer<Float>
    package let ldo: Int
    /// The logits' scale before the softmax.
    package let scale: Float
    /// As `AttentionBlockArguments.relativeBias`.
    package let relativeBias: UnsafePointer<Float>?

    @inlinable
    package init(
        queries: UnsafePointer<Float>, ldq: Int, keys: UnsafePointer<Float>, ldk: Int, values: UnsafePointer<Float>,
        ldv: Int, length: Int, radius: Int, headDim: Int, scores: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, ldo: Int, scale: Float, relativeBias: UnsafePointer<Float>?
    ) {
        self.queries = queries
        self.ldq = ldq
        self.keys = keys
        self.ldk = ldk
        self.values = values
        self.ldv = ldv
        self.length = length
        self.radius = radius
        self.headDim = headDim
        self.scores = scores
        self.output = output
        self.ldo = ldo
        self.scale = scale
        self.relativeBias = relativeBias
    }
}

/// x = LayerNorm(x + (y + bias)) per row, in place (see `layerNormRows` in Kernels/SIMD/LayerNormKernels.swift).
package struct LayerNormRowsArguments {
    /// Rows `rowStride` apart.
    package let x: UnsafeMutablePointer<Float>
    package let rowStride: Int
    /// Added to x first, rows `yRowStride` apart; nil adds nothing.
    package let y: UnsafePointer<Float>?
    package let yRowStride: Int
    /// `[width]` added with y; nil adds nothing.
    package let bias: UnsafePointer<Float>?
    package let rows: Int
    package let width: Int
    /// γ, `[width]`.
    package let weight: UnsafePointer<Float>
    /// β, `[width]`.
    package let shift: UnsafePointer<Float>
    package let epsilon: Float

    @inlinable
    package init(
        x: UnsafeMutablePointer<Float>, rowStride: Int, y: UnsafePointer<Float>?, yRowStride: Int,
        bias: UnsafePointer<Float>?, rows: Int, width: Int, weight: UnsafePointer<Float>, shift: UnsafePointer<Float>,
        epsilon: Float
    ) {
        self.x = x
        self.rowStride = rowStride
        self.y = y
        self.yRowStride = yRowStride
        self.bias = bias
        self.rows = rows
        self.width = width
        self.weight = weight
        self.shift = shift
        self.epsilon = epsilon
    }
}
