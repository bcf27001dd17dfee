import Foundation
import Kernels

/// One Dense module of the sentence head before packing: `weights` row-major `[outFeatures × inFeatures]`.
struct DenseParameters {
    let weights: [Float]
    let bias: [Float]?
    let outFeatures: Int
    let inFeatures: Int
    var activation: DenseActivation = .identity

    /// Multiply-adds per embedded vector.
    var multiplyAdds: Int { outFeatures * inFeatures }

    /// This layer (identity activation) then `next`, as one layer with `next`'s activation. With identity activations W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂)
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
            weights: product, bias: foldedBias, outFeatures: next.outFeatures, inFeatures: inFeatures,
            activation: next.activation)
    }
}

/// Merges each Dense layer into the one before it (when that one has no activation) whenever the merged matrix costs fewer multiply-adds than the
/// two apart (EmbeddingGemma's 768→3072→768 becomes one 768×768: an eighth of the work and of the bytes read).
func foldDenseLayers(_ layers: [DenseParameters], pool: ComputePool) -> [DenseParameters] {
    var folded: [DenseParameters] = []
    for layer in layers {
        if let last = folded.last, last.activation == .identity,
            layer.outFeatures * last.inFeatures <= last.multiplyAdds + layer.multiplyAdds
        {
            folded[folded.count - 1] = last.followed(by: layer, pool: pool)
        } else {
            folded.append(layer)
        }
    }
    return folded
}

/// One Linear of the sentence head: a Dense module, or several folded into one (see `foldDenseLayers`).
struct DenseWeights: Sendable {
    let matrix: PackedMatrix
    let bias: [Float]?
    let activation: DenseActivation

    /// The Dense modules of `sentence`, folded where cheaper and packed at `precision` (`pool` multiplies them).
    /// Their small matrices are copied and may be F32, BF16 or F16.
    static func load(_ sentence: SentenceConfiguration, precision: WeightPrecision, pool: ComputePool) throws
        -> [DenseWeights]
    {
        var layers: [DenseParameters] = []
        for module in sentence.denseLayers {
            let path = (module.directory as NSString).appendingPathComponent("model.safetensors")
            let file = try ModelWeights.openWeights(path)
            try ModelWeights.checkAllUsed(file, module.hasBias ? ["linear.weight", "linear.bias"] : ["linear.weight"])
            layers.append(
                DenseParameters(
                    weights: try file.floatArray("linear.weight", shape: [module.outFeatures, module.inFeatures]),
                    bias: module.hasBias ? try file.floatArray("linear.bias", shape: [module.outFeatures]) : nil,
                    outFeatures: module.outFeatures, inFeatures: module.inFeatures, activation: module.activation))
        }
        // Folded in fp32 before any bf16 rounding, so bf16 rounds the product once rather than each factor.
        return foldDenseLayers(layers, pool: pool).map { layer in
            layer.weights.withUnsafeBufferPointer {
                DenseWeights(
                    matrix: PackedMatrix(
                        weights: $0, outFeatures: layer.outFeatures, inFeatures: layer.inFeatures,
                        precision: precision),
                    bias: layer.bias, activation: layer.activation)
            }
        }
    }
}
