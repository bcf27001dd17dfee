import JSON

// tokenizer.json through the JSON module's reader: its errors become `TokenizerError.invalidJSON` with the byte offset.

extension JSONReader {
    /// A token id or count: a number with an integral value (HF's files write `3`, a few tools `3.0`).
    mutating func readInt() throws -> Int {
        let value = try readNumber().value
        guard value == value.rounded(), abs(value) < 9.0e15 else { throw invalid("expected an integer") }
        return Int(value)
    }

    /// A content error at the current position, worded as the reader's own errors are.
    func invalid(_ message: String) -> TokenizerError {
        .invalidJSON("\(message) at byte \(position)")
    }
}

extension TokenizerError {
    init(_ error: JSONError) {
        self = .invalidJSON(error.description)
    }
}
