import JSON
import Tokenizers

// Request bodies are read by the JSON module's reader; this file words what it says as TEI does (serde_json's
// messages and positions, which clients see in 400 responses), and writes responses.

/// The tokenizer's truncation direction, which requests carry.
package typealias TruncationDirection = Tokenizers.TruncationDirection

extension JSONValue {
    /// serde's name for the value's type, used in decoding messages.
    var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool(let value): "boolean `\(value)`"
        case .number(let value, let integral):
            integral
                ? "integer `\(Int64(exactly: value).map(String.init) ?? String(value))`" : "floating point `\(value)`"
        case .string(let value): "string \"\(value.count > 40 ? String(value.prefix(40)) + "…" : value)\""
        case .array: "sequence"
        case .object: "map"
        }
    }
}

/// A JSON syntax error as serde_json reports it: its message and the 1-based line and column where parsing stopped.
struct JSONSyntaxError: Error, CustomStringConvertible {
    var reason: String
    var line: Int
    var column: Int
    var description: String { "\(reason) at line \(line) column \(column)" }

    init(_ error: JSONError, in bytes: [UInt8]) {
        reason =
            switch error.reason {
            case .endOfInputInValue: "EOF while parsing a value"
            case .expectedValue: "expected value"
            case .invalidLiteral: "expected ident"
            case .depthLimit: "recursion limit exceeded"
            case .endOfInputInObject: "EOF while parsing an object"
            case .keyNotString: "key must be a string"
            case .expectedColon: "expected `:`"
            case .expectedCommaOrObjectEnd: "expected `,` or `}`"
            case .endOfInputInArray: "EOF while parsing a list"
            case .expectedCommaOrArrayEnd: "expected `,` or `]`"
            case .invalidNumber: "invalid number"
            case .endOfInputInString: "EOF while parsing a string"
            case .invalidEscape: "invalid escape"
            case .controlCharacter: "control character (\\u0000-\\u001F) found while parsing a string"
            case .loneLeadingSurrogate: "lone leading surrogate in hex escape"
            case .invalidUnicode: "invalid unicode code point"
            case .trailingCharacters: "trailing characters"
            // Pull reading of a fixed shape; a whole document is read as a tree.
            case .expected(let byte): "expected `\(Character(Unicode.Scalar(byte)))`"
            }
        (line, column) = error.location(in: bytes)
    }
}

/// Request bodies as TEI parses them.
enum JSONParser {
    /// serde_json's recursion limit: a body nested deeper is refused as TEI refuses it.
    static let maxDepth = 128

    /// Parses one JSON document; trailing non-whitespace is an error.
    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        do {
            return try JSONValue.parse(bytes, maxDepth: maxDepth)
        } catch {
            throw JSONSyntaxError(error, in: bytes)
        }
    }
}

/// Appends JSON to a byte buffer without building an intermediate tree.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init(reservingCapacity capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes an object key; the next value call writes its value.
    mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// TEI writes absent optional fields as `null`, not by leaving the key out.
    mutating func integerOrNull(_ value: Int?) {
        if let value { integer(value) } else { null() }
    }

    mutating func stringOrNull(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func integer<T: BinaryInteger>(_ value: T) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// The shortest text that reads back as the same Float (as serde_json does); NaN and infinities are `null`.
    mutating func float(_ value: Float) {
        separate()
        var sink = DigitSink()
        swap(&sink.bytes, &bytes)
        sink.append(value)
        swap(&sink.bytes, &bytes)
    }

    mutating func floats(_ values: some Collection<Float>) {
        beginArray()
        var sink = DigitSink()
        swap(&sink.bytes, &bytes)
        var first = true
        for value in values {
            if !first { sink.bytes.append(UInt8(ascii: ",")) }
            first = false
            sink.append(value)
        }
        swap(&sink.bytes, &bytes)
        endArray()
    }

    mutating func string(_ value: String) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends an already-serialized JSON value.
    mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
    }
}

/// Writes a Float's `description` digits (Swift's shortest round-trip form) straight into a byte buffer: through
/// `description`, a String was built per value and one 768-float vector took 47 µs to format instead of 24.
private struct DigitSink: TextOutputStream {
    var bytes: [UInt8] = []

    /// The value's digits, or `null` for NaN and infinities.
    mutating func append(_ value: Float) {
        if value.isFinite {
            value.write(to: &self)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }

    // Float's `write(to:)` hands its digits here from a stack buffer; the default would wrap them in a String.
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
}
