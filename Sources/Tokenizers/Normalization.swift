import JSON

// Normalizers and pre-tokenizers over Unicode scalars. Each normalized scalar remembers the original scalar range it
// came from, with HF's alignment rules, so token offsets map back to the caller's text.

/// A run of text being normalized, with the original scalar range of every scalar.
struct NormalizedPiece {
    var scalars: [UInt32]
    var originalStarts: [Int32]
    var originalEnds: [Int32]
    /// Where the piece starts in the original text: HF aligns a character inserted before all others there.
    var originalBase: Int32 = 0

    /// The piece `text[range]` of the original text, not yet normalized.
    init(original: UnsafeBufferPointer<UInt32>, range: Range<Int>) {
        scalars = Array(original[range])
        originalStarts = (range.lowerBound..<range.upperBound).map { Int32($0) }
        originalEnds = (range.lowerBound..<range.upperBound).map { Int32($0 + 1) }
        originalBase = Int32(range.lowerBound)
    }

    init(scalars: [UInt32], originalStarts: [Int32], originalEnds: [Int32]) {
        self.scalars = scalars
        self.originalStarts = originalStarts
        self.originalEnds = originalEnds
    }

    /// Replaces the content, keeping `originalBase`.
    mutating func reset(scalars: [UInt32], originalStarts: [Int32], originalEnds: [Int32]) {
        self.scalars = scalars
        self.originalStarts = originalStarts
        self.originalEnds = originalEnds
    }

    var isEmpty: Bool { scalars.isEmpty }

    func slice(_ range: Range<Int>) -> NormalizedPiece {
        NormalizedPiece(
            scalars: Array(scalars[range]), originalStarts: Array(originalStarts[range]),
            originalEnds: Array(originalEnds[range]))
    }

    /// Replaces every non-overlapping occurrence of `pattern`. As in HF, each inserted scalar takes the alignment of
    /// the last scalar of the match.
    mutating func replace(_ pattern: [UInt32], with content: [UInt32]) {
        guard !pattern.isEmpty else { return }
        if pattern.count == 1 && content.count == 1 {
            let from = pattern[0]
            let to = content[0]
            for i in scalars.indices where scalars[i] == from { scalars[i] = to }
            return
        }
        replace(findMatches(of: pattern), with: content)
    }

    /// Replaces each of `matches` (ascending, not overlapping) by `content`, with `replace(_:with:)`'s alignment.
    mutating func replace(_ matches: [Range<Int>], with content: [UInt32]) {
        guard !matches.isEmpty else { return }
        var newScalars: [UInt32] = []
        var newStarts: [Int32] = []
        var newEnds: [Int32] = []
        var last = 0
        for match in matches {
            newScalars.append(contentsOf: scalars[last..<match.lowerBound])
            newStarts.append(contentsOf: originalStarts[last..<match.lowerBound])
            newEnds.append(contentsOf: originalEnds[last..<match.lowerBound])
            let alignmentIndex = match.upperBound - 1
            for scalar in content {
                newScalars.append(scalar)
                newStarts.append(originalStarts[alignmentIndex])
                newEnds.append(originalEnds[alignmentIndex])
            }
            last = match.upperBound
        }
        newScalars.append(contentsOf: scalars[last...])
        newStarts.append(contentsOf: originalStarts[last...])
        newEnds.append(contentsOf: originalEnds[last...])
        reset(scalars: newScalars, originalStarts: newStarts, originalEnds: newEnds)
    }

    /// Puts `prefix` in front; as in HF, the new scalars take the alignment of the first scalar.
    mutating func prepend(_ prefix: [UInt32]) {
        guard !scalars.isEmpty, !prefix.isEmpty else { return }
        let start = originalStarts[0]
        let end = originalEnds[0]
        scalars.insert(contentsOf: prefix, at: 0)
        originalStarts.insert(contentsOf: repeatElement(start, count: prefix.count), at: 0)
        originalEnds.insert(contentsOf: repeatElement(end, count: prefix.count), at: 0)
    }

