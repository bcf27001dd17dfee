import Testing

@testable import Kernels

@Suite("packed GEMM")
struct MatmulTests {
    let pool = ComputePool(threadCount: 2)

    /// Runs matmul on strided buffers and compares the written block with the Double reference.
    func check(m: Int, n: Int, k: Int, accumulate: Bool, precision: WeightPrecision = .float32, seed: UInt64) -> Double
    {
        var random = SplitMix(seed: seed)
        let ldx = k + 3, ldy = n + 5
        let x = random.floats(m * ldx)
        let w = random.floats(n * k)
        let initial = random.floats(m * ldy)
        var y = initial
        let packed = w.withUnsafeBufferPointer {
            PackedMatrix(weights: $0, outFeatures: n, inFeatures: k, precision: precision)
        }
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                matmul(
                    xp.baseAddress!, rows: m, rowStride: ldx, packed, into: yp.baseAddress!, rowStride: ldy,
                    accumulate: accumulate, pool: pool)
            }
        }
        // bf16 storage is checked against the product with the same rounded weights, and with x rounded too where
        // the variant multiplies bf16 pairs.
        let rounded = { (values: [Float]) in values.map { Float(bitPattern: UInt32(bfloat16Bits($0)) << 16) } }
        let effective = precision == .float32 ? w : rounded(w)
        #expect(packed.pairsAlongK == (precision == .bfloat16 && KernelVariant.current.table.bfloat16Dot != nil))
        var expected = referenceMatmul(
            packed.pairsAlongK ? rounded(x) : x, rows: m, rowStride: ldx, effective,
            outFeatures: n, inFeatures: k)
        var written: [Float] = []
        for i in 0..<m {
            for j in 0..<n {
                if accumulate { expected[i * n + j] += Double(initial[i * ldy + j]) }
                written.append(y[i * ldy + j])
            }
            // Padding between rows is never touched.
            for j in n..<ldy { #expect(y[i * ldy + j] == initial[i * ldy + j]) }
        }
        return relativeError(written, expected)
    }

    /// K = 2309 runs in several K blocks (past 1152) at every row count. 17…28 end on a tile of every height the 6-
    /// and 12-row tiles have, after a first (prefetching) tile; 7, 11 and 12 rows are two passes of 6-row tiles over
    /// a group of panels, but one 12-row tile per panel.
    @Test(
        "matches a Double reference on odd shapes, every variant, with and without accumulate",
        arguments: [1, 5, 7, 11, 12, 16] + Array(17...28) + [33, 100])
    func oddShapes(m: Int) {
        forEachVariant { variant in
            for (n, k) in [(45, 37), (70, 19), (32, 16), (40, 1030), (21, 2309), (3, 5)] {
                for accumulate in [false, true] {
                    let error = check(m: m, n: n, k: k, accumulate: accumulate, seed: UInt64(m * 1000 + n + k))
                    #expect(error < 1e-5, "\(variant) m \(m) n \(n) k \(k) accumulate \(accumulate): \(error)")
                }
            }
        }
    }

    /// From 128 rows on the panels are widened into per-thread buffers first (`MatmulPlan.widenedFromRows`); 205 rows
    /// end on a 13-row block, and K = 2309 takes two K blocks.
    @Test(
        "bf16 panels give the product of the bf16-rounded weights in fp32",
        arguments: [1, 7, 11, 12] + Array(17...28) + [33, 128, 205])
    func bfloat16(m: Int) {
        forEachVariant { variant in
            for (n, k) in [(45, 37), (64, 768), (21, 2309), (3, 5)] {
                for accumulate in [false, true] {
                    let error = check(
                        m: m, n: n, k: k, accumulate: accumulate, precision: .bfloat16, seed: UInt64(m + n * k))
                    #expect(error < 1e-5, "\(variant) m \(m) n \(n) k \(k) accumulate \(accumulate): \(error)")
                }
            }
        }
    }

    /// A block that takes several row tiles runs its panels in long groups, so its later tiles have a next panel
    /// to prefetch; a block within one tile gets a task per panel, so both threads share even a small product.
    @Test("a block of several row tiles groups its panels; one tile's worth of rows does not, unless told to")
    func panelGroups() {
        let sixRowTiles = MatmulPlan(rows: 11, inFeatures: 768, panelCount: 24, threads: 2, tileRows: 6)
        #expect(sixRowTiles.panelsPerGroup == 6 && sixRowTiles.taskCount == 4)
        let twelveRowTile = MatmulPlan(rows: 11, inFeatures: 768, panelCount: 24, threads: 2, tileRows: 12)
        #expect(twelveRowTile.panelsPerGroup == 1 && twelveRowTile.taskCount == 24)
        let oneRow = MatmulPlan(rows: 1, inFeatures: 768, panelCount: 24, threads: 2, tileRows: 6)
        #expect(oneRow.panelsPerGroup == 1)
        let grouped = MatmulPlan(rows: 1, inFeatures: 768, panelCount: 24, threads: 2, tileRows: 0)
        #expect(grouped.panelsPerGroup == 6 && grouped.taskCount == 4)
    }

    @Test("bf16 rounding is to nearest, ties to even, and halves the bytes")
    func bfloat16Rounding() {
        #expect(bfloat16Bits(1) == 0x3F80)
        #expect(bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80) // tie → even
        #expect(bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82) // tie → even
        #expect(bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(bfloat16Bits(-2.5) == 0xC020)
        let w = [Float](repeating: 0.5, count: 64 * 10)
        let single = w.withUnsafeBufferPointer { PackedMatrix(weights: $0, outFeatures: 64, inFeatures: 10) }
        let half = w.withUnsafeBufferPointer {
            PackedMatrix(weights: $0, outFeatures: 64, inFeatures: 10, precision: .bfloat16)
        }
        #expect(half.byteCount * 2 == single.byteCount)
    }

    @Test("the public entry point matches the reference on a model-sized shape")
    func modelShape() {
        var random = SplitMix(seed: 7)
        let m = 20, n = 256, k = 768
        let x = random.floats(m * k), w = random.floats(n * k)
        var y = [Float](repeating: .nan, count: m * n)
        let packed = w.withUnsafeBufferPointer { PackedMatrix(weights: $0, outFeatures: n, inFeatures: k) }
        matmul(x, rows: m, rowStride: k, packed, into: &y, rowStride: n, pool: pool)
        #expect(relativeError(y, referenceMatmul(x, rows: m, rowStride: k, w, outFeatures: n, inFeatures: k)) < 1e-5)
    }

    @Test("stacked packing equals the separate products side by side")
    func stacked() {
        var random = SplitMix(seed: 11)
        let k = 40, m = 9
        let parts = [
            (rows: 20, weights: random.floats(20 * k)), (rows: 7, weights: random.floats(7 * k)),
            (rows: 33, weights: random.floats(33 * k)),
        ]
        let x = random.floats(m * k)
        let packed = parts[0].weights.withUnsafeBufferPointer { a in
            parts[1].weights.withUnsafeBufferPointer { b in
                parts[2].weights.withUnsafeBufferPointer { c in
                    PackedMatrix(stacking: [(a, 20), (b, 7), (c, 33)], inFeatures: k)
                }
            }
        }
        #expect(packed.outFeatures == 60 && packed.inFeatures == k)
        var y = [Float](repeating: 0, count: m * 60)
        matmul(x, rows: m, rowStride: k, packed, into: &y, rowStride: 60, pool: pool)
        var column = 0
        for part in parts {
            let expected = referenceMatmul(
                x, rows: m, rowStride: k, part.weights, outFeatures: part.rows, inFeatures: k)
            for i in 0..<m {
                for j in 0..<part.rows {
                    #expect(abs(Double(y[i * 60 + column + j]) - expected[i * part.rows + j]) < 1e-5)
                }
            }
            column += part.rows
        }
    }

    @Test("zero rows writes nothing")
    func zeroRows() {
        let w = [Float](repeating: 1, count: 4 * 4)
        let packed = w.withUnsafeBufferPointer { PackedMatrix(weights: $0, outFeatures: 4, inFeatures: 4) }
        var y: [Float] = [42]
        matmul([1, 2, 3, 4], rows: 0, rowStride: 4, packed, into: &y, rowStride: 4, pool: pool)
        #expect(y == [42])
    }
}
