import Kernels

/// A 64-byte aligned buffer that keeps its memory between batches and only grows.
final class GrowableBuffer<Element> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int

    init() {
        capacity = 0
        pointer = Self.allocate(0)
    }

    deinit { pointer.deallocate() }

    /// Makes room for `count` elements; the contents are undefined afterwards.
    func reserve(_ count: Int) {
        if count <= capacity { return }
        pointer.deallocate()
        // Grow by at least half again so a slowly rising batch size does not reallocate every time.
        capacity = max(count, capacity + capacity / 2)
        pointer = Self.allocate(capacity)
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Element> {
        UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Element>.stride, alignment: 64)
            .bindMemory(to: Element.self, capacity: max(count, 1))
    }
}

/// The activations of one forward pass over a packed batch of `T` tokens, reused from batch to batch. The widths
/// below are Gemma's (`Encoder`); `BertEncoder` puts its own uses in the same buffers.
///
/// Buffers whose lifetimes do not overlap share memory: the normed block input is dead once its GEMM ran, so the
/// block's projected output goes there; q | k | v are dead after attention, so the gate and up products reuse their
/// buffer, and the attention output is dead after o_proj, so gelu(gate)·up reuses its.
final class EncoderScratch {
    /// `[T × hidden]`: the residual stream, and at the end the final-norm token states.
    let residual = GrowableBuffer<Float>()
    /// `[T × hidden]`: the normed input of the attention or MLP block, then that block's o_proj / down_proj output.
    /// The normed input is in the form its GEMM reads (`MatmulInput`): fp32, or bf16 pairs in the first half of each
    /// row.
    let normed = GrowableBuffer<Float>()
    /// `[T × max(heads·headDim, intermediate)]`: attention output, heads side by side; later gelu(gate)·up, in the
    /// form down_proj reads.
    let attention = GrowableBuffer<Float>()
    /// `[T × max((heads + 2·kvHeads)·headDim, gated scratch width)]`: q | k | v per token, later the gate and up
    /// products (`GatedProjections.scratchWidth`: 2·intermediate, rounded up to whole panels).
    let projections = GrowableBuffer<Float>()
    /// `[T]`: each token's position inside its own sequence.
    let positions = GrowableBuffer<Int32>()
    /// `[sequences × widest head layer]`: pooled vectors and the Dense outputs, used in turn.
    let pooled = GrowableBuffer<Float>()
    let dense = GrowableBuffer<Float>()

    /// Room for `tokens` tokens: `attentionWidth` and `projectionWidth` floats per token in `attention` and
    /// `projections` (each encoder knows what its layers put there), `headWidth` per sequence in the head buffers.
    func reserve(
        tokens: Int, sequences: Int, hidden: Int, attentionWidth: Int, projectionWidth: Int, headWidth: Int
    ) {
        residual.reserve(tokens * hidden)
        normed.reserve(tokens * hidden)
        attention.reserve(tokens * attentionWidth)
        projections.reserve(tokens * projectionWidth)
        positions.reserve(tokens)
        pooled.reserve(sequences * headWidth)
        dense.reserve(sequences * headWidth)
    }
}
