import ArgumentParser
import JSON
import Tokenizers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `embed-server tokenize`: tokenizes texts offline, one JSON line of ids per input line.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize texts with the model's tokenizer.json, one JSON line per input line.",
        discussion: """
            Each input line is a text, or a JSON object {"text": "..."} (so a text may hold newlines). A plain line \
            loses its line ending (LF or CRLF). Output per input: {"ids": [...]} plus "tokens" and "offsets" \
            (Unicode-scalar [start, end] into the text; [0, 0] for <bos>/<eos>) when asked.
            """
    )

    @Option(
        name: .customLong("model-id"), help: "A directory holding tokenizer.json (or the tokenizer.json file itself).")
    var modelID: String

    @Flag(name: .customLong("no-special-tokens"), help: "Do not add the template's special tokens (<bos>, <eos>).")
    var noSpecialTokens = false

    @Flag(help: "Also write each token's offsets.")
    var offsets = false

    @Flag(help: "Also write each token's string.")
    var tokens = false

    @Option(help: "Read texts from this file instead of standard input.")
    var input: String?

    func run() throws {
        let tokenizer =
            modelID.hasSuffix(".json")
            ? try Tokenizer(tokenizerJSONPath: modelID)
            : try Tokenizer(directory: modelID)
        let source: UnsafeMutablePointer<FILE>
        if let input {
            guard let file = fopen(input, "rb") else {
                throw ValidationError("cannot open --input \(input): \(String(cString: strerror(errno)))")
            }
            source = file
        } else {
            // fdopen rather than the C `stdin` global, which Swift 6 rejects as shared mutable state.
            guard let file = fdopen(0, "rb") else { throw ValidationError("cannot read standard input") }
            source = file
        }
        defer { if input != nil { fclose(source) } }
        guard let output = fdopen(1, "wb") else { throw ValidationError("cannot write standard output") }

        while let line = readLine(from: source) {
            let text = JSONLines.text(inLine: line) ?? line
            let encoding = tokenizer.encode(text, addSpecialTokens: !noSpecialTokens)
            var out = "{\"ids\":[" + encoding.ids.map(String.init).joined(separator: ",") + "]"
            if tokens {
                out += ",\"tokens\":[" + encoding.tokens.map(JSONLines.quoted).joined(separator: ",") + "]"
            }
            if offsets {
                out +=
                    ",\"offsets\":["
                    + encoding.offsets.map { "[\($0.lowerBound),\($0.upperBound)]" }.joined(separator: ",") + "]"
            }
            out += "}\n"
            fputs(out, output)
        }
        fflush(output)
    }

    /// One line without its LF or CRLF ending, or nil at end of input. Bytes are decoded as UTF-8 (invalid
    /// sequences become U+FFFD, as in any Swift String).
    private func readLine(from file: UnsafeMutablePointer<FILE>) -> String? {
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else { return nil }
        var bytes = UnsafeBufferPointer(
            start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: length)
        if bytes.last == 0x0A { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
        if bytes.last == 0x0D { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
