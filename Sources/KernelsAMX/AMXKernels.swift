// The bf16 GEMM on Intel AMX (Sapphire Rapids and later). One tile dot product multiplies 16 rows of x by 16 columns
// of W, 16 K pairs deep: 8,192 multiply-adds, where vdpbf16ps does 256 and, on these cores, at half the FMA rate. The
// operands are those of the vdpbf16ps GEMM (`PackedMatrix.pairsAlongK`): x rounded to bf16 pairs, row after row;
// each 16-column half of a weight panel `[pairRows × 16]` words, so 16 pair rows of a half are one contiguous 1 KB
// tile. Products are exact in fp32 and accumulate in fp32, as with vdpbf16ps.
//
// Only this module is built for `sapphirerapids`: the CAMX wrappers inline here and nowhere else.

#if arch(x86_64) && os(Linux)
    import CAMX
    import CPrefetch
    import KernelsAVX512BF16
    import KernelsInterface

    /// Whether this process may use the AMX tiles: Linux grants the tile state on request (kernel 5.16 and later).
    /// Asked once, before any thread runs a tile instruction.
    package let amxPermitted: Bool = embedAMXRequestPermission() == 0

    /// The avx512bf16 kernels with the bf16 GEMM on AMX tiles.
    package let kernelTable: KernelTable = {
        // Linux must grant the tile state before any thread touches a tile, or the first tile instruction faults:
        // whoever takes this table (a forced variant too) asks first. Not a precondition: -Ounchecked drops those,
        // condition and all.
        if !amxPermitted {
            fatalError("avx512amx kernels, but Linux did not grant this process the AMX tile state")
        }
        var table = KernelsAVX512BF16.kernelTable
        table.bfloat16Dot?.matmulBlock = amxMatmulBlock
        return table
    }()

    /// K pairs per tile step, and rows or columns per tile.
    private let tileSide = 16

    /// How far ahead of a step's B tiles (in words) their lines are requested into L1: two steps. A short query streams
    /// every weight from memory once, and tile loads alone left it idle between requests: the 24 layers' bf16 weights
    /// at 11 rows take 9.0–9.8 ms against 10.3–13.4 without (Emerald Rapids). 1 KB or 4 KB ahead, or prefetcht1, did
    /// worse.
    private let prefetchDistance = 512

    /// One matmul task over K-pair bf16 panels (the signature of the vdpbf16ps `dotMatmulBlock`): y[rows × panels'
    /// columns] (= or +=) x · W, x as bf16 pairs `ldp` words per row. The accumulators hold the whole K, so
    /// `pairBlock` (the vdpbf16ps tile's K block) does not apply. Rows go 32 at a time (two A tiles), and each panel's
    /// 32 columns are two B tiles: four accumulator tiles per step.
    @inline(never)
    package func amxMatmulBlock(_ task: PairMatmulBlockArguments) {
        let pairs = task.pairs, ldp = task.ldp, rows = task.rows, panels = task.panels, pairRows = task.pairRows
        let outFeatures = task.outFeatures, y = task.y, ldy = task.ldy, accumulate = task.accumulate
        let halfLength = pairRows * tileSide
        let steps = pairRows / tileSide, tailPairs = pairRows % tileSide
        let tileWords = tileSide * tileSide
        // K tails (odd model shapes, the tests' small ones) and partial panels go through zero-padded scratch: a tile
        // always reads 16 pairs and writes 16 columns, and past the end of x, W or y is another row or not ours.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 4 * tileWords) { operandScratch in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 * 32) { resultScratch in
                let aTail = operandScratch.baseAddress!, bTail = aTail + 2 * tileWords
                let result = resultScratch.baseAddress!
                var configured = (low: 0, high: 0)
                var row0 = 0
                while row0 < rows {
                    let groupRows = min(2 * tileSide, rows - row0)
                    let low = min(tileSide, groupRows), highRows = groupRows - low
                    let high: Int32 = highRows > 0 ? 1 : 0
                    if configured != (low, highRows) {
                        embedAMXConfigure(Int32(low), Int32(highRows))
                        configured = (low, highRows)
                    }
                    let a = pairs + row0 * ldp
                    if tailPairs > 0 {
                        aTail.initialize(repeating: 0, count: 2 * tileWords)
                        for r in 0..<groupRows {
                            (aTail + r * tileSide).update(from: a + r * ldp + steps * tileSide, count: tailPairs)
                        }
                    }
                    for panel in task.firstPanel..<task.lastPanel {
                        let column = panel * 32
                        let bLow = panels + 2 * panel * halfLength, bHigh = bLow + halfLength
                        let wholePanel = outFeatures - column >= 32
                        let c = y + row0 * ldy + column
                        if accumulate && wholePanel {
                            embedAMXLoadC(c, ldy * 4, high)
                        } else {
                            embedAMXZero(high)
                        }
                        for step in 0..<steps {
                            let k = step * tileSide
                            let ahead = k * tileSide + prefetchDistance
                            for line in stride(from: 0, to: tileWords, by: 16) {
                                prefetchForRead(bLow + ahead + line)
                                prefetchForRead(bHigh + ahead + line)
                            }
                            embedAMXStep(a + k, ldp * 4, bLow + k * tileSide, bHigh + k * tileSide, high)
                        }
                        if tailPairs > 0 {
                            bTail.initialize(repeating: 0, count: 2 * tileWords)
                            let k = steps * tileSide
                            bTail.update(from: bLow + k * tileSide, count: tailPairs * tileSide)
                            (bTail + tileWords).update(from: bHigh + k * tileSide, count: tailPairs * tileSide)
                            embedAMXStep(aTail, tileSide * 4, bTail, bTail + tileWords, high)
                        }
                        if wholePanel {
                            embedAMXStoreC(c, ldy * 4, high)
                        } else {
                            embedAMXStoreC(result, 32 * 4, high)
                            let columns = outFeatures - column
                            for r in 0..<groupRows {
                                let target = c + r * ldy, source = result + r * 32
                                for j in 0..<columns { target[j] = accumulate ? target[j] + source[j] : source[j] }
                            }
                        }
                    }
                    row0 += groupRows
                }
                embedAMXRelease()
            }
        }
    }
#endif
