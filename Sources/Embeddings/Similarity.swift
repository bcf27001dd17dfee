/// The cosine of the angle between two vectors of the same length: 1 for the same direction, 0 for orthogonal ones,
/// −1 for opposite ones, and 0 when either is all zeros.
///
/// For the normalized vectors ``Embedder`` returns by default, this is their dot product. Sums run in `Double`, so 768-wide vectors agree with NumPy to about 1e-7.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "cosineSimilarity needs vectors of the same length (\(a.count) and \(b.count))")
    var dot = 0.0
    var normA = 0.0
    var normB = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        normA += Double(x) * Double(x)
        normB += Double(y) * Double(y)
    }
    guard normA > 0, normB > 0 else { return 0 }
    return Float(dot / (normA.squareRoot() * normB.squareRoot()))
}
