// The per-task bodies of matmul and attention: everything a task does between the scheduler and the tiles.
//
// This file is compiled once per CPU variant (Kernels = portable; KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16
// link to it).

import KernelsInterface

/// One matmul task: y[rows × panels' columns] (= or +=) x[rows × K] · W over panels firstPanel..<lastPanel,
/// K taken in blocks of `kBlock`. Panel p holds its 32 columns as two contiguous `[K × 16]` halves: rows of 16 floats
/// (`rowLength` 16) or of 8 bf16 pairs (`rowLength` 8).
///
/// The weights come from memory (all layers together are far larger than any cache): the first row tile over a
/// panel prefetches ahead of itself, and the later ones find the panel in cache. A short query fits in that first
/// tile, so it reads each weight once, as one stream.
///
/// With `widened` (room for `kBlock × 32` floats), each bf16 panel block is first widened there once, and every row
/// tile then runs the fp32 kernel on it instead of widening each B row again.
@inline(never)
package func matmulBlock(_ task: MatmulBlockArguments) {
    if task.bfloat16 {
        matmulBlock(
            x: task.x, ldx: task.ldx, rows: task.rows, panels: task.panels.assumingMemoryBound(to: BFloat16Pair.self),
            rowLength: 8, inFeatures: task.inFeatures, kBlock: task.kBlock, firstPanel: task.firstPanel,
            lastPanel: task.lastPanel, outFeatures: task.outFeatures, y: task.y, ldy: task.ldy,
            accumulate: task.accumulate, widened: task.widened)
    } else {
        matmulBlock(
            x: task.x, ldx: task.ldx, rows: task.rows, panels: task.panels.assumingMemoryBound(to: Float.self),
            rowLength: 16, inFeatures: task.inFeatures, kBlock: task.kBlock, firstPanel: task.firstPanel,
            lastPanel: task.lastPanel, outFeatures: task.outFeatures, y: task.y, ldy: task.ldy,
            accumulate: task.accumulate, widened: nil)
    }
}

@inline(__always)
private func matmulBlock<B: PanelElement>(
    x: UnsafePointer<Float>, ldx: Int, rows: Int, panels: UnsafePointer<B>,
    rowLength: Int, inFeatures: Int, kBlock: Int, firstPanel: Int, lastPanel: Int,
    outFeatures: Int, y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool,
    widened: UnsafeMutablePointer<Float>?
) {
    let halfLength = inFeatures * rowLength // elements from a panel's low half to its high half
    var k0 = 0
    while k0 < inFeatures {
        let kCount = min(kBlock, inFeatures - k0)
        for panel in firstPanel..<lastPanel {
            let column = panel * 32
            let a = x + k0, b = panels + 2 * panel * halfLength + k0 * rowLength, c = y + column
            let columns = min(32, outFeatures - column), accumulate = accumulate || k0 > 0
            if let widened {
                widen(b, rows: kCount, rowLength: rowLength, into: widened)
                widen(b + halfLength, rows: kCount, rowLength: rowLength, into: widened + kCount * 16)
                tileBlock(
                    operands: Widening<Float>.self, mode: NoPrefetch.self, rows: rows, kCount: kCount, a: a,
                    lda: ldx, b: UnsafePointer(widened), high: kCount * 16, ldb: 16, c: c, ldc: ldy,
                    columns: columns, accumulate: accumulate)
            } else {
                tileBlock(
                    operands: Widening<B>.self, mode: PrefetchAhead.self, rows: rows, kCount: kCount, a: a,
                    lda: ldx, b: b, high: halfLength, ldb: rowLength, c: c, ldc: ldy, columns: columns,
                    accumulate: accumulate, nextPanel: panel + 1 < lastPanel ? b + 2 * halfLength : nil,
                    panelPrefetched: panel > firstPanel)
            }
        }
        k0 += kCount
    }
}

/// Writes `rows` B rows of one panel half, `rowLength` elements apart, as fp32 rows of 16, prefetching ahead as a
/// first tile would.
@inline(__always)
private func widen<B: PanelElement>(
    _ source: UnsafePointer<B>, rows: Int, rowLength: Int,
    into target: UnsafeMutablePointer<Float>
) {
    for k in 0..<rows {
        prefetchAhead(source + k * rowLength)
        store(B.row(at: source + k * rowLength), target + k * 16)
    }
}

