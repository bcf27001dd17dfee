// The bf16 GEMM of CPUs with AVX512_BF16: one vdpbf16ps multiplies 16 columns by two K rows at once, so per
// instruction it does the work of two FMAs. The weights are packed in K pairs (`PackedMatrix.pairsAlongK`: word j of
// pair row p holds W[2p][j] low and W[2p+1][j] high), and the rows of x are rounded to bf16 pairs the same way
// (`roundRowsToPairs`) once per matmul; products are exact in fp32 and accumulate in fp32.
//
// Only this variant compiles this file: the instruction needs `-target-cpu cooperlake` (or later) in the caller.

#if arch(x86_64)
import CBF16Dot
import CPrefetch

typealias PairWords = SIMD16<UInt32>

/// bf16 pairs of x against bf16 pairs of the weights: one vdpbf16ps per row of x and 16 columns, two K rows deep.
enum PairDot: TileOperands {
    @inline(__always)
    static func broadcast(_ value: UInt32) -> PairWords { PairWords(repeating: value) }

    @inline(__always)
    static func row(at pointer: UnsafePointer<UInt32>) -> PairWords {
        UnsafeRawPointer(pointer).loadUnaligned(as: PairWords.self)
    }

    @inline(__always)
    static func multiplyAdd(_ sum: Vector, _ a: PairWords, _ b: PairWords) -> Vector {
        embedDotBFloat16Pairs(sum, a, b)
    }

    /// Into L2, not L1: an 11-token bf16 query p50 7.7–8.1 ms against 8.9–9.1 with prefetcht0 (Zen 4, runs taking
    /// turns); large batches unchanged. A k step is long enough (22 dot products) to hide L2's latency.
    @inline(__always)
    static func prefetch(_ address: UnsafeRawPointer) { prefetchToL2(address) }

    static var wideTileRows: Int { 12 }
}

/// Rows of x (fp32, `ldx` apart) as bf16 pairs rounded to nearest even, `pairStride` words apart: word p of a row
/// holds x[2p] low and x[2p+1] high; an odd K ends on a pair whose high half is zero, as the packed weights do.
package func roundRowsToPairs(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int,
                              into pairs: UnsafeMutablePointer<UInt32>, pairStride: Int) {
    let values = UnsafeMutableRawPointer(pairs).assumingMemoryBound(to: UInt16.self)
    for row in 0..<rows {
        let source = x + row * ldx, target = values + row * 2 * pairStride
        var k = 0
        while k + 16 <= inFeatures {
            RowStoreBFloat16.write(load(source + k), target + k)
            k += 16
        }
        if k < inFeatures {
            RowStoreBFloat16.write(loadPartial(source + k, count: inFeatures - k), target + k, count: inFeatures - k)
        }
    }
}

/// One matmul task over K-pair bf16 panels: y[rows × panels' columns] (= or +=) x · W, x given as bf16 pairs
/// (`ldp` words per row). Panel p holds its two 16-column halves one after the other, each `[pairRows × 16]` words.
/// K goes in blocks of `pairBlock` pairs, as `matmulBlock` takes it in blocks of `kBlock` rows; the tiles and their
/// prefetching are `tileBlock`'s.
@inline(never)
package func dotMatmulBlock(pairs: UnsafePointer<UInt32>, ldp: Int, rows: Int, panels: UnsafePointer<UInt32>,
                            pairRows: Int, pairBlock: Int, firstPanel: Int, lastPanel: Int, outFeatures: Int,
                            y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
    let halfLength = pairRows * 16
    var p0 = 0
    while p0 < pairRows {
        let pairCount = min(pairBlock, pairRows - p0)
        for panel in firstPanel..<lastPanel {
            let column = panel * 32
            let b = panels + 2 * panel * halfLength + p0 * 16
            tileBlock(operands: PairDot.self, mode: PrefetchAhead.self, rows: rows, kCount: pairCount, a: pairs + p0,
                      lda: ldp, b: b, high: halfLength, ldb: 16, c: y + column, ldc: ldy,
                      columns: min(32, outFeatures - column), accumulate: accumulate || p0 > 0,
                      nextPanel: panel + 1 < lastPanel ? b + 2 * halfLength : nil, panelPrefetched: panel > firstPanel)
        }
        p0 += pairCount
    }
}
#endif
