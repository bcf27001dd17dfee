// The BERT-family normalizers (BertNormalizer, Lowercase, NFD, StripAccents) over a `NormalizedPiece`. Every one of
// them maps each scalar on its own, so each output scalar keeps the original range of the scalar it came from: that
// is HF's alignment for filtered, mapped, split and inserted characters alike (an inserted character takes the
// alignment of the one before it, which is the same source). The classes come from HF's tables (UnicodeTables.swift).

/// BertNormalizer's options, with `strip_accents: null` already resolved to `lowercase`.
struct BertNormalizerOptions: Sendable, Equatable {
    var cleanText: Bool
    var handleChineseChars: Bool
    var stripAccents: Bool
    var lowercase: Bool
}

extension NormalizedPiece {
    /// HF `BertNormalizer::normalize`: clean text, then space out CJK ideographs, then NFD and drop non-spacing
    /// marks, then lowercase.
    mutating func bertNormalize(_ options: BertNormalizerOptions) {
        // Printable ASCII, tab, LF and CR need no new arrays: only the three controls and capitals change.
        if scalars.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            for i in scalars.indices {
                let scalar = scalars[i]
                if options.cleanText && scalar < 0x20 {
                    scalars[i] = 0x20
                } else if options.lowercase && scalar >= 0x41 && scalar <= 0x5A {
                    scalars[i] = scalar + 0x20
                }
            }
            return
        }
        transformEachScalar { scalar, output in
            if options.cleanText {
                if isRemovedByCleanText(scalar) { return }
                if isBertWhitespace(scalar) {
                    output.append(0x20)
                    return
                }
            }
            if options.handleChineseChars && isChineseCharacter(scalar) {
                output.append(0x20)
                appendStrippedAndLowercased(scalar, options, to: &output)
                output.append(0x20)
            } else {
                appendStrippedAndLowercased(scalar, options, to: &output)
            }
        }
    }

    /// HF `Lowercase`: Rust's full `char::to_lowercase` mapping (one scalar may become several).
    mutating func lowercase() {
        transformEachScalar { scalar, output in appendLowercase(of: scalar, to: &output) }
    }

    /// HF `StripAccents`: drops combining marks of every category (after an NFD, that strips accents).
    mutating func stripCombiningMarks() {
        transformEachScalar { scalar, output in
            if !(scalar >= 0x300 && inRanges(scalar, HFUnicodeTables.combiningMarks)) { output.append(scalar) }
        }
    }

    /// HF `NFD`: full canonical decomposition, then marks put in canonical order. A reordered mark keeps the original
    /// range of the scalar it came from (HF gives it the range of the position it lands on; the two differ only for
    /// marks typed out of canonical order).
    mutating func decomposeCanonically() {
        transformEachScalar { scalar, output in appendDecomposition(of: scalar, to: &output) }
        var i = 0
        while i < scalars.count {
            guard combiningClass(scalars[i]) != 0 else {
                i += 1
                continue
            }
            var end = i
            while end < scalars.count && combiningClass(scalars[end]) != 0 { end += 1 }
            if end - i > 1 {
                let run = (i..<end).map { (scalars[$0], originalStarts[$0], originalEnds[$0]) }
                // Stable: marks of equal class keep their order.
                let sorted = run.enumerated().sorted {
                    let (a, b) = (combiningClass($0.element.0), combiningClass($1.element.0))
                    return a != b ? a < b : $0.offset < $1.offset
                }
                for (k, item) in sorted.enumerated() {
                    (scalars[i + k], originalStarts[i + k], originalEnds[i + k]) = item.element
                }
            }
            i = end
        }
    }

    /// Rebuilds the piece from `body`'s output for each scalar; every output scalar takes its source's range.
    private mutating func transformEachScalar(_ body: (UInt32, inout [UInt32]) -> Void) {
        var newScalars: [UInt32] = []
        var newStarts: [Int32] = []
        var newEnds: [Int32] = []
        newScalars.reserveCapacity(scalars.count + 8)
        newStarts.reserveCapacity(scalars.count + 8)
        newEnds.reserveCapacity(scalars.count + 8)
        var output: [UInt32] = []
        for i in scalars.indices {
            output.removeAll(keepingCapacity: true)
            body(scalars[i], &output)
            for scalar in output {
                newScalars.append(scalar)
                newStarts.append(originalStarts[i])
                newEnds.append(originalEnds[i])
            }
        }
        reset(scalars: newScalars, originalStarts: newStarts, originalEnds: newEnds)
    }
}

