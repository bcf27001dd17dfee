// Plain scalar references in Double, deterministic test data, and a loop over the CPU's kernel variants.
@testable import Kernels

/// Runs `body` once per kernel variant this CPU supports (all three on an AVX-512 machine), with that variant forced.
func forEachVariant(_ body: (KernelVariant) -> Void) {
    for variant in KernelVariant.supported {
        KernelVariant.$override.withValue(variant) { body(variant) }
    }
}

/// A small deterministic generator so every run tests the same numbers.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-range, range).
    mutating func float(_ range: Float = 1) -> Float {
        (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * range
    }
    mutating func floats(_ count: Int, range: Float = 1) -> [Float] {
        (0..<count).map { _ in float(range) }
    }
}

/// y[m×n] = x[m×k]·wᵀ with w row-major [n×k], accumulated in Double.
func referenceMatmul(_ x: [Float], rows m: Int, rowStride ldx: Int, _ w: [Float], outFeatures n: Int, inFeatures k: Int)
    -> [Double]
{
    var y = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k { sum += Double(x[i * ldx + p]) * Double(w[j * k + p]) }
            y[i * n + j] = sum
        }
    }
    return y
}

/// Largest |a − b| relative to the largest |b|.
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0, scale = 1e-30
    for (x, y) in zip(a, b) {
        worst = max(worst, abs(Double(x) - y))
        scale = max(scale, abs(y))
    }
    return worst / scale
}
