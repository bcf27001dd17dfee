import Testing

@testable import Tokenizers

@Suite("JSON reading and writing")
struct JSONTests {
    @Test("the scanner decodes escapes, surrogate pairs and raw UTF-8 exactly")
    func scannerEscapes() throws {
        let json = #"{"a": "x\n\t\"\\\/\u00e9\ud83c\udf55\u2581", "b": [1, -2, 3.5, true, false, null], "c": "🍕"}"#
        let value = try Array(json.utf8).withUnsafeBufferPointer { bytes in
            var scanner = JSONScanner(bytes: bytes)
            return try scanner.readValue()
        }
        #expect(value["a"]?.stringValue == "x\n\t\"\\/é🍕▁")
        #expect(value["b"] == .array([.number(1), .number(-2), .number(3.5), .bool(true), .bool(false), .null]))
        #expect(value["c"]?.stringValue == "🍕")
    }

    @Test("a broken file is an invalid-JSON error with the byte offset")
    func brokenJSON() {
        #expect(throws: TokenizerError.invalidJSON("unterminated string at byte 9")) {
            try Array(#"{"a": "xy"#.utf8).withUnsafeBufferPointer { bytes in
                var scanner = JSONScanner(bytes: bytes)
                _ = try scanner.readValue()
            }
        }
    }

    @Test("a JSON line's text keeps every scalar, a leading U+FEFF included; other lines are not JSON texts")
    func jsonLineText() {
        #expect(
            JSONLines.text(inLine: #"{"text": "\ufeffa\nb"}"#)?.unicodeScalars.map(\.value) == [
                0xFEFF, 0x61, 0x0A, 0x62,
            ])
        #expect(JSONLines.text(inLine: #"  {"id": 1, "text": "hi"}  "#) == "hi")
        #expect(JSONLines.text(inLine: "plain text") == nil)
        #expect(JSONLines.text(inLine: #"{"text": 5}"#) == nil)
        #expect(JSONLines.text(inLine: #"{"text": "a"} trailing"#) == nil)
    }

    @Test("quoted text reads back to the same scalars")
    func quotedRoundTrip() {
        let text = "a\"b\\c\n\r\t\u{0}\u{1F}\u{7F}\u{2028}é🍕\u{FEFF}"
        let line = "{\"text\":" + JSONLines.quoted(text) + "}"
        #expect(JSONLines.text(inLine: line)?.unicodeScalars.elementsEqual(text.unicodeScalars) == true)
    }
}
