import Testing

@testable import EmbeddingAPI

@Suite("JSON floats")
struct JSONFloatTests {
    /// Finite values of every magnitude: random bit patterns, and the edges of the format.
    private static func samples() -> [Float] {
        var generator = SystemRandomNumberGenerator()
        var values: [Float] = [
            0, -0.0, 1, -1, 0.1, 1e-5, 1e7, 16_777_216, 16_777_217, .leastNonzeroMagnitude, .leastNormalMagnitude,
            .greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(1).nextUp, Float(1).nextDown,
        ]
        while values.count < 50_000 {
            let value = Float(bitPattern: generator.next())
            if value.isFinite { values.append(value) }
        }
        return values
    }

    @Test("every finite float is written as its shortest round-trip text and parses back to the same bits")
    func roundTrip() throws {
        let values = Self.samples()
        var writer = JSONWriter()
        writer.floats(values)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(text.first == "[" && text.last == "]")
        let fields = text.dropFirst().dropLast().split(separator: ",")
        #expect(fields.count == values.count)
        for (field, value) in zip(fields, values) {
            #expect(String(field) == value.description)
            let parsed = try #require(Float(String(field)))
            #expect(parsed.bitPattern == value.bitPattern, "\(field)")
        }
    }

    @Test("NaN and infinities are null, alone and in an array, with commas in place")
    func nonFinite() {
        var writer = JSONWriter()
        writer.beginArray()
        writer.float(.nan)
        writer.float(0.5)
        writer.floats([Float.infinity, -1.5, -Float.infinity])
        writer.floats([Float]())
        writer.endArray()
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "[null,0.5,[null,-1.5,null],[]]")
    }
}
