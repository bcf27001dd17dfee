/// A strict RFC 8259 reader over UTF-8 bytes, pulled value by value: the tokenizer streams tokenizer.json's vocab and
/// merges (33 MB for Gemma) straight into its tables through it, and `readValue` builds a `JSONValue` tree with it.
/// Every byte it passes, skipped or not, is checked: strings must be UTF-8 without raw control characters, numbers
/// must follow the grammar, and containers may nest at most `maxDepth` levels (the tree is built recursively).
package struct JSONReader {
    package let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to read.
    package var position = 0
    package let maxDepth: Int
    /// Containers entered and not yet left.
    private var depth = 0

    package init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 512) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    package func error(_ reason: JSONError.Reason) -> JSONError {
        JSONError(reason, at: position)
    }

    @inline(__always)
    package mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// Skips a UTF-8 byte order mark at the start. Model files may have one (some editors write it, and
    /// Foundation's JSONSerialization, which read them until this module, skipped it); request bodies and
    /// tokenizer.json may not, as serde_json refuses it.
    mutating func skipByteOrderMark() {
        if position == 0, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
    }

    /// Throws `trailingCharacters` unless only whitespace is left.
    package mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        if position < bytes.count { throw error(.trailingCharacters) }
    }

    /// The next non-whitespace byte, without consuming it.
    @inline(__always)
    package mutating func peek() throws(JSONError) -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw error(.endOfInputInValue) }
        return bytes[position]
    }

    /// Consumes `byte`, which must be next.
    @inline(__always)
    package mutating func expect(_ byte: UInt8) throws(JSONError) {
        guard try peek() == byte else { throw error(.expected(byte)) }
        position += 1
    }

    // MARK: Containers

    @inline(__always)
    private mutating func enter() throws(JSONError) {
        guard depth < maxDepth else { throw error(.depthLimit(maxDepth)) }
        depth += 1
    }

    /// Consumes `{`; true when a member follows (read its key with `readKey`, then its value, then `nextMember`),
    /// false for `{}`.
    package mutating func enterObject() throws(JSONError) -> Bool {
        guard try peek() == UInt8(ascii: "{") else { throw error(.expected(UInt8(ascii: "{"))) }
        try enter()
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return false
        }
        return true
    }

    /// After a member's value: consumes `,` (true: another member follows) or the closing `}` (false).
    package mutating func nextMember() throws(JSONError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw error(.endOfInputInObject) }
        switch bytes[position] {
        case UInt8(ascii: ","):
            position += 1
            return true
        case UInt8(ascii: "}"):
            position += 1
            depth -= 1
            return false
        default:
            throw error(.expectedCommaOrObjectEnd)
        }
    }

    /// Consumes `[`; true when an element follows (read it, then call `nextElement`), false for `[]`.
    package mutating func enterArray() throws(JSONError) -> Bool {
        guard try peek() == UInt8(ascii: "[") else { throw error(.expected(UInt8(ascii: "["))) }
        try enter()
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return false
        }
        return true
    }

    /// After an element: consumes `,` (true: another element follows) or the closing `]` (false).
    package mutating func nextElement() throws(JSONError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw error(.endOfInputInArray) }
        switch bytes[position] {
        case UInt8(ascii: ","):
            position += 1
            return true
        case UInt8(ascii: "]"):
            position += 1
            depth -= 1
            return false
        default:
            throw error(.expectedCommaOrArrayEnd)
        }
    }

    /// Positions at a member's key, which must be a string.
    @inline(__always)
    private mutating func startKey() throws(JSONError) {
        skipWhitespace()
        guard position < bytes.count else { throw error(.endOfInputInObject) }
        guard bytes[position] == UInt8(ascii: "\"") else { throw error(.keyNotString) }
    }

    @inline(__always)
    private mutating func endKey() throws(JSONError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error(.expectedColon) }
        position += 1
    }

    /// A member's key and the `:` after it.
    package mutating func readKey() throws(JSONError) -> String {
        try startKey()
        let key = try readString()
        try endKey()
        return key
    }

    /// Appends a member's decoded key to `buffer` (not cleared) and consumes the `:` after it.
    package mutating func readKey(into buffer: inout [UInt8]) throws(JSONError) {
        try startKey()
        try readString(into: &buffer)
        try endKey()
    }

    /// Walks an object, calling `member` with each key; `member` must consume the value.
    package mutating func readObject(_ member: (inout JSONReader, String) throws -> Void) throws {
        guard try enterObject() else { return }
        repeat {
            let key = try readKey()
            try member(&self, key)
        } while try nextMember()
    }

    /// Walks an array, calling `element` for each element; `element` must consume it.
    package mutating func readArray(_ element: (inout JSONReader) throws -> Void) throws {
        guard try enterArray() else { return }
        repeat {
            try element(&self)
        } while try nextElement()
    }

    // MARK: Strings

    /// Appends the decoded UTF-8 bytes of the next string to `buffer` (which is not cleared).
    package mutating func readString(into buffer: inout [UInt8]) throws(JSONError) {
        try openString()
        var sink = ByteSink()
        swap(&sink.bytes, &buffer)
        defer { swap(&sink.bytes, &buffer) }
        try scanString(&sink)
    }

    package mutating func readString() throws(JSONError) -> String {
        try openString()
        // The run up to the first quote, backslash or control byte: for most strings, all of it.
        let start = position
        var union: UInt8 = 0
        while position < bytes.count {
            let byte = bytes[position]
            if byte == 0x22 || byte == 0x5C || byte < 0x20 { break }
            union |= byte
            position += 1
        }
        let run = UnsafeBufferPointer(rebasing: bytes[start..<position])
        let runIsValid = union < 0x80 || isValidUTF8(run)
        if runIsValid, position < bytes.count, bytes[position] == 0x22 {
            position += 1
            return String(decoding: run, as: UTF8.self)
        }
        // Escapes follow (or an error): the rest is decoded after the run, which is not scanned again.
        var sink = ByteSink()
        sink.bytes.reserveCapacity(run.count + 64)
        sink.append(run)
        try scanString(&sink, invalidUTF8: !runIsValid)
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    /// Passes over the next string, checking it as `readString` does.
    private mutating func skipString() throws(JSONError) {
        try openString()
        var sink = SkipSink()
        try scanString(&sink)
    }

    @inline(__always)
    private mutating func openString() throws(JSONError) {
        guard try peek() == UInt8(ascii: "\"") else { throw error(.expected(UInt8(ascii: "\""))) }
        position += 1
    }

    /// Reads a string's content and closing quote (the opening one consumed, and `invalidUTF8` when a run already
    /// read was not UTF-8) into `sink`. A string that is not UTF-8 is refused only at its closing quote, after every
    /// other check, as serde_json does.
    private mutating func scanString<Sink: StringSink>(_ sink: inout Sink, invalidUTF8: Bool = false)
        throws(JSONError)
    {
        let count = bytes.count
        var invalidUTF8 = invalidUTF8
        while true {
            let runStart = position
            var union: UInt8 = 0
            while position < count {
                let byte = bytes[position]
                if byte == 0x22 || byte == 0x5C || byte < 0x20 { break }
                union |= byte
                position += 1
            }
            if position > runStart {
                let run = UnsafeBufferPointer(rebasing: bytes[runStart..<position])
                // A run ends before `"`, `\` or a control byte, none of which continues a UTF-8 sequence: runs are
                // valid one by one exactly when the whole string is.
                if union >= 0x80, !invalidUTF8, !isValidUTF8(run) { invalidUTF8 = true }
                sink.append(run)
            }
            guard position < count else { throw error(.endOfInputInString) }
            let byte = bytes[position]
            if byte == 0x22 {
                position += 1
                if invalidUTF8 { throw error(.invalidUnicode) }
                return
            }
            if byte < 0x20 { throw error(.controlCharacter) }
            position += 1
            guard position < count else { throw error(.endOfInputInString) }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): sink.append(escape)
            case UInt8(ascii: "b"): sink.append(0x08)
            case UInt8(ascii: "f"): sink.append(0x0C)
            case UInt8(ascii: "n"): sink.append(0x0A)
            case UInt8(ascii: "r"): sink.append(0x0D)
            case UInt8(ascii: "t"): sink.append(0x09)
            case UInt8(ascii: "u"): sink.append(try unicodeEscape())
            default: throw error(.invalidEscape)
            }
        }
    }

    private mutating func hexQuad() throws(JSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error(.endOfInputInString) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - 0x41 + 10)
            default: throw error(.invalidEscape)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Decodes `\uXXXX` (the `\u` consumed), joining a surrogate pair; a lone surrogate is an error (it has no
    /// UTF-8 form).
    private mutating func unicodeEscape() throws(JSONError) -> Unicode.Scalar {
        var value = try hexQuad()
        if (0xD800..<0xDC00).contains(value) {
            guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                bytes[position + 1] == UInt8(ascii: "u")
            else { throw error(.loneLeadingSurrogate) }
            position += 2
            let low = try hexQuad()
            guard (0xDC00..<0xE000).contains(low) else { throw error(.loneLeadingSurrogate) }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else { throw error(.invalidUnicode) }
        return scalar
    }

    // MARK: Numbers and literals

    /// Reads a number: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?, as the nearest Double, with
    /// whether it had neither fraction nor exponent.
    package mutating func readNumber() throws(JSONError) -> (value: Double, isIntegerLiteral: Bool) {
        skipWhitespace()
        let start = position
        let count = bytes.count
        let negative = position < count && bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        guard position < count, isDigit(bytes[position]) else { throw error(.invalidNumber) }
        let digitsStart = position
        var magnitude: UInt64 = 0
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < count, isDigit(bytes[position]) {
                magnitude = magnitude &* 10 &+ UInt64(bytes[position] &- 0x30)
                position += 1
            }
        }
        let integerDigits = position - digitsStart
        var integral = true
        if position < count, bytes[position] == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard position < count, isDigit(bytes[position]) else { throw error(.invalidNumber) }
            while position < count, isDigit(bytes[position]) { position += 1 }
        }
        if position < count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            integral = false
            position += 1
            if position < count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < count, isDigit(bytes[position]) else { throw error(.invalidNumber) }
            while position < count, isDigit(bytes[position]) { position += 1 }
        }
        // 19 digits always fit a UInt64, and converting it rounds to nearest as parsing the text does.
        if integral, integerDigits <= 19 {
            let value = Double(magnitude)
            return (negative ? -value : value, true)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text) else { throw JSONError(.invalidNumber, at: start) }
        return (value, integral)
    }

    /// Passes over a number, checking its grammar.
    private mutating func skipNumber() throws(JSONError) {
        _ = try readNumber()
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// Consumes `word` (`true`, `false`, `null`); a mismatch is reported at its first byte.
    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw error(.invalidLiteral) }
        for k in 0..<count where bytes[position + k] != word.utf8Start[k] { throw error(.invalidLiteral) }
        position += count
    }

    // MARK: Values

    /// Reads the next value as a tree.
    package mutating func readValue() throws(JSONError) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"):
            var members: [(key: String, value: JSONValue)] = []
            if try enterObject() {
                repeat {
                    let key = try readKey()
                    members.append((key, try readValue()))
                } while try nextMember()
            }
            return .object(JSONValue.Object(members))
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            if try enterArray() {
                repeat {
                    elements.append(try readValue())
                } while try nextElement()
            }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let number = try readNumber()
            return .number(number.value, isIntegerLiteral: number.isIntegerLiteral)
        default:
            throw error(.expectedValue)
        }
    }

    /// Passes over the next value with every check `readValue` makes, building nothing.
    package mutating func skipValue() throws(JSONError) {
        switch try peek() {
        case UInt8(ascii: "{"):
            if try enterObject() {
                repeat {
                    try startKey()
                    try skipString()
                    try endKey()
                    try skipValue()
                } while try nextMember()
            }
        case UInt8(ascii: "["):
            if try enterArray() {
                repeat {
                    try skipValue()
                } while try nextElement()
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw error(.expectedValue)
        }
    }
}

