/// How packed weights are stored: fp32 (exact) or bf16 (half the bytes; widened to fp32 in the micro-kernel, or
/// multiplied as bf16 pairs where the CPU has a bf16 dot product).
package enum WeightPrecision: String, Sendable, CaseIterable {
    case float32
    /// fp32 weights rounded to nearest-even bf16 at pack time. Accumulation stays fp32, and so do activations except
    /// on CPUs with AVX512-BF16 (kernel variant `avx512bf16`): there the weight GEMMs round them to bf16 and multiply
    /// pairs with vdpbf16ps.
    case bfloat16
}

/// Weights of a Linear layer y = x·Wᵀ, packed once at load into the panel layout the GEMM reads.
///
/// Layout: output features are cut into panels of `PackedMatrix.panelWidth` (32) columns, zero-padded past
/// `outFeatures`. Panel p holds Wᵀ[0..<inFeatures, 32p..<32p+16] row after row (16 values, one SIMD16 per row),
/// then Wᵀ[0..<inFeatures, 32p+16..<32p+32] the same way: each half is one contiguous stream, so a pass over it
/// reads whole cache lines in order. In bf16 (the high 16 bits of the rounded fp32) a row of a half is 8 words, word j
/// holding column j in its low half and column j + 8 in its high half, so widening needs no shuffle. For a variant
/// with a bf16 dot product (`pairsAlongK`) a half holds pairs of rows instead: word j of pair p holds W[2p][j] in its
/// low half and W[2p+1][j] in its high half (zero past an odd K), the operand layout of vdpbf16ps.
package final class PackedMatrix: @unchecked Sendable {
    // @unchecked: `storage` is written only in init and read-only afterwards; it is freed in deinit.

    /// Columns per panel.
    package static let panelWidth = 32

    /// Input width K (columns of x).
    package let inFeatures: Int
    /// Output width N (columns of y).
    package let outFeatures: Int
    /// Number of 32-column panels, `ceil(outFeatures / 32)`.
    package let panelCount: Int
    /// Storage type of the packed weights.
    package let precision: WeightPrecision
    /// bf16 weights packed in K pairs for the dot-product GEMM of the kernel variant current at packing time.
    let pairsAlongK: Bool
    /// K rows stored per half: `inFeatures`, rounded up to even when packed in pairs.
    let storedRows: Int
    /// `[panelCount × 2 × storedRows × 16]` weights (fp32 or bf16), 64-byte aligned.
    let storage: UnsafeMutableRawPointer

    /// Bytes the packed weights occupy.
    package var byteCount: Int { panelCount * storedRows * Self.panelWidth * (precision == .float32 ? 4 : 2) }

    /// `weights` is row-major [outFeatures × inFeatures] (PyTorch Linear layout).
    package init(
        weights: UnsafeBufferPointer<Float>, outFeatures: Int, inFeatures: Int,
        precision: WeightPrecision = .float32
    ) {
        precondition(outFeatures > 0 && inFeatures > 0, "PackedMatrix needs positive dimensions")
        precondition(
            weights.count >= outFeatures * inFeatures,
            "PackedMatrix: \(weights.count) weights for a \(outFeatures)×\(inFeatures) matrix")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.precision = precision
        pairsAlongK = precision == .bfloat16 && KernelVariant.current.table.bfloat16Dot != nil
        panelCount = (outFeatures + Self.panelWidth - 1) / Self.panelWidth
        storedRows = pairsAlongK ? (inFeatures + 1) / 2 * 2 : inFeatures
        let bytes = panelCount * storedRows * Self.panelWidth * (precision == .float32 ? 4 : 2)
        storage = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        let source = weights.baseAddress!
        switch precision {
        case .float32:
            let values = storage.assumingMemoryBound(to: Float.self)
            for n in 0..<outFeatures {
                let column = values + Self.halfStart(column: n, inFeatures: inFeatures) + n % 16
                for k in 0..<inFeatures { column[k * 16] = source[n * inFeatures + k] }
            }
        case .bfloat16 where pairsAlongK:
            let values = storage.assumingMemoryBound(to: UInt16.self)
            let pairRows = storedRows / 2
            for n in 0..<outFeatures {
                // Halves of pairRows × 16 words; W[n][k] is the (k % 2)th UInt16 of word n % 16 in pair row k / 2.
                let column = values + n / 16 * pairRows * 32 + (n % 16) * 2
                for k in 0..<inFeatures { column[k / 2 * 32 + k % 2] = bfloat16Bits(source[n * inFeatures + k]) }
            }
        case .bfloat16:
            let values = storage.assumingMemoryBound(to: UInt16.self)
            for n in 0..<outFeatures {
                // Word `inRow % 8` of a row: its low half (first UInt16, little-endian) for the first 8 columns.
                let inRow = n % 16
                let column = values + Self.halfStart(column: n, inFeatures: inFeatures) + (inRow % 8) * 2 + inRow / 8
                for k in 0..<inFeatures { column[k * 16] = bfloat16Bits(source[n * inFeatures + k]) }
            }
        }
    }

    /// Several Linear layers with the same inFeatures, concatenated along outFeatures (e.g. q|k|v).
    /// Output columns of part i start at the sum of the earlier parts' `outFeatures`.
    package convenience init(
        stacking parts: [(weights: UnsafeBufferPointer<Float>, outFeatures: Int)], inFeatures: Int,
        precision: WeightPrecision = .float32
    ) {
        let total = parts.reduce(0) { $0 + $1.outFeatures }
        let stacked = UnsafeMutableBufferPointer<Float>.allocate(capacity: total * inFeatures)
        defer { stacked.deallocate() }
        var offset = 0
        for part in parts {
            let count = part.outFeatures * inFeatures
            precondition(
                part.weights.count >= count,
                "PackedMatrix stacking: \(part.weights.count) weights for a \(part.outFeatures)×\(inFeatures) part")
            _ = UnsafeMutableBufferPointer(rebasing: stacked[offset..<offset + count])
                .initialize(from: part.weights[0..<count])
            offset += count
        }
        self.init(
            weights: UnsafeBufferPointer(stacked), outFeatures: total, inFeatures: inFeatures, precision: precision)
    }

    deinit { storage.deallocate() }

    /// Element index where the 16-column half holding output column n starts (halves are stored one after the
    /// other, 16 elements per row); row k of it starts 16·k further.
    static func halfStart(column n: Int, inFeatures: Int) -> Int { n / 16 * inFeatures * 16 }
}
