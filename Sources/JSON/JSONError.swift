/// Why a JSON text was refused, and the byte offset where reading stopped. Callers word it for their audience: the
/// API as serde_json does (TEI's messages), the tokenizer by byte offset, model files by line and column.
package struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    package enum Reason: Equatable, Sendable, CustomStringConvertible {
        /// The input ended where a value should start.
        case endOfInputInValue
        /// A byte that cannot start a value.
        case expectedValue
        /// `t`, `f` or `n` that does not spell `true`, `false` or `null`.
        case invalidLiteral
        /// Containers nested deeper than the reader's limit.
        case depthLimit(Int)
        case endOfInputInObject
        case keyNotString
        case expectedColon
        case expectedCommaOrObjectEnd
        case endOfInputInArray
        case expectedCommaOrArrayEnd
        case invalidNumber
        case endOfInputInString
        case invalidEscape
        /// A byte below 0x20 inside a string (RFC 8259 wants those escaped).
        case controlCharacter
        /// `\uD800`–`\uDBFF` not followed by an escaped low surrogate.
        case loneLeadingSurrogate
        /// A string whose bytes are not UTF-8, or an escaped lone trailing surrogate.
        case invalidUnicode
        /// A specific byte the caller's pull reading requires (`[`, `{`, `,`, `:`, …).
        case expected(UInt8)
        /// Non-whitespace after the document.
        case trailingCharacters

        package var description: String {
            switch self {
            case .endOfInputInValue: "unexpected end of JSON"
            case .expectedValue: "expected a value"
            case .invalidLiteral: "invalid literal"
            case .depthLimit(let limit): "containers nested deeper than \(limit) levels"
            case .endOfInputInObject: "unterminated object"
            case .keyNotString: "object key is not a string"
            case .expectedColon: "expected ':'"
            case .expectedCommaOrObjectEnd: "expected ',' or '}'"
            case .endOfInputInArray: "unterminated array"
            case .expectedCommaOrArrayEnd: "expected ',' or ']'"
            case .invalidNumber: "invalid number"
            case .endOfInputInString: "unterminated string"
            case .invalidEscape: "invalid escape"
            case .controlCharacter: "unescaped control character in a string"
            case .loneLeadingSurrogate: "lone leading surrogate in a \\u escape"
            case .invalidUnicode: "invalid Unicode (not UTF-8, or a lone surrogate)"
            case .expected(let byte): "expected '\(Character(Unicode.Scalar(byte)))'"
            case .trailingCharacters: "trailing characters after the JSON value"
            }
        }
    }

    package var reason: Reason
    /// Where reading stopped: the offending byte, or the end of the input.
    package var offset: Int

    package init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    package var description: String { "\(reason) at byte \(offset)" }

    /// The 1-based line and column of `offset` as serde_json counts them: lines split at `\n`, the column counts
    /// characters (UTF-8 lead bytes) up to and including the byte at `offset`, so an error at the end of the input
    /// points just past its last character.
    package func location(in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var column = 0
        for byte in UnsafeBufferPointer(rebasing: bytes[..<min(offset + 1, bytes.count)]) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 0
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    package func location(in bytes: [UInt8]) -> (line: Int, column: Int) {
        bytes.withUnsafeBufferPointer { location(in: $0) }
    }
}