/// One attention task: `rows` queries of one head against the keys [keyStart, keyEnd) of their sequence.
///
/// Query i (0-based in the block, at sequence position firstQuery + i) sees keys j with |position − j| ≤ radius;
/// with `relativeBias`, its logit for key j is scale·q·k + relativeBias[j − position]. Kᵀ is packed in
/// `[headDim × 32]` panels, V in `[paddedKeys × 32]` column panels; `scores` is a `[rows × span]` scratch covering the
/// whole panels from spanStart, `rowSums` `[rows]`.
@inline(never)
package func attentionBlock(_ task: AttentionBlockArguments) {
    let rows = task.rows, headDim = task.headDim, keyStart = task.keyStart, keyEnd = task.keyEnd
    let scores = task.scores, rowSums = task.rowSums, output = task.output, ldo = task.ldo
    let firstPanel = keyStart / 32
    let lastPanel = (keyEnd + 31) / 32
    let spanStart = firstPanel * 32
    let span = (lastPanel - firstPanel) * 32
    for panel in firstPanel..<lastPanel {
        tileBlock(
            operands: Widening<Float>.self, mode: NoPrefetch.self, rows: rows, kCount: headDim, a: task.queries,
            lda: task.ldq, b: task.keyPanels + panel * headDim * 32, high: 16, ldb: 32,
            c: scores + (panel - firstPanel) * 32, ldc: span, columns: 32, accumulate: false)
    }

    for row in 0..<rows {
        let position = task.firstQuery + row
        let rowStart = max(0, position - task.radius), rowEnd = min(task.length, position + task.radius + 1)
        let scoreRow = scores + row * span
        let lo = rowStart - spanStart, hi = rowEnd - spanStart
        var logitScale = task.scale
        if let bias = task.relativeBias {
            // The bias is added to scaled logits (key rowStart + t lies rowStart + t − position away), so the
            // exponential then scales by 1.
            scale(scoreRow + lo, count: hi - lo, by: task.scale, adding: bias + (rowStart - position))
            logitScale = 1
        }
        // −∞ up to whole vectors where the span has room (always, with a full window: spans are whole panels),
        // which exponentiate to 0: the softmax then takes no lane-by-lane partial loads and stores.
        let end = min(span, lo + (hi - lo + 15) / 16 * 16)
        for j in hi..<end { scoreRow[j] = -.infinity }
        let maximum = largest(scoreRow + lo, count: end - lo)
        rowSums[row] = exponentiateShifted(scoreRow + lo, count: end - lo, shift: maximum, scale: logitScale)
        for j in 0..<lo { scoreRow[j] = 0 }
        for j in end..<span { scoreRow[j] = 0 }
    }

    // output = P · V over the visible keys, then each row divided by its softmax sum. Keys go in chunks so a
    // chunk of a V panel (≤ 32 KB) stays in cache across the block's row tiles.
    let keyChunk = 256
    var chunkStart = keyStart
    while chunkStart < keyEnd {
        let chunkKeys = min(keyChunk, keyEnd - chunkStart)
        var column = 0
        while column < headDim {
            tileBlock(
                operands: Widening<Float>.self, mode: NoPrefetch.self, rows: rows, kCount: chunkKeys,
                a: scores + (chunkStart - spanStart), lda: span,
                b: task.valuePanels + (column / 32) * task.paddedKeys * 32 + chunkStart * 32, high: 16, ldb: 32,
                c: output + column, ldc: ldo, columns: min(32, headDim - column),
                accumulate: chunkStart > keyStart)
            column += 32
        }
        chunkStart += chunkKeys
    }
    for row in 0..<rows {
        scale(output + row * ldo, count: headDim, by: 1 / rowSums[row])
    }
}

