import Foundation
import JSON
import Testing

@testable import Tokenizers

@Suite("JSON reading and writing")
struct JSONTests {
    @Test("the reader decodes escapes, surrogate pairs and raw UTF-8 exactly")
    func readerEscapes() throws {
        let json = #"{"a": "x\n\t\"\\\/\u00e9\ud83c\udf55\u2581", "b": [1, -2, 3.5, true, false, null], "c": "🍕"}"#
        let value = try JSONValue.parse(Array(json.utf8))
        #expect(value["a"]?.stringValue == "x\n\t\"\\/é🍕▁")
        #expect(value["b"] == .array([.number(1), .number(-2), .number(3.5), .bool(true), .bool(false), .null]))
        #expect(value["c"]?.stringValue == "🍕")
    }

    @Test("a broken file is an invalid-JSON error with the byte offset")
    func brokenJSON() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).json")
        try Data(#"{"a": "xy"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: TokenizerError.invalidJSON("unterminated string at byte 9")) {
            _ = try Tokenizer(tokenizerJSONPath: url.path, cacheDirectory: nil)
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
