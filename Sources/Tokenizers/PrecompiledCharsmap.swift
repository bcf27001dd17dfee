import JSON

// The `Precompiled` normalizer (XLM-RoBERTa, T5, mBART, …): SentencePiece's `precompiled_charsmap`, a darts-clone
// double-array trie over UTF-8 source strings whose leaves index NUL-ended replacement strings. It is applied as HF
// `tokenizers` applies it (its `spm_precompiled` crate): grapheme by grapheme, with HF's alignment rules, quirks
// included, so offsets match.

/// A parsed `precompiled_charsmap`: `[u32 trie byte count][trie units, little-endian u32][replacement strings]`.
struct PrecompiledCharsmap: Sendable {
    /// The longest key a lookup walks: HF looks up a grapheme whole when it is under 6 UTF-8 bytes, else each of its
    /// scalars (at most 4 bytes). Only the trie within this depth is ever read, so only it is checked.
    static let maxKeyBytes = 5

    /// darts-clone units. An edge unit holds its label (bits 0–7, bit 31 set means none), a has-leaf flag (bit 8)
    /// and the offset to its children (bits 10–31, shifted left by 8 when bit 9 is set); a leaf unit holds its
    /// value in bits 0–30.
    private let units: [UInt32]
    /// The replacement strings, UTF-8, each ended by a NUL byte; a leaf's value is the index of its first byte.
    private let replacements: [UInt8]
    /// True when no printable ASCII scalar (U+0020–U+007E) is a key: text made only of those is left as it is.
    private let keepsPrintableASCII: Bool
    /// `shortestMatch` of each one-byte key below 0x80, -1 for none (NUL: none, as the search stops there).
    let asciiMatches: [Int32]

    /// Reads the base64 string of tokenizer.json.
    init(base64 text: String) throws {
        guard let bytes = decodeBase64(Array(text.utf8)) else {
            throw TokenizerError.invalidTokenizer("Precompiled precompiled_charsmap is not valid base64")
        }
        try self.init(bytes: bytes)
    }

    /// Parses and checks the charsmap bytes as `spm_precompiled` does, and more: HF panics on a trie whose leaves
    /// point outside the strings, this refuses to load one.
    init(bytes: [UInt8]) throws {
        func invalid(_ reason: String) -> TokenizerError {
            .invalidTokenizer("Precompiled precompiled_charsmap \(reason)")
        }
        guard bytes.count >= 4 else { throw invalid("is \(bytes.count) bytes long, too short for its header") }
        let trieBytes = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        let unitCount = trieBytes / 4
        guard unitCount > 0, 4 + unitCount * 4 <= bytes.count else {
            throw invalid("declares a trie of \(trieBytes) bytes in \(bytes.count - 4)")
        }
        var units = [UInt32](repeating: 0, count: unitCount)
        for i in 0..<unitCount {
            let at = 4 + 4 * i
            units[i] =
                UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
                | UInt32(bytes[at + 3]) << 24
        }
        let replacements = Array(bytes[(4 + unitCount * 4)...])
        guard validUTF8Scalars(replacements) != nil else { throw invalid("has replacement strings that are not UTF-8") }
        if let problem = Self.checkLeaves(units, replacements) { throw invalid(problem) }
        self.units = units
        self.replacements = replacements
        let asciiMatches = (0..<0x80).map { byte in
            [UInt8(byte)].withUnsafeBufferPointer { Self.shortestMatch($0, in: units).map(Int32.init) ?? -1 }
        }
        self.asciiMatches = asciiMatches
        keepsPrintableASCII = asciiMatches[0x20...0x7E].allSatisfy { $0 < 0 }
    }

    /// Why some leaf within `maxKeyBytes` of the root is unusable (outside the trie, or a value that is not the
    /// start of a replacement string), or nil. Breadth first over trie states, each once: at most the units times
    /// 255 labels, whatever cycles the array's offsets make.
    private static func checkLeaves(_ units: [UInt32], _ replacements: [UInt8]) -> String? {
        var frontier = [Int(childOffset(units[0]))]
        var seen: Set<Int> = Set(frontier)
        for depth in 1...Self.maxKeyBytes {
            var next: [Int] = []
            for state in frontier {
                for label in 1...255 {
                    let position = state ^ label
                    guard position < units.count else { continue }
                    let unit = units[position]
                    guard unit & 0x8000_00FF == UInt32(label) else { continue }
                    let child = position ^ Int(childOffset(unit))
                    if unit & 0x100 != 0 {
                        guard child < units.count else { return "has a leaf outside its trie" }
                        let value = Int(units[child] & 0x7FFF_FFFF)
                        guard value <= replacements.count,
                            value == replacements.count || replacements[value] & 0xC0 != 0x80
                        else { return "has a leaf value \(value) that starts no replacement string" }
                    }
                    if depth < Self.maxKeyBytes, seen.insert(child).inserted { next.append(child) }
                }
            }
            frontier = next
        }
        return nil
    }