/// One head of attention over a short sequence, read straight from its Q/K/V rows: each score a dot product, their
/// softmax, then the output as a weighted sum of V rows. With a few dozen keys, packing K and V into panels for the
/// tiles (and padding the keys to whole panels) costs more than the products themselves.
///
/// Query i sees keys j with |i − j| ≤ radius, with `relativeBias[j − i]` added to each scaled logit; `scores` has
/// room for `length` floats rounded up to a multiple of 16.
@inline(never)
package func attentionDirect(_ task: AttentionDirectArguments) {
    let queries = task.queries, ldq = task.ldq, keys = task.keys, ldk = task.ldk, values = task.values, ldv = task.ldv
    let length = task.length, radius = task.radius, headDim = task.headDim, scores = task.scores
    let output = task.output, ldo = task.ldo
    for i in 0..<length {
        let first = max(0, i - radius), end = min(length, i + radius + 1)
        let count = end - first
        let query = queries + i * ldq, visibleKeys = keys + first * ldk
        // Four keys per pass share each load of the query and keep four FMA chains in flight.
        var j = 0
        while j + 4 <= count {
            let k0 = visibleKeys + j * ldk, k1 = k0 + ldk, k2 = k1 + ldk, k3 = k2 + ldk
            var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector()
            var d = 0
            while d + 16 <= headDim {
                let q = load(query + d)
                s0 = s0.addingProduct(q, load(k0 + d))
                s1 = s1.addingProduct(q, load(k1 + d))
                s2 = s2.addingProduct(q, load(k2 + d))
                s3 = s3.addingProduct(q, load(k3 + d))
                d += 16
            }
            if d < headDim {
                let q = loadPartial(query + d, count: headDim - d)
                s0 = s0.addingProduct(q, loadPartial(k0 + d, count: headDim - d))
                s1 = s1.addingProduct(q, loadPartial(k1 + d, count: headDim - d))
                s2 = s2.addingProduct(q, loadPartial(k2 + d, count: headDim - d))
                s3 = s3.addingProduct(q, loadPartial(k3 + d, count: headDim - d))
            }
            scores[j] = s0.sum()
            scores[j + 1] = s1.sum()
            scores[j + 2] = s2.sum()
            scores[j + 3] = s3.sum()
            j += 4
        }
        while j < count {
            scores[j] = dotProduct(query, visibleKeys + j * ldk, count: headDim)
            j += 1
        }
        var logitScale = task.scale
        if let bias = task.relativeBias {
            scale(scores, count: count, by: task.scale, adding: bias + (first - i))
            logitScale = 1
        }
        // −∞ up to whole vectors, which exponentiate to 0: the softmax then needs no partial loads.
        let paddedCount = (count + 15) / 16 * 16
        for j in count..<paddedCount { scores[j] = -.infinity }
        let maximum = largest(scores, count: paddedCount)
        let inverseSum = 1 / exponentiateShifted(scores, count: paddedCount, shift: maximum, scale: logitScale)
        let visibleValues = values + first * ldv, row = output + i * ldo
        // Four accumulators per step keep four FMA chains in flight across the keys.
        var d = 0
        while d + 64 <= headDim {
            var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector()
            for j in 0..<count {
                let p = Vector(repeating: scores[j]), value = visibleValues + j * ldv + d
                s0 = s0.addingProduct(p, load(value))
                s1 = s1.addingProduct(p, load(value + 16))
                s2 = s2.addingProduct(p, load(value + 32))
                s3 = s3.addingProduct(p, load(value + 48))
            }
            store(s0 * inverseSum, row + d)
            store(s1 * inverseSum, row + d + 16)
            store(s2 * inverseSum, row + d + 32)
            store(s3 * inverseSum, row + d + 48)
            d += 64
        }
        while d < headDim {
            let width = min(16, headDim - d)
            var sum = Vector()
            for j in 0..<count {
                let value = visibleValues + j * ldv + d
                sum = sum.addingProduct(
                    Vector(repeating: scores[j]),
                    width == 16 ? load(value) : loadPartial(value, count: width))
            }
            if width == 16 {
                store(sum * inverseSum, row + d)
            } else {
                storePartial(sum * inverseSum, row + d, count: width)
            }
            d += width
        }
    }
}