    /// Leftmost non-overlapping occurrences of `pattern`, as a regex of the escaped literal finds them.
    func findMatches(of pattern: [UInt32]) -> [Range<Int>] {
        guard !pattern.isEmpty, scalars.count >= pattern.count else { return [] }
        var matches: [Range<Int>] = []
        let first = pattern[0]
        var i = 0
        let lastStart = scalars.count - pattern.count
        while i <= lastStart {
            if scalars[i] == first && scalars[i..<(i + pattern.count)].elementsEqual(pattern) {
                matches.append(i..<(i + pattern.count))
                i += pattern.count
            } else {
                i += 1
            }
        }
        return matches
    }

    /// HF `NormalizedString::split`: cuts at the matches of `pattern` according to `behavior`; drops empty pieces.
    func split(on pattern: [UInt32], behavior: SplitBehavior, invert: Bool) -> [NormalizedPiece] {
        let kept = splitRanges(on: pattern, behavior: behavior, invert: invert)
        if kept.count == 1 && kept[0] == 0..<scalars.count { return [self] }
        return kept.map { slice($0) }
    }

    /// The non-empty ranges `split(on:behavior:invert:)` cuts the piece into.
    func splitRanges(on pattern: [UInt32], behavior: SplitBehavior, invert: Bool) -> [Range<Int>] {
        // (range, isMatch) covering the whole piece, as HF `Pattern::find_matches` returns them.
        var marked: [(range: Range<Int>, isMatch: Bool)] = []
        var last = 0
        for match in findMatches(of: pattern) {
            if match.lowerBound > last { marked.append((last..<match.lowerBound, false)) }
            marked.append((match, true))
            last = match.upperBound
        }
        if last < scalars.count || marked.isEmpty { marked.append((last..<scalars.count, false)) }
        if invert { marked = marked.map { ($0.range, !$0.isMatch) } }

        var kept: [Range<Int>] = []
        switch behavior {
        case .removed:
            kept = marked.filter { !$0.isMatch }.map(\.range)
        case .isolated:
            kept = marked.map(\.range)
        case .contiguous:
            var previousMatch = false
            for (range, isMatch) in marked {
                if isMatch == previousMatch, let previous = kept.last {
                    kept[kept.count - 1] = previous.lowerBound..<range.upperBound
                } else {
                    kept.append(range)
                }
                previousMatch = isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for (range, isMatch) in marked {
                if isMatch && !previousMatch, let previous = kept.last {
                    kept[kept.count - 1] = previous.lowerBound..<range.upperBound
                } else {
                    kept.append(range)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for (range, isMatch) in marked.reversed() {
                if isMatch && !previousMatch, let following = kept.last {
                    kept[kept.count - 1] = range.lowerBound..<following.upperBound
                } else {
                    kept.append(range)
                }
                previousMatch = isMatch
            }
            kept.reverse()
        }
        return kept.filter { !$0.isEmpty }
    }

    /// HF `Metaspace` on this piece in place: spaces become `replacement`, which is put in front as `scheme` says;
    /// the word ranges are the pieces `split` (merged with the next) would make, so the caller tokenizes slices.
    mutating func applyMetaspace(replacement: UInt32, scheme: PreTokenizer.PrependScheme, split: Bool) -> [Range<Int>] {
        for i in scalars.indices where scalars[i] == 0x20 { scalars[i] = replacement }
        if scalars.first != replacement {
            switch scheme {
            case .always: prepend([replacement])
            case .first where originalStarts.first == 0: prepend([replacement])
            default: break
            }
        }
        guard split else { return scalars.isEmpty ? [] : [0..<scalars.count] }
        return splitRanges(on: [replacement], behavior: .mergedWithNext, invert: false)
    }
}

extension NormalizedPiece {
    /// HF `Strip`: drops leading and/or trailing whitespace (Rust's `char::is_whitespace`); the rest keep their
    /// alignments.
    mutating func strip(left: Bool, right: Bool) {
        var start = 0
        var end = scalars.count
        if left { while start < end && isWhitespaceScalar(scalars[start]) { start += 1 } }
        if right { while end > start && isWhitespaceScalar(scalars[end - 1]) { end -= 1 } }
        guard start > 0 || end < scalars.count else { return }
        reset(
            scalars: Array(scalars[start..<end]), originalStarts: Array(originalStarts[start..<end]),
            originalEnds: Array(originalEnds[start..<end]))
    }
}

/// A regex that is one scalar repeated: `x+`, `x{n}`, `x{n,}` or `x{n,m}` with n ≥ 1 (the scalar may be escaped),
/// or a lone scalar. The one regex SentencePiece conversions put in a normalizer is ` {2,}`.
struct RepeatedScalar: Sendable, Equatable {
    let scalar: UInt32
    let minimum: Int
    /// nil: no upper bound.
    let maximum: Int?

    private static let metacharacters = Set("\\.^$|?*+()[]{}".unicodeScalars.map(\.value))

    /// Parses `regex`; nil for any other regex.
    init?(regex: String) {
        var rest = Substring(regex).unicodeScalars[...]
        guard var first = rest.popFirst()?.value else { return nil }
        if first == 0x5C {
            guard let escaped = rest.popFirst()?.value,
                RepeatedScalar.metacharacters.contains(escaped) || escaped == 0x20
            else { return nil }
            first = escaped
        } else if RepeatedScalar.metacharacters.contains(first) {
            return nil
        }
        scalar = first
        let quantifier = String(String.UnicodeScalarView(rest))
        if quantifier.isEmpty {
            (minimum, maximum) = (1, 1)
        } else if quantifier == "+" {
            (minimum, maximum) = (1, nil)
        } else if quantifier.hasPrefix("{"), quantifier.hasSuffix("}") {
            let bounds = quantifier.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
            guard bounds.count <= 2, let low = Int(bounds[0]), low >= 1 else { return nil }
            minimum = low
            if bounds.count == 1 {
                maximum = low
            } else if bounds[1].isEmpty {
                maximum = nil
            } else {
                guard let high = Int(bounds[1]), high >= low else { return nil }
                maximum = high
            }
        } else {
            return nil
        }
    }

    /// Leftmost, greedy, non-overlapping matches, as a regex engine finds them.
    func matches(in scalars: [UInt32]) -> [Range<Int>] {
        var matches: [Range<Int>] = []
        var i = 0
        while i < scalars.count {
            guard scalars[i] == scalar else {
                i += 1
                continue
            }
            var end = i
            while end < scalars.count && scalars[end] == scalar { end += 1 }
            var start = i
            while end - start >= minimum {
                let length = min(end - start, maximum ?? Int.max)
                matches.append(start..<(start + length))
                start += length
            }
            i = end
        }
        return matches
    }
}

/// HF `SplitDelimiterBehavior`.
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// The supported `normalizer` components.
indirect enum Normalizer: Sendable {
    case replace(pattern: [UInt32], content: [UInt32])
    /// Replace with a regex of one scalar repeated (` {2,}`, as SentencePiece conversions write it).
    case replaceRepeated(RepeatedScalar, content: [UInt32])
    case precompiled(PrecompiledCharsmap)
    case strip(left: Bool, right: Bool)
    case prepend([UInt32])
    case bert(BertNormalizerOptions)
    case lowercase
    case nfd
    case stripAccents
    case sequence([Normalizer])

    init(json: JSONValue) throws {
        let type = json["type"]?.stringValue ?? "(no type)"
        switch type {
        case "Replace":
            let content = scalarsOf(json["content"]?.stringValue ?? "")
            if let regex = json["pattern"]?["Regex"]?.stringValue {
                guard let pattern = RepeatedScalar(regex: regex) else {
                    throw TokenizerError.unsupportedComponent(
                        kind: "normalizer", type: "Replace with the Regex \(regex)")
                }
                self =
                    pattern.minimum == 1 && pattern.maximum == 1
                    ? .replace(pattern: [pattern.scalar], content: content)
                    : .replaceRepeated(pattern, content: content)
            } else {
                self = .replace(pattern: try stringPattern(json, kind: "normalizer"), content: content)
            }
        case "Precompiled":
            guard let charsmap = json["precompiled_charsmap"]?.stringValue else {
                throw TokenizerError.invalidTokenizer("Precompiled normalizer has no precompiled_charsmap string")
            }
            self = .precompiled(try PrecompiledCharsmap(base64: charsmap))
        case "Strip":
            self = .strip(
                left: try optionalFlag(json, "strip_left", default: true, of: type),
                right: try optionalFlag(json, "strip_right", default: true, of: type))
        case "Prepend":
            self = .prepend(scalarsOf(json["prepend"]?.stringValue ?? ""))
        case "BertNormalizer":
            let lowercase = try optionalFlag(json, "lowercase", default: true, of: type)
            let stripAccents = json["strip_accents"].flatMap { $0.isNull ? nil : $0 }
            guard stripAccents == nil || stripAccents?.boolValue != nil else {
                throw TokenizerError.invalidTokenizer("BertNormalizer strip_accents must be true, false or null")
            }
            self = .bert(
                BertNormalizerOptions(
                    cleanText: try optionalFlag(json, "clean_text", default: true, of: type),
                    handleChineseChars: try optionalFlag(json, "handle_chinese_chars", default: true, of: type),
                    stripAccents: stripAccents?.boolValue ?? lowercase, lowercase: lowercase))
        case "Lowercase":
            self = .lowercase
        case "NFD":
            self = .nfd
        case "StripAccents":
            self = .stripAccents
        case "Sequence":
            self = .sequence(try (json["normalizers"]?.arrayValue ?? []).map(Normalizer.init(json:)))
        default:
            throw TokenizerError.unsupportedComponent(kind: "normalizer", type: type)
        }
    }

    func apply(to piece: inout NormalizedPiece) {
        switch self {
        case .replace(let pattern, let content): piece.replace(pattern, with: content)
        case .replaceRepeated(let pattern, let content):
            piece.replace(pattern.matches(in: piece.scalars), with: content)
        case .precompiled(let charsmap): piece.applyPrecompiled(charsmap)
        case .strip(let left, let right): piece.strip(left: left, right: right)
        case .prepend(let prefix): piece.prepend(prefix)
        case .bert(let options): piece.bertNormalize(options)
        case .lowercase: piece.lowercase()
        case .nfd: piece.decomposeCanonically()
        case .stripAccents: piece.stripCombiningMarks()
        case .sequence(let normalizers): for normalizer in normalizers { normalizer.apply(to: &piece) }
        }
    }
}

/// The supported `pre_tokenizer` components.
indirect enum PreTokenizer: Sendable {
    case split(pattern: [UInt32], behavior: SplitBehavior, invert: Bool)
    case metaspace(replacement: UInt32, prependScheme: PrependScheme, split: Bool)
    /// BertPreTokenizer: whitespace removed, each punctuation scalar its own word.
    case bert
    /// Whitespace: runs of `\w` and runs of other non-space scalars (`\w+|[^\w\s]+`).
    case whitespace
    /// WhitespaceSplit: runs of non-whitespace.
    case whitespaceSplit
    /// ByteLevel (GPT-2, RoBERTa): an optional leading space, GPT-2's split, then each byte as a character.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case sequence([PreTokenizer])

    /// HF Metaspace `prepend_scheme`.
    enum PrependScheme: String, Sendable {
        case always, first, never
    }

    init(json: JSONValue) throws {
        let type = json["type"]?.stringValue ?? "(no type)"
        switch type {
        case "Split":
            let behaviorName = json["behavior"]?.stringValue ?? ""
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw TokenizerError.unsupportedComponent(kind: "Split behavior", type: behaviorName)
            }
            self = .split(
                pattern: try stringPattern(json, kind: "pre_tokenizer"), behavior: behavior,
                invert: json["invert"]?.boolValue ?? false)
        case "Metaspace":
            let replacement = scalarsOf(json["replacement"]?.stringValue ?? "\u{2581}")
            guard replacement.count == 1 else {
                throw TokenizerError.invalidTokenizer("Metaspace replacement must be one character")
            }
            let schemeName =
                json["prepend_scheme"]?.stringValue
                ?? ((json["add_prefix_space"]?.boolValue ?? true) ? "always" : "never")
            guard let scheme = PrependScheme(rawValue: schemeName) else {
                throw TokenizerError.unsupportedComponent(kind: "Metaspace prepend_scheme", type: schemeName)
            }
            self = .metaspace(
                replacement: replacement[0], prependScheme: scheme, split: json["split"]?.boolValue ?? true)
        case "BertPreTokenizer":
            self = .bert
        case "Whitespace":
            self = .whitespace
        case "WhitespaceSplit":
            self = .whitespaceSplit
        case "ByteLevel":
            self = .byteLevel(
                addPrefixSpace: try optionalFlag(json, "add_prefix_space", default: true, of: type),
                useRegex: try optionalFlag(json, "use_regex", default: true, of: type))
        case "Sequence":
            self = .sequence(try (json["pretokenizers"]?.arrayValue ?? []).map(PreTokenizer.init(json:)))
        default:
            throw TokenizerError.unsupportedComponent(kind: "pre_tokenizer", type: type)
        }
    }

    func apply(to pieces: [NormalizedPiece]) -> [NormalizedPiece] {
        switch self {
        case .split(let pattern, let behavior, let invert):
            return pieces.flatMap { $0.split(on: pattern, behavior: behavior, invert: invert) }
        case .metaspace(let replacement, let scheme, let split):
            return pieces.flatMap { original -> [NormalizedPiece] in
                var piece = original
                let ranges = piece.applyMetaspace(replacement: replacement, scheme: scheme, split: split)
                if ranges.count == 1 && ranges[0] == 0..<piece.scalars.count { return [piece] }
                return ranges.map { piece.slice($0) }
            }
        case .bert, .whitespace, .whitespaceSplit:
            return pieces.flatMap { piece in (wordRanges(in: piece.scalars) ?? []).map { piece.slice($0) } }
        case .byteLevel(let addPrefixSpace, let useRegex):
            return pieces.flatMap { original -> [NormalizedPiece] in
                var piece = original
                if addPrefixSpace && piece.scalars.first != 0x20 { piece.prepend([0x20]) }
                let words = useRegex ? ByteLevel.words(piece.scalars).map { piece.slice($0) } : [piece]
                return words.map { word in
                    var bytes = word
                    bytes.mapToByteCharacters()
                    return bytes
                }
            }
        case .sequence(let preTokenizers):
            return preTokenizers.reduce(pieces) { $1.apply(to: $0) }
        }
    }

    /// For the pre-tokenizers that only cut words out of the text (no scalar changes): the word ranges, so the
    /// caller can tokenize slices in place instead of copying each word. Nil for the others.
    func wordRanges(in scalars: [UInt32]) -> [Range<Int>]? {
        switch self {
        case .bert: return splitWords(scalars, isSeparator: isBertWhitespace, isIsolated: isBertPunctuation)
        case .whitespaceSplit: return splitWords(scalars, isSeparator: isWhitespaceScalar, isIsolated: { _ in false })
        case .whitespace: return whitespaceWords(scalars)
        default: return nil
        }
    }
}

/// Words between separators (removed), with each isolated scalar a word of its own.
private func splitWords(
    _ scalars: [UInt32], isSeparator: (UInt32) -> Bool, isIsolated: (UInt32) -> Bool
) -> [Range<Int>] {
    var words: [Range<Int>] = []
    var start = 0
    for (i, scalar) in scalars.enumerated() {
        if isSeparator(scalar) {
            if start < i { words.append(start..<i) }
            start = i + 1
        } else if isIsolated(scalar) {
            if start < i { words.append(start..<i) }
            words.append(i..<(i + 1))
            start = i + 1
        }
    }
    if start < scalars.count { words.append(start..<scalars.count) }
    return words
}

/// The matches of `\w+|[^\w\s]+`: maximal runs of word scalars and of other non-space scalars, by HF's tables.
private func whitespaceWords(_ scalars: [UInt32]) -> [Range<Int>] {
    var words: [Range<Int>] = []
    var start = 0
    var runIsWord: Bool?
    for (i, scalar) in scalars.enumerated() {
        let kind: Bool? =
            inRanges(scalar, HFUnicodeTables.wordCharacters)
            ? true : (inRanges(scalar, HFUnicodeTables.spaceCharacters) ? nil : false)
        if kind != runIsWord {
            if runIsWord != nil { words.append(start..<i) }
            start = i
            runIsWord = kind
        }
    }
    if runIsWord != nil { words.append(start..<scalars.count) }
    return words
}

/// The scalars of a string pattern `{"String": …}`; regex patterns are not supported.
private func stringPattern(_ json: JSONValue, kind: String) throws -> [UInt32] {
    if let literal = json["pattern"]?["String"]?.stringValue { return scalarsOf(literal) }
    let type = json["type"]?.stringValue ?? ""
    throw TokenizerError.unsupportedComponent(kind: kind, type: "\(type) with a Regex pattern")
}

func scalarsOf(_ text: String) -> [UInt32] {
    text.unicodeScalars.map(\.value)
}
