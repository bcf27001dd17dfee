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

@inline(__always)
private func dot(_ accumulator: Vector, _ a: PairWords, _ b: PairWords) -> Vector {
    embedDotBFloat16Pairs(accumulator, a, b)
}

@inline(__always)
private func loadWords(_ pointer: UnsafePointer<UInt32>) -> PairWords {
    UnsafeRawPointer(pointer).loadUnaligned(as: PairWords.self)
}

/// Rows of x (fp32, `ldx` apart) as bf16 pairs rounded to nearest even, `pairStride` words apart: word p of a row
/// holds x[2p] low and x[2p+1] high; an odd K ends on a pair whose high half is zero, as the packed weights do.
package func roundRowsToPairs(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int,
                              into pairs: UnsafeMutablePointer<UInt32>, pairStride: Int) {
    for row in 0..<rows {
        let source = UnsafeRawPointer(x + row * ldx), target = pairs + row * pairStride
        var k = 0
        while k + 32 <= inFeatures {
            let bits = source.loadUnaligned(fromByteOffset: k * 4, as: SIMD32<UInt32>.self)
            let even = bits.evenHalf, odd = bits.oddHalf
            let low = (even &+ 0x7FFF &+ ((even &>> 16) & 1)) &>> 16
            let high = (odd &+ 0x7FFF &+ ((odd &>> 16) & 1)) & 0xFFFF_0000
            UnsafeMutableRawPointer(target + k / 2).storeBytes(of: low | high, as: PairWords.self)
            k += 32
        }
        while k < inFeatures {
            let low = UInt32(bfloat16Bits(x[row * ldx + k]))
            let high = k + 1 < inFeatures ? UInt32(bfloat16Bits(x[row * ldx + k + 1])) : 0
            target[k / 2] = low | high << 16
            k += 2
        }
    }
}

/// fp32 → bf16 bits, rounding to nearest, ties to even (NaN stays NaN).
@inline(__always)
private func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x40 }
    return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}

/// One matmul task over K-pair bf16 panels: y[rows × panels' columns] (= or +=) x · W, x given as bf16 pairs
/// (`ldp` words per row). Panel p holds its two 16-column halves one after the other, each `[pairRows × 16]` words.
/// K goes in blocks of `pairBlock` pairs, as `matmulBlock` takes it in blocks of `kBlock` rows.
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
            dotTileBlock(rows: rows, pairCount: pairCount, a: pairs + p0, lda: ldp, b: b, high: halfLength,
                         c: y + column, ldc: ldy, columns: min(32, outFeatures - column),
                         accumulate: accumulate || p0 > 0,
                         nextPanel: panel + 1 < lastPanel ? b + 2 * halfLength : nil)
        }
        p0 += pairCount
    }
}

/// C[rows × columns] (= or +=) A · B over one panel block in 12-row tiles, prefetching as `tileBlock` does: the first
/// tile streams its own B rows ahead of itself, the later ones each fetch a slice of the task's next panel.
@inline(__always)
private func dotTileBlock(rows: Int, pairCount: Int, a: UnsafePointer<UInt32>, lda: Int, b: UnsafePointer<UInt32>,
                          high: Int, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int, accumulate: Bool,
                          nextPanel: UnsafePointer<UInt32>?) {
    let rowBytes = 16 * MemoryLayout<UInt32>.stride
    let laterTiles = (rows - 1) / 12
    var row = 0, tile = 0
    while row < rows {
        let tileRows = min(12, rows - row)
        let a = a + row * lda, c = c + row * ldc
        if row == 0 {
            dotTile12x32(rows: tileRows, mode: PrefetchAhead.self, pairCount: pairCount, a: a, lda: lda, b: b,
                         high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                         prefetch: .ahead(of: b, rowBytes: rowBytes))
        } else if let nextPanel {
            dotTile12x32(rows: tileRows, mode: PrefetchAhead.self, pairCount: pairCount, a: a, lda: lda, b: b,
                         high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                         prefetch: .slice(tile - 1, of: laterTiles, rows: nextPanel, kCount: pairCount,
                                          rowBytes: rowBytes))
        } else {
            dotTile12x32(rows: tileRows, mode: NoPrefetch.self, pairCount: pairCount, a: a, lda: lda, b: b,
                         high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                         prefetch: PrefetchStream(start: UnsafeRawPointer(b), step: 0))
        }
        row += tileRows
        tile += 1
    }
}