    @inline(__always)
    private static func childOffset(_ unit: UInt32) -> UInt32 {
        (unit >> 10) << ((unit & 0x200) >> 6)
    }

    /// HF `Precompiled::transform`: the replacement of the shortest key that starts `key` (a NUL byte ends the
    /// search), as an index into `replacements`; nil when no key does.
    @inline(__always)
    func shortestMatch(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        Self.shortestMatch(key, in: units)
    }

    @inline(__always)
    private static func shortestMatch(_ key: UnsafeBufferPointer<UInt8>, in units: [UInt32]) -> Int? {
        var state = Int(childOffset(units[0]))
        for byte in key {
            if byte == 0 { return nil }
            let position = state ^ Int(byte)
            guard position < units.count else { return nil }
            let unit = units[position]
            guard unit & 0x8000_00FF == UInt32(byte) else { return nil }
            state = position ^ Int(childOffset(unit))
            if unit & 0x100 != 0 {
                guard state < units.count else { return nil }
                return Int(units[state] & 0x7FFF_FFFF)
            }
        }
        return nil
    }

    /// Appends the scalars of the replacement string at `index` (checked at load to start a UTF-8 sequence).
    func appendReplacement(at index: Int, to output: inout [UInt32]) {
        var i = index
        while i < replacements.count, replacements[i] != 0 {
            let lead = UInt32(replacements[i])
            let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            guard i + length <= replacements.count else { return }
            var scalar = length == 1 ? lead : lead & (0x7F >> UInt32(length))
            for k in 1..<length { scalar = scalar << 6 | UInt32(replacements[i + k] & 0x3F) }
            output.append(scalar)
            i += length
        }
    }

    /// Whether applying the map could change `scalars` (false for printable ASCII when no key starts with it).
    func mayChange(_ scalars: [UInt32]) -> Bool {
        !keepsPrintableASCII || !scalars.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }
}

extension NormalizedPiece {
    /// HF `Precompiled::normalize`: each grapheme under 6 UTF-8 bytes is replaced whole when a key starts it (the
    /// shortest such key decides, so CR LF becomes what CR maps to); otherwise each scalar is looked up alone.
    ///
    /// Alignments are HF's, found by probing `tokenizers` 0.23: the scalars of a replacement take the alignments of
    /// the scalars it replaces one by one, the last one spanning any left over (CR LF → " " aligns to CR), and
    /// any beyond them repeat the last (ﬁ → "fi" both align to ﬁ); a removal (an empty replacement) shifts nothing
    /// when something precedes it, the last scalar written so far then covering it; a removal before anything is
    /// written is forgotten, so the scalars after it take alignments that many places too early (HF's own offsets
    /// for text starting with a removed control character).
    mutating func applyPrecompiled(_ map: PrecompiledCharsmap) {
        guard map.mayChange(scalars) else { return }
        // HF's `transform` input: each new scalar with its change (0 replaces the next old scalar, −n replaces it
        // and drops n more, +1 is inserted after the last replaced one).
        var changed: [(scalar: UInt32, change: Int)] = []
        changed.reserveCapacity(scalars.count + 8)
        var replacement: [UInt32] = []
        var key: [UInt8] = []
        func replace(_ oldCount: Int) {
            guard !replacement.isEmpty else {
                if !changed.isEmpty { changed[changed.count - 1].change -= oldCount }
                return
            }
            let newCount = replacement.count
            for (i, scalar) in replacement.enumerated() {
                changed.append((scalar, i >= oldCount ? 1 : i == newCount - 1 ? newCount - oldCount : 0))
            }
        }
        var start = 0
        for end in graphemeBoundaries(scalars) {
            if end - start == 1 && scalars[start] < 0x80 {
                let match = map.asciiMatches[Int(scalars[start])]
                if match >= 0 {
                    replacement.removeAll(keepingCapacity: true)
                    map.appendReplacement(at: Int(match), to: &replacement)
                    replace(1)
                } else {
                    changed.append((scalars[start], 0))
                }
                start = end
                continue
            }
            key.removeAll(keepingCapacity: true)
            for i in start..<end { appendUTF8(Unicode.Scalar(scalars[i]) ?? "\u{FFFD}", to: &key) }
            if key.count < 6, let index = key.withUnsafeBufferPointer({ map.shortestMatch($0) }) {
                replacement.removeAll(keepingCapacity: true)
                map.appendReplacement(at: index, to: &replacement)
                replace(end - start)
            } else {
                var byteStart = 0
                for i in start..<end {
                    let byteEnd = byteStart + utf8Length(scalars[i])
                    let match = key.withUnsafeBufferPointer {
                        map.shortestMatch(UnsafeBufferPointer(rebasing: $0[byteStart..<byteEnd]))
                    }
                    if let match {
                        replacement.removeAll(keepingCapacity: true)
                        map.appendReplacement(at: match, to: &replacement)
                        replace(1)
                    } else {
                        changed.append((scalars[i], 0))
                    }
                    byteStart = byteEnd
                }
            }
            start = end
        }
        applyTransform(changed)
    }