// MARK: - String sinks

/// Where `scanString` puts a string's decoded bytes: a generic parameter, so each use is specialised.
private protocol StringSink {
    mutating func append(_ run: UnsafeBufferPointer<UInt8>)
    mutating func append(_ byte: UInt8)
    mutating func append(_ scalar: Unicode.Scalar)
}

private struct ByteSink: StringSink {
    var bytes: [UInt8] = []
    mutating func append(_ run: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: run) }
    mutating func append(_ byte: UInt8) { bytes.append(byte) }
    mutating func append(_ scalar: Unicode.Scalar) { appendUTF8(scalar, to: &bytes) }
}

/// Keeps nothing: for strings that are only checked.
private struct SkipSink: StringSink {
    func append(_ run: UnsafeBufferPointer<UInt8>) {}
    func append(_ byte: UInt8) {}
    func append(_ scalar: Unicode.Scalar) {}
}

// MARK: - UTF-8

/// Whether `bytes` is well-formed UTF-8 (Unicode's table 3-7: no overlong forms, surrogates or values past
/// U+10FFFF), the rule `String(validating:)` applies.
func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let count = bytes.count
    var i = 0
    while i < count {
        let lead = bytes[i]
        if lead < 0x80 {
            i += 1
            continue
        }
        @inline(__always) func continuation(_ k: Int) -> Bool { bytes[k] & 0xC0 == 0x80 }
        switch lead {
        case 0xC2...0xDF:
            guard i + 1 < count, continuation(i + 1) else { return false }
            i += 2
        case 0xE0...0xEF:
            guard i + 2 < count else { return false }
            let second = bytes[i + 1]
            let low: UInt8 = lead == 0xE0 ? 0xA0 : 0x80
            let high: UInt8 = lead == 0xED ? 0x9F : 0xBF
            guard second >= low, second <= high, continuation(i + 2) else { return false }
            i += 3
        case 0xF0...0xF4:
            guard i + 3 < count else { return false }
            let second = bytes[i + 1]
            let low: UInt8 = lead == 0xF0 ? 0x90 : 0x80
            let high: UInt8 = lead == 0xF4 ? 0x8F : 0xBF
            guard second >= low, second <= high, continuation(i + 2), continuation(i + 3) else { return false }
            i += 4
        default:
            return false
        }
    }
    return true
}

/// Appends `scalar` as UTF-8.
@inlinable @inline(__always)
package func appendUTF8(_ scalar: Unicode.Scalar, to buffer: inout [UInt8]) {
    let v = scalar.value
    if v < 0x80 {
        buffer.append(UInt8(v))
    } else if v < 0x800 {
        buffer.append(UInt8(0xC0 | (v >> 6)))
        buffer.append(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        buffer.append(UInt8(0xE0 | (v >> 12)))
        buffer.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        buffer.append(UInt8(0xF0 | (v >> 18)))
        buffer.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        buffer.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (v & 0x3F)))
    }
}
