// Bias-add epilogues of a Linear, alone or with the exact (erf) GELU, on raw pointers: SIMD16, fp32, no allocation.
// The public wrappers in BiasActivation.swift document the math.
//
// This file is compiled once per CPU variant (Kernels = portable; KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16
// link to it).

/// x[r][c] += bias[c] for c < `columns` of `rows` rows.
@inline(never)
package func addBiasRows(
    _ x: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, columns: Int, bias: UnsafePointer<Float>
) {
    for row in 0..<rows {
        let target = x + row * rowStride
        var c = 0
        while c + 16 <= columns {
            store(load(target + c) + load(bias + c), target + c)
            c += 16
        }
        for j in c..<columns { target[j] += bias[j] }
    }
}

/// x[r][c] = gelu(x[r][c] + bias[c]) with the exact GELU ½·u·(1 + erf(u/√2)); `bias` may be nil.
@inline(never)
package func geluErfRows(
    _ x: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, columns: Int, bias: UnsafePointer<Float>?
) {
    for row in 0..<rows {
        let target = x + row * rowStride
        var c = 0
        while c + 16 <= columns {
            var u = load(target + c)
            if let bias { u += load(bias + c) }
            store(geluErf(u), target + c)
            c += 16
        }
        if c < columns {
            let tail = columns - c
            var u = loadPartial(target + c, count: tail)
            if let bias { u += loadPartial(bias + c, count: tail) }
            storePartial(geluErf(u), target + c, count: tail)
        }
    }
}

/// gelu(u) = ½·u·erfc(−u/√2), so that neither tail cancels: for u < 0 erfc is evaluated directly (tiny and exact in
/// relative terms), for u ≥ 0 as 2 − erfc(|z|).
///
/// erfc(a) for a ≥ 0 is Numerical Recipes' Chebyshev fit t·exp(−a² + P(t)), t = 1/(1 + a/2), relative error
/// < 1.2e-7 everywhere. The exponent −a² + P(t) is carried as its fp32 value plus the exact errors of squaring (one
/// FMA) and of the sum (two-sum), which enter as the factor (1 + error): without them the tail loses up to
/// |exponent|·2⁻²⁴ relative (1e-6 at u = −5, 3e-6 at u = −10).
@inline(__always)
func geluErf(_ u: Vector) -> Vector {
    let z = u * -0.70710678118654752 // −u/√2
    // |z| capped at 10, where erfc (2e-45) has left fp32's normal range: a² stays finite, so does its remainder.
    let magnitude = z.replacing(with: -z, where: z .< 0)
    let a = magnitude.replacing(with: 10, where: magnitude .> 10)
    let t = 1 / (1 + 0.5 * a)
    var p = Vector(repeating: -0.82215223).addingProduct(Vector(repeating: 0.17087277), t)
    p = Vector(repeating: 1.48851587).addingProduct(p, t)
    p = Vector(repeating: -1.13520398).addingProduct(p, t)
    p = Vector(repeating: 0.27886807).addingProduct(p, t)
    p = Vector(repeating: -0.18628806).addingProduct(p, t)
    p = Vector(repeating: 0.09678418).addingProduct(p, t)
    p = Vector(repeating: 0.37409196).addingProduct(p, t)
    p = Vector(repeating: 1.00002368).addingProduct(p, t)
    p = Vector(repeating: -1.26551223).addingProduct(p, t)
    let square = a * a
    let remainder = (-square).addingProduct(a, a) // a² − fl(a²), exact
    // The exponent P − a² rounded, and what that rounding lost (Knuth's two-sum), which enters as a factor too.
    let exponent = p - square
    let back = exponent - p
    let lost = (p - (exponent - back)) + (-square - back)
    let tail = (t * exp(exponent) * (1 + (lost - remainder))).replacing(with: 0, where: magnitude .> 10)
    let complement = tail.replacing(with: 2 - tail, where: z .< 0)
    return 0.5 * u * complement
}
