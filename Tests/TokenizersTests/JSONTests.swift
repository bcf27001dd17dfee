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

    @Test("tokenizer.json is read as strictly as serde_json reads it, every error with its byte offset")
    func strictFile() throws {
        let model = #"{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1},"unk_token":"[UNK]"}}"#
        let cases: [([UInt8], String)] = [
            (Array((model + " x").utf8), "trailing characters after the JSON value at byte 77"),
            (
                Array(model.replacingOccurrences(of: #""a":1"#, with: "\"a\t\":1").utf8),
                "unescaped control character in a string at byte 50"
            ),
            (Array(model.replacingOccurrences(of: #""a":1"#, with: #""a":01"#).utf8), "expected ',' or '}' at byte 53"),
            (Array(model.utf8).map { $0 == UInt8(ascii: "a") ? 0xFF : $0 }, "not UTF-8"),
            (Array(#"{"x":[1,],"#.utf8) + Array(model.dropFirst().utf8), "expected a value at byte 8"),
        ]
        for (bytes, message) in cases {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("strict-\(UUID().uuidString).json")
            try Data(bytes).write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            do {
                _ = try Tokenizer(tokenizerJSONPath: url.path, cacheDirectory: nil)
                Issue.record("loaded: \(String(decoding: bytes, as: UTF8.self))")
            } catch let TokenizerError.invalidJSON(reason) {
                #expect(reason.contains(message), "\(reason)")
            }
        }
        // The file itself loads.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strict-\(UUID().uuidString).json")
        try Data(model.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try Tokenizer(tokenizerJSONPath: url.path, cacheDirectory: nil).vocabularySize == 2)
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
