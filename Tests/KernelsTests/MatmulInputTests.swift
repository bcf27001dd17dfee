import Testing

@testable import Kernels

/// A norm or an activation that writes a matmul's input in the form the weights read (bf16 pairs on a variant with a
/// dot product) must give the bits the matmul's own rounding pass gives, and the matmul the same y. On variants
/// without a dot product the form is fp32 and both paths are the fp32 ones.
@Suite("matmul inputs written in the GEMM's form")
struct MatmulInputTests {
    let pool = ComputePool(threadCount: 2)

    /// `rows` rows of `width` values from `buffer` (rows `rowStride` floats apart) as the matmul reads them: fp32, or
    /// bf16 values widened back, with the value after an odd width (the pad of the last pair) appended.
    func written(_ buffer: [Float], rows: Int, rowStride: Int, width: Int, form: MatmulInput.Form) -> [Float] {
        var values: [Float] = []
        buffer.withUnsafeBytes { bytes in
            for row in 0..<rows {
                switch form {
                case .float32:
                    values += buffer[row * rowStride..<row * rowStride + width]
                case .bfloat16Pairs:
                    let start = row * 2 * rowStride
                    for k in 0..<(width + 1) / 2 * 2 {
                        let bits = bytes.load(fromByteOffset: 2 * (start + k), as: UInt16.self)
                        values.append(Float(bitPattern: UInt32(bits) << 16))
                    }
                }
            }
        }
        return values
    }

    /// fp32 values as the matmul's rounding pass leaves them: rounded to bf16 in pair form, a zero pad after an odd
    /// width.
    func rounded(_ values: [Float], rows: Int, rowStride: Int, width: Int, form: MatmulInput.Form) -> [Float] {
        var expected: [Float] = []
        for row in 0..<rows {
            let rowValues = values[row * rowStride..<row * rowStride + width]
            switch form {
            case .float32:
                expected += rowValues
            case .bfloat16Pairs:
                expected += rowValues.map { Float(bitPattern: UInt32(bfloat16Bits($0)) << 16) }
                if width % 2 == 1 { expected.append(0) }
            }
        }
        return expected
    }

    /// y of `matmul` on `input`, and on the fp32 rows `reference` (rows `rowStride` apart).
    func products(_ input: MatmulInput, reference: [Float], rowStride: Int, rows: Int, _ w: PackedMatrix)
        -> (fromInput: [Float], fromFloats: [Float])
    {
        var fromInput = [Float](repeating: 0, count: rows * w.outFeatures), fromFloats = fromInput
        fromInput.withUnsafeMutableBufferPointer { y in
            matmul(input, rows: rows, w, into: y.baseAddress!, rowStride: w.outFeatures, pool: pool)
        }
        reference.withUnsafeBufferPointer { x in
            fromFloats.withUnsafeMutableBufferPointer { y in
                matmul(
                    x.baseAddress!, rows: rows, rowStride: rowStride, w, into: y.baseAddress!,
                    rowStride: w.outFeatures, pool: pool)
            }
        }
        return (fromInput, fromFloats)
    }

