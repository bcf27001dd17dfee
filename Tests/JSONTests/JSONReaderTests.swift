import JSON
import Testing

/// Parses `text` as one document.
private func parse(_ text: String, maxDepth: Int = 512, allowingByteOrderMark: Bool = false) throws(JSONError)
    -> JSONValue
{
    try JSONValue.parse(Array(text.utf8), maxDepth: maxDepth, allowingByteOrderMark: allowingByteOrderMark)
}

/// The error parsing `bytes` gives (nil when it parses).
private func failure(_ bytes: [UInt8], maxDepth: Int = 512) -> JSONError? {
    do {
        _ = try JSONValue.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

private func failure(_ text: String, maxDepth: Int = 512) -> JSONError? {
    failure(Array(text.utf8), maxDepth: maxDepth)
}

@Suite("JSON reader")
struct JSONReaderTests {
    @Test("escapes decode to their characters; surrogate pairs join; raw UTF-8 stays as it is")
    func escapes() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try parse(#""\u0041\u00e9\u20AC\uD83C\uDF55""#) == .string("Aé€🍕"))
        #expect(try parse("\"é🍕\u{FEFF}x\"") == .string("é🍕\u{FEFF}x"))
        // A U+FEFF inside a value is content, not a byte order mark.
        #expect(try parse(#"{"\ufeffk":"\ufeffv"}"#) == .object(["\u{FEFF}k": .string("\u{FEFF}v")]))
        #expect(failure(#""\x""#) == JSONError(.invalidEscape, at: 3))
        #expect(failure(#""\u12G4""#) == JSONError(.invalidEscape, at: 5))
        #expect(failure(#""\u12""#) == JSONError(.endOfInputInString, at: 3))
    }

    @Test("a lone surrogate is refused: a leading one unpaired, a trailing one alone")
    func loneSurrogates() {
        #expect(failure(#""\ud800""#) == JSONError(.loneLeadingSurrogate, at: 7))
        #expect(failure(#""\ud800x""#) == JSONError(.loneLeadingSurrogate, at: 7))
        #expect(failure(#""\ud800\u0041""#) == JSONError(.loneLeadingSurrogate, at: 13))
        #expect(failure(#""\udc00""#) == JSONError(.invalidUnicode, at: 7))
    }

    @Test("strings must be UTF-8 without raw control characters; invalid UTF-8 is reported after the string")
    func stringBytes() {
        #expect(failure([0x22, 0x61, 0x0A, 0x22]) == JSONError(.controlCharacter, at: 2))
        #expect(failure([0x22, 0xC3, 0x28, 0x22]) == JSONError(.invalidUnicode, at: 4))
        // Overlong, surrogate (ED A0 80) and past-U+10FFFF forms, and a sequence cut by an escape.
        let malformed: [[UInt8]] = [
            [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF],
        ]
        for bad in malformed {
            #expect(failure([0x22] + bad + [0x22])?.reason == .invalidUnicode, "\(bad)")
        }
        #expect(failure([0x22, 0xE2, 0x82, 0x5C, 0x6E, 0x22])?.reason == .invalidUnicode)
        // The largest scalar and the last before the surrogates are fine.
        #expect(failure([0x22, 0xF4, 0x8F, 0xBF, 0xBF, 0xED, 0x9F, 0xBF, 0x22]) == nil)
    }

    @Test("numbers follow RFC 8259's grammar; integers are marked as such")
    func numbers() throws {
        #expect(try parse("0") == .number(0, isIntegerLiteral: true))
        #expect(try parse("-12") == .number(-12))
        #expect(try parse("3.25e2") == .number(325))
        #expect(try parse("1E-2") == .number(0.01))
        guard case .number(let value, let integral) = try parse("1.0") else { throw JSONError(.expectedValue, at: 0) }
        #expect(value == 1 && !integral)
        // Beyond 2^53 and beyond UInt64: rounded to nearest, as the text would be.
        #expect(try parse("9007199254740993") == .number(9_007_199_254_740_992))
        #expect(try parse("123456789012345678901") == .number(123_456_789_012_345_678_901))
        #expect(try parse("-0").doubleValue?.sign == .minus)
        for bad in ["01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.e3"] {
            #expect(failure(bad) != nil, "\(bad)")
        }
        #expect(failure("[1.]") == JSONError(.invalidNumber, at: 3))
        #expect(failure("[01]") == JSONError(.expectedCommaOrArrayEnd, at: 2))
    }

    @Test("nesting deeper than the limit is an error at the container that crosses it, not a stack overflow")
    func depthLimit() {
        #expect(failure(String(repeating: "[", count: 3) + String(repeating: "]", count: 3), maxDepth: 3) == nil)
        #expect(
            failure(String(repeating: "[", count: 4) + String(repeating: "]", count: 4), maxDepth: 3)
                == JSONError(.depthLimit(3), at: 3))
        #expect(failure(String(repeating: "{\"a\":", count: 100_000))?.reason == .depthLimit(512))
    }

    @Test("errors carry the offset where reading stopped; truncated input is an end-of-input error")
    func truncated() {
        #expect(failure("") == JSONError(.endOfInputInValue, at: 0))
        #expect(failure("  ") == JSONError(.endOfInputInValue, at: 2))
        #expect(failure(#"{"a""#) == JSONError(.expectedColon, at: 4))
        #expect(failure(#"{"a":"#) == JSONError(.endOfInputInValue, at: 5))
        #expect(failure(#"{"a":1"#) == JSONError(.endOfInputInObject, at: 6))
        #expect(failure(#"{"a":1,"#) == JSONError(.endOfInputInObject, at: 7))
        #expect(failure("[1,") == JSONError(.endOfInputInValue, at: 3))
        #expect(failure("[1") == JSONError(.endOfInputInArray, at: 2))
        #expect(failure(#"["ab"#) == JSONError(.endOfInputInString, at: 4))
        #expect(failure("tru") == JSONError(.invalidLiteral, at: 0))
        #expect(failure("[nul]") == JSONError(.invalidLiteral, at: 1))
        #expect(failure(#"{1:2}"#) == JSONError(.keyNotString, at: 1))
        #expect(failure(#"{"a":1,}"#) == JSONError(.keyNotString, at: 7))
        #expect(failure("[1,]") == JSONError(.expectedValue, at: 3))
        #expect(failure(#"{"a":1 "b":2}"#) == JSONError(.expectedCommaOrObjectEnd, at: 7))
    }

    @Test("trailing garbage is refused; trailing whitespace is not")
    func trailing() throws {
        #expect(try parse(" {} \n\t\r ") == .object([:]))
        #expect(failure("{} x") == JSONError(.trailingCharacters, at: 3))
        #expect(failure("1 2") == JSONError(.trailingCharacters, at: 2))
    }

    @Test("a byte order mark is an error unless the caller allows it")
    func byteOrderMark() throws {
        #expect(failure([0xEF, 0xBB, 0xBF, 0x7B, 0x7D]) == JSONError(.expectedValue, at: 0))
        #expect(try parse("\u{FEFF}{\"a\":1}", allowingByteOrderMark: true) == .object(["a": .number(1)]))
        #expect(throws: JSONError(.expectedValue, at: 3)) {
            try parse("\u{FEFF}\u{FEFF}1", allowingByteOrderMark: true)
        }
    }

    @Test("line and column count characters as serde_json does, including the offending byte")
    func location() {
        let text = Array("{\n  \"é\": 1,\n  oops\n}".utf8)
        let error = failure(text)
        #expect(error == JSONError(.keyNotString, at: 15))
        #expect(error?.location(in: text).line == 3 && error?.location(in: text).column == 3)
        let end = JSONError(.endOfInputInValue, at: 3).location(in: Array("é\n".utf8))
        #expect(end.line == 2 && end.column == 0)
        let euro = JSONError(.expectedValue, at: 2).location(in: Array("ab€".utf8))
        #expect(euro.line == 1 && euro.column == 3)
    }

    @Test("a repeated key reads as its last value; iteration keeps every member in file order")
    func objects() throws {
        let value = try parse(#"{"b":1,"a":2,"b":3}"#)
        #expect(value["b"] == .number(3))
        #expect(value.objectValue?.map(\.key) == ["b", "a", "b"])
        #expect(value["missing"] == nil)
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}")["a"] == nil)
    }

    @Test("the pull reader streams members and skips values with the tree's checks")
    func pull() throws {
        let text = Array(#" {"skip": {"x": [1, "\u00e9", null, {"y": true}]}, "key": ["a", "b\n"], "n": 7} "#.utf8)
        try text.withUnsafeBufferPointer { bytes in
            var reader = JSONReader(bytes: bytes)
            var seen: [String] = []
            var strings: [UInt8] = []
            try reader.readObject { reader, key in
                seen.append(key)
                switch key {
                case "key": try reader.readArray { reader in try reader.readString(into: &strings) }
                case "n": #expect(try reader.readNumber() == (7, true))
                default: try reader.skipValue()
                }
            }
            try reader.expectEnd()
            #expect(seen == ["skip", "key", "n"])
            #expect(strings == Array("ab\n".utf8))
        }
        // Skipping checks what it passes over.
        for bad in [#"[1, 01]"#, #"["\x"]"#, #"{"a" 1}"#, "[tru]", "[1,]"] {
            let error = [UInt8](bad.utf8).withUnsafeBufferPointer { bytes -> JSONError? in
                var reader = JSONReader(bytes: bytes)
                do {
                    try reader.skipValue()
                    return nil
                } catch let error as JSONError {
                    return error
                } catch {
                    return nil
                }
            }
            #expect(error != nil && error == failure(bad), "\(bad)")
        }
    }

    @Test("description writes compact JSON, integers without a fraction")
    func description() throws {
        let value = try parse(#"{"a":[1,2.5,"x\"y",true,null],"b":{}}"#)
        #expect(value.description == #"{"a":[1,2.5,"x\"y",true,null],"b":{}}"#)
    }

    @Test("JSON lines: the text member of an object line, and exact quoting")
    func jsonLines() {
        #expect(JSONLines.text(inLine: #"{"text": "a\u0000b"}"#) == "a\u{0}b")
        #expect(JSONLines.text(inLine: #"["text"]"#) == nil)
        #expect(JSONLines.quoted("a\"\\\n\u{1}\u{2028}é") == #""a\"\\\n\u0001\u2028é""#)
    }
}
