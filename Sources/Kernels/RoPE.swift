import Foundation

/// cos/sin of the rotary angles φ[p, k] = p · θ^(−2k/headDim), precomputed for positions 0..<maxPositions.
///
/// Angles follow the reference: inverse frequencies and the product p·inv_freq in fp32, cos/sin of that fp32 angle.
package final class RoPETable: @unchecked Sendable {
    // @unchecked: `cosines` and `sines` are written only in init and read-only afterwards.

    /// Dimensions per head (the rotation pairs d with d + headDim/2).
    package let headDim: Int
    /// Positions the table covers: 0..<maxPositions.
    package let maxPositions: Int
    /// `[maxPositions × headDim/2]`
    let cosines: UnsafeMutablePointer<Float>
    /// `[maxPositions × headDim/2]`
    let sines: UnsafeMutablePointer<Float>

    /// Table for rotary base θ (`base`), e.g. 10 000 for sliding layers and 1 000 000 for full layers.
    package init(headDim: Int, base: Float, maxPositions: Int) {
        precondition(headDim > 0 && headDim % 2 == 0, "RoPE needs an even head dimension, got \(headDim)")
        self.headDim = headDim
        self.maxPositions = maxPositions
        let half = headDim / 2
        cosines = .allocate(capacity: maxPositions * half)
        sines = .allocate(capacity: maxPositions * half)
        for k in 0..<half {
            let inverseFrequency = Float(1 / pow(Double(base), Double(2 * k) / Double(headDim)))
            for position in 0..<maxPositions {
                let angle = Double(Float(position) * inverseFrequency)
                cosines[position * half + k] = Float(cos(angle))
                sines[position * half + k] = Float(sin(angle))
            }
        }
    }

    deinit {
        cosines.deallocate()
        sines.deallocate()
    }
}

/// Rotary position embedding in the rotate-half (NeoX) form, in place, on `heads` heads per row:
/// for d < headDim/2, `x[d] ← x[d]·cos − x[d+h]·sin` and `x[d+h] ← x[d+h]·cos + x[d]·sin` (h = headDim/2).
///
/// Row r holds its heads side by side from `x + r·rowStride` (head n at offset n·headDim) and sits at
/// position `positions[r]`, which must be below `table.maxPositions`.
package func applyRoPE(
    _ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, rowStride: Int,
    positions: UnsafePointer<Int32>, table: RoPETable
) {
    let kernels = KernelVariant.current.table
    let half = table.headDim / 2
    for row in 0..<rows {
        let position = Int(positions[row])
        precondition(
            position >= 0 && position < table.maxPositions,
            "RoPE position \(position) outside the table's 0..<\(table.maxPositions)")
        kernels.ropeRow(
            x + row * rowStride, heads, table.headDim,
            table.cosines + position * half, table.sines + position * half)
    }
}