    @Test(
        "rmsNorm written for a matmul equals the fp32 norm as the matmul rounds it; so does the product",
        arguments: [37, 768])
    func norm(width: Int) {
        forEachVariant { variant in
            var random = SplitMix(seed: UInt64(width))
            let rows = 13, rowStride = width + 3
            let x = random.floats(rows * rowStride, range: 3), plusOne = random.floats(width)
            let w = random.floats(40 * width)
            let packed = w.withUnsafeBufferPointer {
                PackedMatrix(weights: $0, outFeatures: 40, inFeatures: width, precision: .bfloat16)
            }
            var target = [Float](repeating: .nan, count: rows * rowStride), reference = target
            let form = target.withUnsafeMutableBufferPointer { t in
                x.withUnsafeBufferPointer { xp in
                    plusOne.withUnsafeBufferPointer { p in
                        let input = MatmulInput(t.baseAddress!, rowStride: rowStride, for: packed)
                        rmsNorm(
                            xp.baseAddress!, rowStride: rowStride, into: input, rows: rows, width: width,
                            weightPlusOne: p.baseAddress!, epsilon: 1e-6)
                        return input.form
                    }
                }
            }
            #expect((form == .bfloat16Pairs) == variant.multipliesBFloat16Pairs, "\(variant)")
            reference.withUnsafeMutableBufferPointer { r in
                x.withUnsafeBufferPointer { xp in
                    plusOne.withUnsafeBufferPointer { p in
                        rmsNorm(
                            xp.baseAddress!, into: r.baseAddress!, rows: rows, width: width, rowStride: rowStride,
                            weightPlusOne: p.baseAddress!, epsilon: 1e-6)
                    }
                }
            }
            #expect(
                written(target, rows: rows, rowStride: rowStride, width: width, form: form)
                    == rounded(reference, rows: rows, rowStride: rowStride, width: width, form: form), "\(variant)")
            let (fromInput, fromFloats) = target.withUnsafeMutableBufferPointer { t in
                products(
                    MatmulInput(t.baseAddress!, rowStride: rowStride, for: packed), reference: reference,
                    rowStride: rowStride, rows: rows, packed)
            }
            #expect(fromInput == fromFloats, "\(variant)")
        }
    }

    /// 45 outputs end on a partial panel pair and an odd width; 11 rows are one row block, 200 rows two.
    @Test(
        "matmulGELUGated written for the next matmul equals its fp32 output as that matmul rounds it",
        arguments: [11, 200])
    func gelu(rows: Int) {
        forEachVariant { variant in
            for outFeatures in [45, 1152] {
                var random = SplitMix(seed: UInt64(rows * outFeatures))
                let inFeatures = 64, rowStride = outFeatures + 5
                let x = random.floats(rows * inFeatures)
                let gate = random.floats(outFeatures * inFeatures, range: 0.3)
                let up = random.floats(outFeatures * inFeatures)
                let projections = gate.withUnsafeBufferPointer { g in
                    up.withUnsafeBufferPointer { u in
                        GatedProjections(
                            gate: g, up: u, outFeatures: outFeatures, inFeatures: inFeatures,
                            precision: .bfloat16)
                    }
                }
                let down = random.floats(24 * outFeatures).withUnsafeBufferPointer {
                    PackedMatrix(weights: $0, outFeatures: 24, inFeatures: outFeatures, precision: .bfloat16)
                }
                var scratch = [Float](repeating: .nan, count: rows * projections.scratchWidth)
                var target = [Float](repeating: .nan, count: rows * rowStride), reference = target
                let form = x.withUnsafeBufferPointer { xp in
                    scratch.withUnsafeMutableBufferPointer { s in
                        target.withUnsafeMutableBufferPointer { t in
                            let input = MatmulInput(t.baseAddress!, rowStride: rowStride, for: down)
                            matmulGELUGated(
                                MatmulInput(
                                    UnsafeMutablePointer(mutating: xp.baseAddress!),
                                    rowStride: inFeatures, form: .float32),
                                rows: rows, projections, scratch: s.baseAddress!, into: input, pool: pool)
                            return input.form
                        }
                    }
                }
                x.withUnsafeBufferPointer { xp in
                    scratch.withUnsafeMutableBufferPointer { s in
                        reference.withUnsafeMutableBufferPointer { r in
                            matmulGELUGated(
                                xp.baseAddress!, rows: rows, rowStride: inFeatures, projections,
                                scratch: s.baseAddress!, into: r.baseAddress!, rowStride: rowStride,
                                pool: pool)
                        }
                    }
                }
                #expect((form == .bfloat16Pairs) == variant.multipliesBFloat16Pairs, "\(variant)")
                #expect(
                    written(target, rows: rows, rowStride: rowStride, width: outFeatures, form: form)
                        == rounded(reference, rows: rows, rowStride: rowStride, width: outFeatures, form: form),
                    "\(variant) \(outFeatures)")
                let (fromInput, fromFloats) = target.withUnsafeMutableBufferPointer { t in
                    products(
                        MatmulInput(t.baseAddress!, rowStride: rowStride, for: down), reference: reference,
                        rowStride: rowStride, rows: rows, down)
                }
                #expect(fromInput == fromFloats, "\(variant) \(outFeatures)")
            }
        }
    }
}