/// 1…12 rows × up to 32 columns.
@inline(never)
private func dotTile12x32<Mode: PrefetchMode>(rows: Int, mode: Mode.Type, pairCount: Int, a: UnsafePointer<UInt32>,
                                              lda: Int, b: UnsafePointer<UInt32>, high: Int,
                                              c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int, accumulate: Bool,
                                              prefetch: PrefetchStream) {
    switch rows {
    case 12: dotTileBody(rows: Rows12.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 11: dotTileBody(rows: Rows11.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 10: dotTileBody(rows: Rows10.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 9: dotTileBody(rows: Rows9.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 8: dotTileBody(rows: Rows8.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 7: dotTileBody(rows: Rows7.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 6: dotTileBody(rows: Rows6.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 5: dotTileBody(rows: Rows5.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 4: dotTileBody(rows: Rows4.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 3: dotTileBody(rows: Rows3.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 2: dotTileBody(rows: Rows2.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    default: dotTileBody(rows: Rows1.self, mode: mode, pairCount: pairCount, a: a, lda: lda, b: b, high: high, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    }
}

/// The 12×32 tile of `tileBody12x32` with a K pair per step: two B words rows (one per half) and one broadcast pair
/// of x per row feed 24 dot products.
@inline(__always)
private func dotTileBody<Mode: PrefetchMode, R: TileRows>(rows _: R.Type, mode: Mode.Type, pairCount: Int,
                                                          a: UnsafePointer<UInt32>, lda: Int, b: UnsafePointer<UInt32>,
                                                          high: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                                                          columns: Int, accumulate: Bool, prefetch: PrefetchStream) {
    let rows = R.count
    var c00 = Vector(), c01 = Vector(), c10 = Vector(), c11 = Vector(), c20 = Vector(), c21 = Vector()
    var c30 = Vector(), c31 = Vector(), c40 = Vector(), c41 = Vector(), c50 = Vector(), c51 = Vector()
    var c60 = Vector(), c61 = Vector(), c70 = Vector(), c71 = Vector(), c80 = Vector(), c81 = Vector()
    var c90 = Vector(), c91 = Vector(), cA0 = Vector(), cA1 = Vector(), cB0 = Vector(), cB1 = Vector()
    var ap = a
    var bp = b
    var pp = prefetch.start
    let highBytes = high * MemoryLayout<UInt32>.stride
    for _ in 0..<pairCount {
        if Mode.enabled {
            // Into L2, not L1: an 11-token bf16 query p50 7.7–8.1 ms against 8.9–9.1 with prefetcht0 (Zen 4, runs
            // taking turns); large batches unchanged. The step is long enough (22 dot products) to hide L2's latency.
            prefetchToL2(pp)
            prefetchToL2(pp + highBytes)
            pp += prefetch.step
        }
        let b0 = loadWords(bp), b1 = loadWords(bp + high)
        var s = PairWords(repeating: ap[0])
        c00 = dot(c00, s, b0); c01 = dot(c01, s, b1)
        if rows > 1 { s = PairWords(repeating: ap[lda]); c10 = dot(c10, s, b0); c11 = dot(c11, s, b1) }
        if rows > 2 { s = PairWords(repeating: ap[2 * lda]); c20 = dot(c20, s, b0); c21 = dot(c21, s, b1) }
        if rows > 3 { s = PairWords(repeating: ap[3 * lda]); c30 = dot(c30, s, b0); c31 = dot(c31, s, b1) }
        if rows > 4 { s = PairWords(repeating: ap[4 * lda]); c40 = dot(c40, s, b0); c41 = dot(c41, s, b1) }
        if rows > 5 { s = PairWords(repeating: ap[5 * lda]); c50 = dot(c50, s, b0); c51 = dot(c51, s, b1) }
        if rows > 6 { s = PairWords(repeating: ap[6 * lda]); c60 = dot(c60, s, b0); c61 = dot(c61, s, b1) }
        if rows > 7 { s = PairWords(repeating: ap[7 * lda]); c70 = dot(c70, s, b0); c71 = dot(c71, s, b1) }
        if rows > 8 { s = PairWords(repeating: ap[8 * lda]); c80 = dot(c80, s, b0); c81 = dot(c81, s, b1) }
        if rows > 9 { s = PairWords(repeating: ap[9 * lda]); c90 = dot(c90, s, b0); c91 = dot(c91, s, b1) }
        if rows > 10 { s = PairWords(repeating: ap[10 * lda]); cA0 = dot(cA0, s, b0); cA1 = dot(cA1, s, b1) }
        if rows > 11 { s = PairWords(repeating: ap[11 * lda]); cB0 = dot(cB0, s, b0); cB1 = dot(cB1, s, b1) }
        ap += 1
        bp += 16
    }
    storeRow(c00, c01, c, columns: columns, accumulate: accumulate)
    if rows > 1 { storeRow(c10, c11, c + ldc, columns: columns, accumulate: accumulate) }
    if rows > 2 { storeRow(c20, c21, c + 2 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 3 { storeRow(c30, c31, c + 3 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 4 { storeRow(c40, c41, c + 4 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 5 { storeRow(c50, c51, c + 5 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 6 { storeRow(c60, c61, c + 6 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 7 { storeRow(c70, c71, c + 7 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 8 { storeRow(c80, c81, c + 8 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 9 { storeRow(c90, c91, c + 9 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 10 { storeRow(cA0, cA1, c + 10 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 11 { storeRow(cB0, cB1, c + 11 * ldc, columns: columns, accumulate: accumulate) }
}
#endif
