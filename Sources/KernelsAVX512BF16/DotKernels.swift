// The bf16 GEMM of CPUs with AVX512_BF16: one vdpbf16ps multiplies 16 columns by two K rows at once, so per
// instruction it does the work of two FMAs. The weights are packed in K pairs (`PackedMatrix.pairsAlongK`: word j of
// pair row p holds W[2p][j] low and W[2p+1][j] high), and the rows of x are rounded to bf16 pairs the same way
// (`roundRowsToPairs`) once per matmul; products are exact in fp32 and accumulate in fp32.
//
// Only this variant compiles this file: the instruction needs `-target-cpu cooperlake` (or later) in the caller.

#if arch(x86_64)
    import CBF16Dot
    import CPrefetch
    import KernelsInterface

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

        /// Into L2, not L1: an 11-token bf16 query p50 7.7–8.1 ms against 8.9–9.1 with prefetcht0 (Zen 4); large
        /// batches unchanged. A k step is long enough (22 dot products) to hide L2's latency.
        @inline(__always)
        static func prefetch(_ address: UnsafeRawPointer) { prefetchToL2(address) }

        static var wideTileRows: Int { 12 }
    }

    /// Rows of x (fp32, `ldx` apart) as bf16 pairs rounded to nearest even, `pairStride` words apart: word p of a row
    /// holds x[2p] low and x[2p+1] high; an odd K ends on a pair whose high half is zero, as the packed weights do.
    package func roundRowsToPairs(
        _ x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int,
        into pairs: UnsafeMutablePointer<UInt32>, pairStride: Int
    ) {
        let values = UnsafeMutableRawPointer(pairs).assumingMemoryBound(to: UInt16.self)
        for row in 0..<rows {
            let source = x + row * ldx, target = values + row * 2 * pairStride
            var k = 0
            while k + 16 <= inFeatures {
                RowStoreBFloat16.write(load(source + k), target + k)
                k += 16
            }
            if k < inFeatures {
                RowStoreBFloat16.write(
                    loadPartial(source + k, count: inFeatures - k), target + k, count: inFeatures - k)
            }
        }
    }

    /// One matmul task over K-pair bf16 panels: y[rows × panels' columns] (= or +=) x · W, x given as bf16 pairs
    /// (`ldp` words per row). Panel p holds its two 16-column halves one after the other, each `[pairRows × 16]` words.
    /// K goes in blocks of `pairBlock` pairs, as `matmulBlock` takes it in blocks of `kBlock` rows; the tiles and their
    /// prefetching are `tileBlock`'s.
    @inline(never)
    package func dotMatmulBlock(_ task: PairMatmulBlockArguments) {
        let pairRows = task.pairRows, firstPanel = task.firstPanel, lastPanel = task.lastPanel
        let halfLength = pairRows * 16
        var p0 = 0
        while p0 < pairRows {
            let pairCount = min(task.pairBlock, pairRows - p0)
            for panel in firstPanel..<lastPanel {
                let column = panel * 32
                let b = task.panels + 2 * panel * halfLength + p0 * 16
                tileBlock(
                    operands: PairDot.self, mode: PrefetchAhead.self, rows: task.rows, kCount: pairCount,
                    a: task.pairs + p0, lda: task.ldp, b: b, high: halfLength, ldb: 16, c: task.y + column,
                    ldc: task.ldy, columns: min(32, task.outFeatures - column), accumulate: task.accumulate || p0 > 0,
                    nextPanel: panel + 1 < lastPanel ? b + 2 * halfLength : nil, panelPrefetched: panel > firstPanel)
            }
            p0 += pairCount
        }
    }
#endif

#if arch(x86_64)
    #if canImport(Glibc)
        import Glibc
    #elseif canImport(Darwin)
        import Darwin
    #endif

    /// How many times the work per second of vfmadd231ps this core does with vdpbf16ps (which does two multiply-adds
    /// per lane): each as 12 independent chains, enough to keep both pipes busy at their latencies, best of three
    /// runs of about 0.1 ms. The instruction is not fast everywhere: Zen 4 runs it at the FMA rate, twice the work,
    /// while Emerald Rapids runs it at half the FMA rate, the same work as one FMA (75 against 155 GFLOP/s per core).
    package func measuredDotSpeedOverFMA() -> Double {
        let iterations = 8_192
        var best = (fma: UInt64.max, dot: UInt64.max)
        var sink = Vector(repeating: 0)
        for _ in 0..<3 {
            var start = monotonicNanoseconds()
            sink += fmaChains(iterations)
            best.fma = min(best.fma, monotonicNanoseconds() - start)
            start = monotonicNanoseconds()
            sink += dotChains(iterations)
            best.dot = min(best.dot, monotonicNanoseconds() - start)
        }
        // The sums keep both loops from being optimised away; they are finite for these operands.
        let ratio = 2 * Double(best.fma) / Double(max(1, best.dot))
        return sink.sum().isFinite ? ratio : 0
    }

    // The FMA and dot chains are two functions on purpose: one generic over `TileOperands` measured 0.94–1.01 for
    // both on Emerald Rapids (the loop no longer ran at either instruction's rate), against 0.49–0.50 for these two.
    @inline(never)
    private func fmaChains(_ iterations: Int) -> Vector {
        let a = Vector(repeating: 0.999), b = Vector(repeating: 0.001)
        var c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b
        for _ in 0..<iterations {
            c0 = c0.addingProduct(a, b); c1 = c1.addingProduct(a, b); c2 = c2.addingProduct(a, b)
            c3 = c3.addingProduct(a, b); c4 = c4.addingProduct(a, b); c5 = c5.addingProduct(a, b)
            c6 = c6.addingProduct(a, b); c7 = c7.addingProduct(a, b); c8 = c8.addingProduct(a, b)
            c9 = c9.addingProduct(a, b); c10 = c10.addingProduct(a, b); c11 = c11.addingProduct(a, b)
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11
    }

    @inline(never)
    private func dotChains(_ iterations: Int) -> Vector {
        // bf16 pairs (0.5, 0.5) and (0.001, 0.001) as words: the sums stay small and finite.
        let a = PairWords(repeating: 0x3F00_3F00), b = PairWords(repeating: 0x3A83_3A83)
        let zero = Vector(repeating: 0)
        var c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero
        var c6 = zero, c7 = zero, c8 = zero, c9 = zero, c10 = zero, c11 = zero
        for _ in 0..<iterations {
            c0 = PairDot.multiplyAdd(c0, a, b); c1 = PairDot.multiplyAdd(c1, a, b); c2 = PairDot.multiplyAdd(c2, a, b)
            c3 = PairDot.multiplyAdd(c3, a, b); c4 = PairDot.multiplyAdd(c4, a, b); c5 = PairDot.multiplyAdd(c5, a, b)
            c6 = PairDot.multiplyAdd(c6, a, b); c7 = PairDot.multiplyAdd(c7, a, b); c8 = PairDot.multiplyAdd(c8, a, b)
            c9 = PairDot.multiplyAdd(c9, a, b); c10 = PairDot.multiplyAdd(c10, a, b);
            c11 = PairDot.multiplyAdd(c11, a, b)
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11
    }

    private func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
#endif
