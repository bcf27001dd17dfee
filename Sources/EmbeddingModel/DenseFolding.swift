import Kernels

/// One Dense module of the sentence head before packing: `weights` row-major `[outFeatures × inFeatures]`.
struct DenseParameters {
    let weights: [Float]
    let bias: [Float]?
    let outFeatures: Int
    let inFeatures: Int

    /// Multiply-adds per embedded vector.
    var multiplyAdds: Int { outFeatures * inFeatures }

    /// This layer then `next`, as one layer. With identity activations W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂)
    /// exactly; the product is formed once here in fp32, so the result differs from two passes only by rounding.
    func followed(by next: DenseParameters, pool: ComputePool) -> DenseParameters {
        precondition(
            next.inFeatures == outFeatures, "Dense chain: \(next.inFeatures) inputs after \(outFeatures) outputs")
        // The GEMM computes x·Bᵀ with B packed from a row-major [N × K]: x = W₂ `[next.out × out]`,
        // B = W₁ᵀ `[in × out]`, giving W₂W₁ `[next.out × in]`.
        var transposed = [Float](repeating: 0, count: weights.count) // [inFeatures × outFeatures]
        for row in 0..<outFeatures {
            for column in 0..<inFeatures { transposed[column * outFeatures + row] = weights[row * inFeatures + column] }
        }
        let packed = transposed.withUnsafeBufferPointer {
            PackedMatrix(weights: $0, outFeatures: inFeatures, inFeatures: outFeatures)
        }
        var product = [Float](repeating: 0, count: next.outFeatures * inFeatures) // [next.out × in]
        next.weights.withUnsafeBufferPointer { x in
            product.withUnsafeMutableBufferPointer { y in
                matmul(
                    x.baseAddress!, rows: next.outFeatures, rowStride: outFeatures, packed,
                    into: y.baseAddress!, rowStride: inFeatures, pool: pool)
            }
        }
        var foldedBias: [Float]? = next.bias
        if let bias {
            foldedBias = (0..<next.outFeatures).map { row in
                var sum = Double(next.bias?[row] ?? 0)
                for column in 0..<outFeatures {
                    sum += Double(next.weights[row * outFeatures + column]) * Double(bias[column])
                }
                return Float(sum)
            }
        }
        return DenseParameters(
            weights: product, bias: foldedBias, outFeatures: next.outFeatures, inFeatures: inFeatures)
    }
}

/// Merges each Dense layer into the one before it whenever the merged matrix costs fewer multiply-adds than the
/// two apart (EmbeddingGemma's 768→3072→768 becomes one 768×768: an eighth of the work and of the bytes read).
func foldDenseLayers(_ layers: [DenseParameters], pool: ComputePool) -> [DenseParameters] {
    var folded: [DenseParameters] = []
    for layer in layers {
        if let last = folded.last, layer.outFeatures * last.inFeatures <= last.multiplyAdds + layer.multiplyAdds {
            folded[folded.count - 1] = last.followed(by: layer, pool: pool)
        } else {
            folded.append(layer)
        }
    }
    return folded
}
