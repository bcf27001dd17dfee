// Vector math shared by the element-wise kernels and attention.
//
// This file is compiled once per CPU variant (Kernels = portable; KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16
// link to it).

/// eˣ for each lane, within ~2 ulp for x in [−87.3, 88]; exactly 0 below −87.3 (so masked logits vanish),
/// e⁸⁸ above 88 (finite, so 1/(1+eˣ) stays a number).
///
/// Transparent, so always inlined: `@inline(__always)` alone left it outlined in geluErf, a call per 16 lanes that
/// spilled every live vector around it (`exp` alone took 2.8% of a MiniLM corpus run).
@_transparent
func exp(_ x: Vector) -> Vector {
    let lowest: Float = -87.33654
    // Clamp with compare-and-select: the generic `clamped` and `pointwiseMin` are not vectorised.
    let highest = Vector(repeating: 88)
    let clamped = x.replacing(with: lowest, where: x .< lowest).replacing(with: highest, where: x .> highest)
    // n = round(x / ln 2) via the 1.5·2²³ trick: after the add, n sits in the low mantissa bits.
    let shifter = Vector(repeating: 12_582_912)
    let shifted = shifter.addingProduct(clamped, Vector(repeating: 1.442695041))
    let n = shifted - shifter
    // r = x − n·ln 2 in two steps (Cody–Waite) so r keeps full precision.
    var r = clamped.addingProduct(n, Vector(repeating: -0.693359375))
    r = r.addingProduct(n, Vector(repeating: 2.12194440e-4))
    // e^r on |r| ≤ ln2/2: Taylor to degree 7, truncation error < 6e-9 relative.
    var p = Vector(repeating: 1.0 / 5040).addingProduct(Vector(repeating: 1.0 / 40320), r)
    p = Vector(repeating: 1.0 / 720).addingProduct(p, r)
    p = Vector(repeating: 1.0 / 120).addingProduct(p, r)
    p = Vector(repeating: 1.0 / 24).addingProduct(p, r)
    p = Vector(repeating: 1.0 / 6).addingProduct(p, r)
    p = Vector(repeating: 0.5).addingProduct(p, r)
    p = Vector(repeating: 1).addingProduct(p, r)
    p = Vector(repeating: 1).addingProduct(p, r)
    // 2ⁿ from the exponent bits: (n + 127) << 23, with n read back from the shifted value's mantissa.
    let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127
    let scale = unsafeBitCast(bits &<< 23, to: Vector.self)
    return (p * scale).replacing(with: 0, where: x .< lowest)
}

/// Loads `count` (< 16) floats into the low lanes, `fill` in the rest.
@inline(__always)
func loadPartial(_ pointer: UnsafePointer<Float>, count: Int, fill: Float = 0) -> Vector {
    var value = Vector(repeating: fill)
    for lane in 0..<count { value[lane] = pointer[lane] }
    return value
}

/// Stores the low `count` (< 16) lanes.
@inline(__always)
func storePartial(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
    for lane in 0..<count { pointer[lane] = value[lane] }
}

/// Σ a[i]·b[i] in fp32 over four independent SIMD accumulators.
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector()
    var i = 0
    while i + 64 <= count {
        s0 = s0.addingProduct(load(a + i), load(b + i))
        s1 = s1.addingProduct(load(a + i + 16), load(b + i + 16))
        s2 = s2.addingProduct(load(a + i + 32), load(b + i + 32))
        s3 = s3.addingProduct(load(a + i + 48), load(b + i + 48))
        i += 64
    }
    while i + 16 <= count {
        s0 = s0.addingProduct(load(a + i), load(b + i))
        i += 16
    }
    if i < count {
        s1 = s1.addingProduct(loadPartial(a + i, count: count - i), loadPartial(b + i, count: count - i))
    }
    return ((s0 + s1) + (s2 + s3)).sum()
}

/// fp32 → bf16 bits, rounding to nearest, ties to even (NaN stays NaN): for packing bf16 weights (Kernels).
@inline(__always)
func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x40 }
    return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}