/// Appends `scalar` decomposed without its non-spacing marks and lowercased, as the options say; no allocation for
/// the common one-scalar case.
@inline(__always)
private func appendStrippedAndLowercased(
    _ scalar: UInt32, _ options: BertNormalizerOptions, to output: inout [UInt32]
) {
    let start = output.count
    if options.stripAccents {
        appendDecomposition(of: scalar, to: &output)
        var kept = start
        for i in start..<output.count where !isHFNonspacingMark(output[i]) {
            output[kept] = output[i]
            kept += 1
        }
        output.removeSubrange(kept...)
    } else {
        output.append(scalar)
    }
    guard options.lowercase else { return }
    switch output.count - start {
    case 0: return
    case 1: appendLowercase(of: output.removeLast(), to: &output)
    default:
        let stripped = Array(output[start...])
        output.removeSubrange(start...)
        for s in stripped { appendLowercase(of: s, to: &output) }
    }
}

/// Whether `value` lies in one of the sorted inclusive `[first, last]` ranges of a flat table.
func inRanges(_ value: UInt32, _ table: [UInt32]) -> Bool {
    var low = 0
    var high = table.count / 2
    while low < high {
        let middle = (low + high) / 2
        if table[2 * middle + 1] < value {
            low = middle + 1
        } else {
            high = middle
        }
    }
    return low < table.count / 2 && table[2 * low] <= value
}

/// BertNormalizer's clean_text drops NUL, U+FFFD and the "other" categories except tab, LF and CR.
@inline(__always)
func isRemovedByCleanText(_ scalar: UInt32) -> Bool {
    if scalar < 0x80 { return scalar < 0x20 ? scalar != 0x09 && scalar != 0x0A && scalar != 0x0D : scalar == 0x7F }
    return inRanges(scalar, HFUnicodeTables.removedByCleanText)
}

/// BertNormalizer's whitespace (mapped to a space): tab, LF, CR and Rust's `char::is_whitespace` (White_Space).
@inline(__always)
func isBertWhitespace(_ scalar: UInt32) -> Bool {
    if scalar < 0x80 { return scalar == 0x20 || (scalar >= 0x09 && scalar <= 0x0D) }
    return isWhitespaceScalar(scalar)
}

/// BERT's CJK ideograph blocks (HF `is_chinese_char`), spaced out so each becomes its own word.
@inline(__always)
func isChineseCharacter(_ scalar: UInt32) -> Bool {
    switch scalar {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
        0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
        return true
    default:
        return false
    }
}

/// BertNormalizer's accents: non-spacing marks (Mn) only, by HF's tables.
@inline(__always)
func isHFNonspacingMark(_ scalar: UInt32) -> Bool {
    scalar >= 0x300 && inRanges(scalar, HFUnicodeTables.nonspacingMarks)
}

/// BertPreTokenizer's punctuation: ASCII punctuation, or HF's Unicode punctuation categories.
@inline(__always)
func isBertPunctuation(_ scalar: UInt32) -> Bool {
    if scalar < 0x80 {
        return (scalar >= 0x21 && scalar <= 0x2F) || (scalar >= 0x3A && scalar <= 0x40)
            || (scalar >= 0x5B && scalar <= 0x60) || (scalar >= 0x7B && scalar <= 0x7E)
    }
    return inRanges(scalar, HFUnicodeTables.punctuation)
}

/// Appends the full canonical decomposition of `scalar` (itself when it has none).
func appendDecomposition(of scalar: UInt32, to output: inout [UInt32]) {
    if scalar < 0xC0 {
        output.append(scalar)
        return
    }
    // Hangul syllables decompose arithmetically into two or three jamo (Unicode §3.12).
    if scalar >= 0xAC00 && scalar <= 0xD7A3 {
        let index = scalar - 0xAC00
        output.append(0x1100 + index / 588)
        output.append(0x1161 + (index % 588) / 28)
        if index % 28 != 0 { output.append(0x11A7 + index % 28) }
        return
    }
    let keys = HFUnicodeTables.decompositionKeys
    var low = 0
    var high = keys.count
    while low < high {
        let middle = (low + high) / 2
        if keys[middle] < scalar { low = middle + 1 } else { high = middle }
    }
    guard low < keys.count, keys[low] == scalar else {
        output.append(scalar)
        return
    }
    let starts = HFUnicodeTables.decompositionStarts
    output.append(contentsOf: HFUnicodeTables.decompositionValues[Int(starts[low])..<Int(starts[low + 1])])
}

/// Appends Rust's `char::to_lowercase` of `scalar` (Swift's full lowercase mapping matches it for every scalar).
@inline(__always)
func appendLowercase(of scalar: UInt32, to output: inout [UInt32]) {
    if scalar < 0x80 {
        output.append(scalar >= 0x41 && scalar <= 0x5A ? scalar + 0x20 : scalar)
        return
    }
    guard let value = Unicode.Scalar(scalar) else {
        output.append(scalar)
        return
    }
    let properties = value.properties
    guard properties.changesWhenLowercased else {
        output.append(scalar)
        return
    }
    for lower in properties.lowercaseMapping.unicodeScalars { output.append(lower.value) }
}

@inline(__always)
private func combiningClass(_ scalar: UInt32) -> UInt8 {
    guard scalar >= 0x300, let value = Unicode.Scalar(scalar) else { return 0 }
    return value.properties.canonicalCombiningClass.rawValue
}
