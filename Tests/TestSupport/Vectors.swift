/// Cosine similarity in Float64.
package func cosine(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "cosine of vectors of different lengths \(a.count) and \(b.count)")
    var dot = 0.0, aa = 0.0, bb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        aa += Double(x) * Double(x)
        bb += Double(y) * Double(y)
    }
    return dot / (aa.squareRoot() * bb.squareRoot())
}

/// Euclidean length in Float64.
package func norm(_ vector: [Float]) -> Double {
    vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
}

/// Largest |a[i] − b[i]|.
package func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "comparing vectors of different lengths \(a.count) and \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
