/// An ordered list of header fields with case-insensitive name lookup; repeated fields are kept.
package struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// One header field as it appeared on the wire (names keep their case).
    package typealias Field = (name: String, value: String)

    private var fields: [Field]

    /// An empty header list.
    package init() { fields = [] }

    /// Headers in the given order.
    package init(_ fields: [(String, String)]) { self.fields = fields.map { (name: $0.0, value: $0.1) } }

    /// Headers from a literal, in the literal's order.
    package init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The number of fields, counting repeats.
    package var count: Int { fields.count }

    /// The first value of the field `name` (any case), or nil.
    package subscript(name: String) -> String? {
        for field in fields where Self.namesMatch(field.name, name) { return field.value }
        return nil
    }

    /// Every value of the field `name` (any case), in order.
    package func values(_ name: String) -> [String] {
        fields.filter { Self.namesMatch($0.name, name) }.map(\.value)
    }

    /// Every comma-separated element of every `name` field, trimmed (for list headers such as `Connection`).
    package func tokens(_ name: String) -> [Substring] {
        values(name).flatMap { $0.split(separator: ",") }.map { trimmed($0) }.filter { !$0.isEmpty }
    }

    /// True when a field `name` exists.
    package func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field, keeping existing ones with the same name.
    package mutating func add(name: String, value: String) { fields.append((name: name, value: value)) }

    /// Replaces every `name` field with one field holding `value`.
    package mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        fields.append((name: name, value: value))
    }

    /// Removes every `name` field.
    package mutating func remove(name: String) { fields.removeAll { Self.namesMatch($0.name, name) } }

    package func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    package static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison of two header names, without allocating.
    static func namesMatch(_ a: String, _ b: String) -> Bool {
        var lhs = a.utf8.makeIterator()
        var rhs = b.utf8.makeIterator()
        while true {
            switch (lhs.next(), rhs.next()) {
            case (nil, nil): return true
            case (let x?, let y?) where asciiLower(x) == asciiLower(y): continue
            default: return false
            }
        }
    }
}

/// HTTP protocol version of a request.
package struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    package var major: Int
    package var minor: Int
    /// Creates a version such as 1.1.
    package init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    /// HTTP/1.0.
    package static let http10 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1.
    package static let http11 = HTTPVersion(major: 1, minor: 1)
    package var description: String { "HTTP/\(major).\(minor)" }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 { byte &- 65 < 26 ? byte | 0x20 : byte }

func trimmed(_ text: Substring) -> Substring {
    var text = text
    while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
    while let last = text.last, last == " " || last == "\t" { text.removeLast() }
    return text
}

func equalsIgnoringCase(_ text: Substring, _ lowercased: String) -> Bool {
    HTTPHeaders.namesMatch(String(text), lowercased)
}
