import Foundation
import HTTPServer
import Testing

@testable import EmbeddingAPI

/// U+FEFF is a byte order mark only at the start of a stream; inside a JSON string it is text (ZERO WIDTH NO-BREAK
/// SPACE) that the tokenizer must see. Foundation's JSONSerialization is known to drop a leading U+FEFF from
/// strings, which is one reason the API parses JSON itself.
@Suite("byte order marks in request bodies")
struct ByteOrderMarkTests {
    let server: FakeServer

    init() throws {
        server = try FakeServer()
    }

    private func post(_ path: String, _ bytes: [UInt8]) async -> HTTPResponse {
        await server.router.handle(
            HTTPRequest(
                method: "POST", path: path, headers: HTTPHeaders([("Content-Type", "application/json")]), body: bytes))
    }

    @Test("a body starting with the UTF-8 BOM is malformed JSON, as for serde_json: 400, line 1 column 1")
    func leadingBOM() async throws {
        let response = await post("/embed", [0xEF, 0xBB, 0xBF] + Array(#"{"inputs":"a"}"#.utf8))
        #expect(response.status == 400)
        #expect(
            response.teiError?.message == "Failed to parse the request body as JSON: expected value at line 1 column 1")
    }

    @Test("U+FEFF inside a string, raw or escaped, at its start, middle and end, reaches the tokenizer intact")
    func insideStrings() async throws {
        let bom = "\u{FEFF}"
        // The fake tokenizer's ids are the Unicode scalars, between <bos> = 2 and <eos> = 1.
        let expected = [2, 0xFEFF, 97, 0xFEFF, 98, 0xFEFF, 1]
        for body in [#"{"inputs":"\#(bom)a\#(bom)b\#(bom)"}"#, #"{"inputs":"\ufeffa\uFEFFb\ufeff"}"#] {
            let tokens = await post("/tokenize", Array(body.utf8))
            let ids = (tokens.json as? [[[String: Any]]])?.first?.map { $0["id"] as? Int }
            #expect(ids == expected)
            let embedded = await post("/embed", Array(body.utf8))
            #expect(embedded.headers["x-compute-characters"] == "5")
            #expect(embedded.vectors == [FakeModel.finalize(FakeModel.embed(expected.map(Int32.init)), nil, true)])
        }
    }

    @Test("the parser keeps a leading U+FEFF in a string value and in a key")
    func parserKeepsIt() throws {
        let value = try JSONParser.parse(Array(#"{"\#u{FEFF}k":"\#u{FEFF}v"}"#.utf8))
        #expect(value == .object(["\u{FEFF}k": .string("\u{FEFF}v")]))
        guard case .object(let members) = value, case .string(let text)? = members["\u{FEFF}k"] else {
            Issue.record("not an object with the key")
            return
        }
        #expect(text.unicodeScalars.map(\.value) == [0xFEFF, 0x76])
    }
}
