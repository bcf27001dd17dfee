/// A parsed JSON value: API request bodies, model configuration files, the safetensors header, the Hub's error
/// bodies and the small parts of tokenizer.json.
package enum JSONValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// A number, with whether its literal had neither fraction nor exponent (the API takes only those as integers).
    case number(Double, isIntegerLiteral: Bool)
    case string(String)
    case array([JSONValue])
    case object(Object)

    /// An object's members in file order. A key given twice has its last value (as serde_json's maps, Foundation's
    /// JSONSerialization and Python's json module read it); iteration still shows both.
    package struct Object: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
        package var members: [(key: String, value: JSONValue)]

        package init(_ members: [(key: String, value: JSONValue)] = []) {
            self.members = members
        }

        package init(dictionaryLiteral elements: (String, JSONValue)...) {
            members = elements.map { (key: $0.0, value: $0.1) }
        }

        /// The last value of `key`. A linear search: the objects read here have tens of keys, and each is looked up
        /// a handful of times.
        package subscript(key: String) -> JSONValue? {
            members.last { $0.key == key }?.value
        }

        package func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
            members.makeIterator()
        }

        package static func == (lhs: Object, rhs: Object) -> Bool {
            lhs.members.count == rhs.members.count
                && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        }
    }

    /// A number whose literal form does not matter (equality compares numbers by value).
    package static func number(_ value: Double) -> JSONValue {
        .number(value, isIntegerLiteral: value == value.rounded(.towardZero))
    }

    /// Numbers are equal when their values are: `1` and `1.0` are the same JSON number.
    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a, _), .number(let b, _)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    /// Parses one JSON document; anything but whitespace after it is an error.
    package static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 512, allowingByteOrderMark: Bool = false
    ) throws(JSONError) -> JSONValue {
        var reader = JSONReader(bytes: bytes, maxDepth: maxDepth)
        if allowingByteOrderMark { reader.skipByteOrderMark() }
        let value = try reader.readValue()
        try reader.expectEnd()
        return value
    }

    package static func parse(
        _ bytes: [UInt8], maxDepth: Int = 512, allowingByteOrderMark: Bool = false
    ) throws(JSONError) -> JSONValue {
        // A closure cannot throw a typed error through `withUnsafeBufferPointer`: carried out as a Result.
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONError) -> JSONValue in
                try parse(buffer, maxDepth: maxDepth, allowingByteOrderMark: allowingByteOrderMark)
            }
        }
        return try result.get()
    }

    // MARK: Accessors

    /// The member `key` of an object (its last value if repeated); nil for a missing key or a non-object.
    package subscript(key: String) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number as an Int when it is integral and exactly representable (below 2^53 in magnitude).
    package var intValue: Int? {
        if case .number(let n, _) = self, n == n.rounded(), abs(n) < 9.0e15 { return Int(n) }
        return nil
    }

    package var doubleValue: Double? {
        if case .number(let n, _) = self { return n }
        return nil
    }

    package var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    package var objectValue: Object? {
        if case .object(let o) = self { return o }
        return nil
    }

    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value as compact JSON text (integers without a fraction), for messages.
    package var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n, _):
            if n == n.rounded(), abs(n) < 9.0e15 { return String(Int(n)) }
            return String(n)
        case .string(let s): return JSONLines.quoted(s)
        case .array(let elements): return "[" + elements.map(\.description).joined(separator: ",") + "]"
        case .object(let object):
            return "{"
                + object.members.map { JSONLines.quoted($0.key) + ":" + $0.value.description }.joined(separator: ",")
                + "}"
        }
    }
}
