import JSON

// Byte-level BPE (GPT-2, RoBERTa): the ByteLevel pre-tokenizer splits with GPT-2's pattern and spells every UTF-8
// byte as one printable character (`Ġ` for a space), so the BPE vocab needs no unknown token; its decoder maps the
// characters back to bytes.

enum ByteLevel {
    /// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other 68 take U+0100 up.
    static let byteCharacters: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The inverse of `byteCharacters`: the byte of each character below U+0144, or -1.
    static let characterBytes: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, character) in byteCharacters.enumerated() { table[Int(character)] = Int16(byte) }
        return table
    }()

    /// The matches of GPT-2's pattern, which cover the whole text:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    static func words(_ scalars: [UInt32]) -> [Range<Int>] {
        let n = scalars.count
        var words: [Range<Int>] = []
        var i = 0
        while i < n {
            let end = matchEnd(scalars, at: i)
            words.append(i..<end)
            i = end
        }
        return words
    }

    /// The end of the pattern's leftmost match at `start` (always past `start`).
    private static func matchEnd(_ s: [UInt32], at start: Int) -> Int {
        let n = s.count
        if s[start] == 0x27, start + 1 < n {
            let c1 = s[start + 1]
            if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return start + 2 } // 's 't 'm 'd
            if start + 2 < n {
                let c2 = s[start + 2]
                if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                    return start + 3 // 're 've 'll
                }
            }
        }
        let body = s[start] == 0x20 && start + 1 < n ? start + 1 : start
        let kind = characterClass(s[body])
        if kind != .space {
            var end = body + 1
            while end < n && characterClass(s[end]) == kind { end += 1 }
            return end
        }
        // Whitespace: the run, less its last character when a non-space follows (that one leads the next word).
        var end = start
        while end < n && characterClass(s[end]) == .space { end += 1 }
        if end < n && end - start > 1 { return end - 1 }
        return end
    }

    private enum CharacterClass {
        case letter, number, space, other
    }

    private static func characterClass(_ value: UInt32) -> CharacterClass {
        if value < 0x80 {
            switch value {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        if properties.isWhitespace { return .space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Decoder: each token's characters back to bytes (a token with a character outside the table keeps its own
    /// UTF-8), all tokens as one text, invalid UTF-8 replaced by U+FFFD as Rust's `from_utf8_lossy` does.
    static func decode(_ tokens: [[UInt32]]) -> [[UInt32]] {
        var bytes: [UInt8] = []
        for token in tokens {
            let mapped = token.compactMap {
                $0 < 0x144 && characterBytes[Int($0)] >= 0 ? UInt8(characterBytes[Int($0)]) : nil
            }
            if mapped.count == token.count {
                bytes.append(contentsOf: mapped)
            } else {
                for scalar in token { appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: &bytes) }
            }
        }
        return [scalarsOf(String(decoding: bytes, as: UTF8.self))]
    }
}

extension NormalizedPiece {
    /// Spells each scalar as its UTF-8 bytes' characters, all aligned to the scalar.
    mutating func mapToByteCharacters() {
        var newScalars: [UInt32] = []
        var newStarts: [Int32] = []
        var newEnds: [Int32] = []
        newScalars.reserveCapacity(scalars.count)
        newStarts.reserveCapacity(scalars.count)
        newEnds.reserveCapacity(scalars.count)
        var bytes: [UInt8] = []
        for i in scalars.indices {
            bytes.removeAll(keepingCapacity: true)
            appendUTF8(Unicode.Scalar(scalars[i]) ?? "\u{FFFD}", to: &bytes)
            for byte in bytes {
                newScalars.append(ByteLevel.byteCharacters[Int(byte)])
                newStarts.append(originalStarts[i])
                newEnds.append(originalEnds[i])
            }
        }
        reset(scalars: newScalars, originalStarts: newStarts, originalEnds: newEnds)
    }
}
