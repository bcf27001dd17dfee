// JSON helpers for line-oriented tools (the `tokenize` and `embed` commands, the server log, bench-tokenizer):
// Foundation's JSONSerialization drops a U+FEFF at the start of a string, so texts are read with this module's reader
// and written with an exact escaper.

/// Reading and writing JSON lines without changing any Unicode scalar of the texts.
package enum JSONLines {
    /// The `"text"` member of a line holding a JSON object, or nil when the line is not such an object.
    package static func text(inLine line: String) -> String? {
        guard let value = try? JSONValue.parse(Array(line.utf8)) else { return nil }
        return value["text"]?.stringValue
    }

    /// `text` as a JSON string literal, quotes included; non-ASCII scalars are written as they are.
    package static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    let hex = String(scalar.value, radix: 16, uppercase: false)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
        return out
    }
}
