// A small JSON reader over UTF-8 bytes. tokenizer.json is 33 MB, almost all of it the vocab and merges; those
// two are streamed straight into their tables (no intermediate `String`s), everything else becomes `JSONValue`.

/// A parsed JSON value (used for the small parts of tokenizer.json: added tokens, normalizer, decoder, …).
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in file order.
    case object([(String, JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var intValue: Int? {
        if case .number(let n) = self, n == n.rounded(), abs(n) < 9.0e15 { return Int(n) }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A cursor over JSON text. Errors carry the byte offset so a broken file is easy to locate.
struct JSONScanner {
    /// Deepest nesting `readValue` accepts: it recurses once per level, and a file of nothing but brackets would
    /// otherwise overflow the stack. tokenizer.json files nest a few levels.
    static let maxDepth = 512

    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    /// Containers `readValue` is inside of.
    private var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func error(_ message: String) -> TokenizerError {
        .invalidJSON("\(message) at byte \(position)")
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of JSON") }
        return bytes[position]
    }

    mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else {
            throw error("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        position += 1
    }

    /// Consumes `byte` if it is next.
    mutating func consume(_ byte: UInt8) throws -> Bool {
        if try peek() == byte {
            position += 1
            return true
        }
        return false
    }

    /// Walks an object, calling `member` with each key; `member` must consume the value.
    mutating func readObject(_ member: (inout JSONScanner, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        if try consume(UInt8(ascii: "}")) { return }
        repeat {
            let key = try readString()
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    /// Walks an array, calling `element` for each element; `element` must consume it.
    mutating func readArray(_ element: (inout JSONScanner) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        if try consume(UInt8(ascii: "]")) { return }
        repeat {
            try element(&self)
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
    }

    mutating func readString() throws -> String {
        var buffer: [UInt8] = []
        try readString(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Appends the decoded UTF-8 bytes of the next string to `buffer` (which is not cleared).
    mutating func readString(into buffer: inout [UInt8]) throws {
        try expect(UInt8(ascii: "\""))
        while true {
            let runStart = position
            while position < bytes.count, bytes[position] != 0x22, bytes[position] != 0x5C { position += 1 }
            if position > runStart {
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
            }
            guard position < bytes.count else { throw error("unterminated string") }
            if bytes[position] == 0x22 {
                position += 1
                return
            }
            position += 1 // the backslash
            guard position < bytes.count else { throw error("unterminated escape") }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(escape)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var code = try readHex4()
                if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count,
                    bytes[position] == 0x5C, bytes[position + 1] == UInt8(ascii: "u")
                {
                    let save = position
                    position += 2
                    let low = try readHex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        position = save
                    }
                }
                // A lone surrogate cannot be UTF-8; serde_json rejects it too, so the file would not load in HF.
                guard let scalar = Unicode.Scalar(code) else {
                    throw error("lone surrogate \\u\(String(code, radix: 16))")
                }
                appendUTF8(scalar, to: &buffer)
            default:
                throw error("invalid escape")
            }
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let digit: UInt32
            switch c {
            case 0x30...0x39: digit = UInt32(c - 0x30)
            case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Reads a number; tokenizer.json only needs integers for ids, so the fast path is integral.
    mutating func readNumber() throws -> Double {
        skipWhitespace()
        let start = position
        var negative = false
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        var integer: Int64 = 0
        var digits = 0
        while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39, digits < 18 {
            integer = integer * 10 + Int64(bytes[position] - 0x30)
            position += 1
            digits += 1
        }
        guard digits > 0 else { throw error("expected a number") }
        let next = position < bytes.count ? bytes[position] : 0
        if next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E")
            || (next >= 0x30 && next <= 0x39)
        {
            while position < bytes.count, isNumberByte(bytes[position]) { position += 1 }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let value = Double(text) else { throw error("invalid number") }
            return value
        }
        return Double(negative ? -integer : integer)
    }

    /// A byte that may continue a JSON number: digits, sign, point, exponent (a switch, not a lookup in a string:
    /// Unigram vocabs hold a float score per piece).
    @inline(__always)
    private func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
            return true
        default:
            return false
        }
    }

    mutating func readInt() throws -> Int {
        let value = try readNumber()
        guard value == value.rounded(), abs(value) < 9.0e15 else { throw error("expected an integer") }
        return Int(value)
    }

    private mutating func readLiteral(_ word: String) throws {
        for byte in word.utf8 {
            guard position < bytes.count, bytes[position] == byte else { throw error("invalid literal") }
            position += 1
        }
    }

    mutating func readValue() throws -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"):
            try enterContainer()
            defer { depth -= 1 }
            var members: [(String, JSONValue)] = []
            try readObject { scanner, key in members.append((key, try scanner.readValue())) }
            return .object(members)
        case UInt8(ascii: "["):
            try enterContainer()
            defer { depth -= 1 }
            var elements: [JSONValue] = []
            try readArray { scanner in elements.append(try scanner.readValue()) }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"):
            try readLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try readLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try readLiteral("null")
            return .null
        default:
            return .number(try readNumber())
        }
    }

    private mutating func enterContainer() throws {
        guard depth < Self.maxDepth else { throw error("containers nested deeper than \(Self.maxDepth) levels") }
        depth += 1
    }

    /// Skips one value without building it. Containers are skipped by bracket depth alone (no key strings are
    /// made), which is what lets a cached load pass over the 30 MB of vocab and merges quickly.
    mutating func skipValue() throws {
        switch try peek() {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while position < bytes.count {
                switch bytes[position] {
                case 0x22:
                    try skipString()
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        position += 1
                        return
                    }
                default:
                    break
                }
                position += 1
            }
            throw error("unterminated container")
        case UInt8(ascii: "\""):
            try skipString()
        default:
            _ = try readValue()
        }
    }

    private mutating func skipString() throws {
        position += 1
        while position < bytes.count, bytes[position] != 0x22 {
            position += bytes[position] == 0x5C ? 2 : 1
        }
        guard position < bytes.count else { throw error("unterminated string") }
        position += 1
    }
}

@inline(__always)
func appendUTF8(_ scalar: Unicode.Scalar, to buffer: inout [UInt8]) {
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
