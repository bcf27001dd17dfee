import Foundation
import Testing

@testable import Kernels

@Suite("gated MLP GEMM")
struct GatedMatmulTests {
    let pool = ComputePool(threadCount: 2)

    /// Largest error of matmulGELUGated against gelu_tanh(x·Gᵀ)·(x·Uᵀ) in Double, relative to the largest output, with
    /// the weights (and x, where the variant multiplies bf16 pairs) rounded as the kernel rounds them.
    func check(m: Int, outFeatures n: Int, inFeatures k: Int, precision: WeightPrecision, seed: UInt64) -> Double {
        var random = SplitMix(seed: seed)
        let ldx = k + 3, ldy = n + 5
        let x = random.floats(m * ldx), gate = random.floats(n * k, range: 0.3), up = random.floats(n * k)
        let projections = gate.withUnsafeBufferPointer { g in
            up.withUnsafeBufferPointer { u in
                GatedProjections(gate: g, up: u, outFeatures: n, inFeatures: k, precision: precision)
            }
        }
        #expect(projections.scratchWidth == GatedProjections.scratchWidth(outFeatures: n))
        #expect(projections.scratchWidth % (2 * PackedMatrix.panelWidth) == 0 && projections.scratchWidth >= 2 * n)
        var scratch = [Float](repeating: .nan, count: m * projections.scratchWidth)
        let initial = random.floats(m * ldy)
        var y = initial
        x.withUnsafeBufferPointer { xp in
            scratch.withUnsafeMutableBufferPointer { sp in
                y.withUnsafeMutableBufferPointer { yp in
                    matmulGELUGated(
                        xp.baseAddress!, rows: m, rowStride: ldx, projections, scratch: sp.baseAddress!,
                        into: yp.baseAddress!, rowStride: ldy, pool: pool)
                }
            }
        }
        let rounded = { (values: [Float]) in values.map { Float(bitPattern: UInt32(bfloat16Bits($0)) << 16) } }
        let pairs = projections.packed.pairsAlongK
        let effective = { (w: [Float]) in precision == .float32 ? w : rounded(w) }
        let a = pairs ? rounded(x) : x
        let gates = referenceMatmul(a, rows: m, rowStride: ldx, effective(gate), outFeatures: n, inFeatures: k)
        let ups = referenceMatmul(a, rows: m, rowStride: ldx, effective(up), outFeatures: n, inFeatures: k)
        var expected: [Double] = [], written: [Float] = []
        for i in 0..<m {
            for j in 0..<n {
                let u = gates[i * n + j]
                expected.append(
                    u / (1 + Foundation.exp(-2 * 0.7978845608028654 * (u + 0.044715 * u * u * u)))
                        * ups[i * n + j])
                written.append(y[i * ldy + j])
            }
            // Padding between rows is never touched.
            for j in n..<ldy { #expect(y[i * ldy + j] == initial[i * ldy + j]) }
        }
        return relativeError(written, expected)
    }

    /// 40 and 100 outputs end on a partial panel pair; 1152 is the model's width. 11 rows take one 12-row tile with
    /// the panels in groups, 200 rows two row blocks with the bf16 panels widened.
    @Test("equals gelu_tanh(x·Gᵀ)·(x·Uᵀ) on odd shapes, every variant and precision", arguments: [1, 11, 33, 200])
    func oddShapes(m: Int) {
        forEachVariant { variant in
            for (n, k) in [(40, 37), (64, 48), (100, 19), (1152, 64)] {
                for precision in WeightPrecision.allCases {
                    let error = check(
                        m: m, outFeatures: n, inFeatures: k, precision: precision,
                        seed: UInt64(m * 1000 + n + k))
                    #expect(error < 1e-5, "\(variant) \(precision) m \(m) n \(n) k \(k): \(error)")
                }
            }
        }
    }

    @Test("tasks take whole gate/up panel pairs at every thread count and height")
    func wholePairs() {
        for threads in 1...5 {
            for rows in [1, 11, 300] {
                for tileRows in [0, 6, 12] {
                    let plan = MatmulPlan(
                        rows: rows, inFeatures: 768, panelCount: 72, threads: threads,
                        tileRows: tileRows, panelMultiple: 2)
                    #expect(plan.panelsPerGroup % 2 == 0, "threads \(threads) rows \(rows) tile rows \(tileRows)")
                }
            }
        }
    }
}