    /// HF `NormalizedString::transform` over the whole piece: a cursor walks the old scalars; a change of 0 or less
    /// takes the alignment under it and moves past it (and past −change more), a positive one takes the alignment
    /// before it (an empty range at the piece's start when there is none).
    private mutating func applyTransform(_ changed: [(scalar: UInt32, change: Int)]) {
        var newScalars: [UInt32] = []
        var newStarts: [Int32] = []
        var newEnds: [Int32] = []
        newScalars.reserveCapacity(changed.count)
        newStarts.reserveCapacity(changed.count)
        newEnds.reserveCapacity(changed.count)
        var cursor = 0
        for (scalar, change) in changed {
            if change > 0 {
                newStarts.append(cursor == 0 ? originalBase : originalStarts[cursor - 1])
                newEnds.append(cursor == 0 ? originalBase : originalEnds[cursor - 1])
            } else {
                // The changes never consume more scalars than there are (each replacement consumes what it covers).
                let index = min(cursor, scalars.count - 1)
                newStarts.append(originalStarts[index])
                newEnds.append(originalEnds[index])
                cursor += 1 - change
            }
            newScalars.append(scalar)
        }
        reset(scalars: newScalars, originalStarts: newStarts, originalEnds: newEnds)
    }
}

/// The end of each extended grapheme cluster of `scalars`, as Rust's `unicode-segmentation` (which HF uses) cuts
/// them. Below U+0300 no scalar extends, joins or prepends (the first Extend scalar is U+0300; Prepend, SpacingMark,
/// Hangul and regional indicators lie higher), so two such scalars always have a break between them except CR LF;
/// the stretches between those breaks go to Swift's `Character` segmentation, which implements the same rules.
func graphemeBoundaries(_ scalars: [UInt32]) -> [Int] {
    guard !scalars.isEmpty else { return [] }
    var boundaries: [Int] = []
    boundaries.reserveCapacity(scalars.count)
    var regionStart = 0
    for i in 1...scalars.count {
        if i < scalars.count
            && !(scalars[i - 1] < 0x300 && scalars[i] < 0x300 && !(scalars[i - 1] == 0x0D && scalars[i] == 0x0A))
        {
            continue
        }
        if i - regionStart == 1 || scalars[regionStart..<i].allSatisfy({ $0 < 0x300 }) {
            boundaries.append(i)
        } else {
            var view = String.UnicodeScalarView()
            for scalar in scalars[regionStart..<i] { view.append(Unicode.Scalar(scalar) ?? "\u{FFFD}") }
            var end = regionStart
            for character in String(view) {
                end += character.unicodeScalars.count
                boundaries.append(end)
            }
        }
        regionStart = i
    }
    return boundaries
}

@inline(__always)
func utf8Length(_ scalar: UInt32) -> Int {
    scalar < 0x80 ? 1 : scalar < 0x800 ? 2 : scalar < 0x10000 ? 3 : 4
}

/// Standard base64 with padding, as Rust's `BASE64_STANDARD` decodes it (canonical: the unused bits of the last
/// symbol must be zero); nil for anything else.
func decodeBase64(_ text: [UInt8]) -> [UInt8]? {
    guard text.count % 4 == 0 else { return nil }
    func value(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
    var output: [UInt8] = []
    output.reserveCapacity(text.count / 4 * 3)
    var i = 0
    while i < text.count {
        let isLast = i + 4 == text.count
        let padding = isLast ? (text[i + 3] == UInt8(ascii: "=") ? (text[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
        var group: UInt32 = 0
        for k in 0..<(4 - padding) {
            guard let v = value(text[i + k]) else { return nil }
            group = group << 6 | v
        }
        group <<= UInt32(6 * padding)
        guard group & ((1 << (8 * UInt32(padding))) - 1) == 0 else { return nil }
        output.append(UInt8(truncatingIfNeeded: group >> 16))
        if padding < 2 { output.append(UInt8(truncatingIfNeeded: group >> 8)) }
        if padding < 1 { output.append(UInt8(truncatingIfNeeded: group)) }
        i += 4
    }
    return output
}
