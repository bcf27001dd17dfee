import TestSupport
import Testing

@testable import HTTPServer

/// A request as the parser reported it.
private struct Parsed {
    var head: HTTPRequestHead
    var body: [UInt8]
    var trailers: HTTPHeaders
}

/// Feeds `text` in pieces of `chunkLength` bytes and collects every complete request, or the error.
private func parse(
    _ text: String, chunkLength: Int = Int.max, limits: HTTPParserLimits = HTTPParserLimits()
) -> (requests: [Parsed], error: HTTPParseError?) {
    var parser = HTTPRequestParser(limits: limits)
    let bytes = Array(text.utf8)
    var requests: [Parsed] = []
    var head: HTTPRequestHead?
    var body: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + min(chunkLength, bytes.count))
        parser.append(bytes[offset..<end])
        offset = end
        do {
            while let event = try parser.next() {
                switch event {
                case .head(let newHead): head = newHead
                case .body(let piece): body += piece
                case .end(let trailers):
                    requests.append(Parsed(head: head!, body: body, trailers: trailers))
                    body = []
                }
            }
        } catch {
            return (requests, error)
        }
    }
    return (requests, nil)
}

@Suite("HTTP request parser")
struct ParserTests {
    static let splits = [1, 2, 3, 7, 64, Int.max]

    @Test("a request with headers and a body parses the same whatever the split", arguments: splits)
    func contentLength(chunkLength: Int) {
        let text = "POST /embed?a=1 HTTP/1.1\r\nHost: x\r\nX-Multi: 1\r\nx-multi: 2\r\nContent-Length: 5\r\n\r\nhello"
        let result = parse(text, chunkLength: chunkLength)
        #expect(result.error == nil)
        #expect(result.requests.count == 1)
        let request = result.requests[0]
        #expect(request.head.method == "POST")
        #expect(request.head.path == "/embed")
        #expect(request.head.query == "a=1")
        #expect(request.head.version == .http11)
        #expect(request.head.headers["HOST"] == "x")
        #expect(request.head.headers.values("X-MULTI") == ["1", "2"])
        #expect(request.head.framing == .length(5))
        #expect(request.head.keepAlive)
        #expect(request.body == Array("hello".utf8))
    }

    @Test("chunked bodies with extensions and trailers parse whatever the split", arguments: splits)
    func chunked(chunkLength: Int) {
        let text =
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "3;name=value\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Sum: 13\r\nX-Other: y\r\n\r\n"
        let result = parse(text, chunkLength: chunkLength)
        #expect(result.error == nil)
        #expect(result.requests.first?.body == Array("abc0123456789".utf8))
        #expect(result.requests.first?.trailers["x-sum"] == "13")
        #expect(result.requests.first?.trailers.count == 2)
    }

    @Test("pipelined requests come out in order", arguments: splits)
    func pipelined(chunkLength: Int) {
        let text =
            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
            + "\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"
        let result = parse(text, chunkLength: chunkLength)
        #expect(result.error == nil)
        #expect(result.requests.map(\.head.path) == ["/1", "/2", "/3"])
        #expect(result.requests[1].body == Array("hi".utf8))
    }

    @Test("HTTP/1.0 is close by default and keep-alive on request; HTTP/1.1 close on Connection: close")
    func keepAliveRules() {
        #expect(parse("GET / HTTP/1.0\r\n\r\n").requests.first?.head.keepAlive == false)
        #expect(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").requests.first?.head.keepAlive == true)
        #expect(
            parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n").requests.first?.head.keepAlive == false
        )
    }

    @Test("Expect: 100-continue is reported; other expectations are refused with 417")
    func expectations() {
        let text = "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"
        var parser = HTTPRequestParser()
        parser.append(Array(text.utf8))
        guard case .head(let head)? = try? parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.expectsContinue)
        #expect(parse("GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n").error == .expectationFailed)
    }

    @Test("absolute-form and asterisk targets are accepted")
    func targets() {
        let absolute = parse("GET http://example.com/p/q?z=1 HTTP/1.1\r\nHost: example.com\r\n\r\n").requests.first?
            .head
        #expect(absolute?.path == "/p/q")
        #expect(absolute?.query == "z=1")
        #expect(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").requests.first?.head.path == "*")
    }

    @Test(
        "bare LF ends the request line, header, chunk-size, chunk-data and trailer lines, as in nginx",
        arguments: splits)
    func bareLineFeeds(chunkLength: Int) {
        let text =
            "\nPOST /lf HTTP/1.1\nHost: x\nX-Mixed: crlf\r\nTransfer-Encoding: chunked\n\n"
            + "3;e=1\nabc\n2\r\nde\r\n0\nX-Trailer: t\n\n"
            + "GET /next HTTP/1.1\nHost: x\n\r\nGET /last HTTP/1.0\n\n"
        let result = parse(text, chunkLength: chunkLength)
        #expect(result.error == nil)
        #expect(result.requests.map(\.head.path) == ["/lf", "/next", "/last"])
        #expect(result.requests.first?.head.headers["x-mixed"] == "crlf")
        #expect(result.requests.first?.body == Array("abcde".utf8))
        #expect(result.requests.first?.trailers["x-trailer"] == "t")
    }

    @Test("the request-line limit counts the line without its terminator, LF or CRLF")
    func bareLineFeedAtLimit() {
        let limits = HTTPParserLimits(maxRequestLineBytes: 30, maxHeaderBytes: 100, maxBodyBytes: 5)
        let requestLine = "GET /" + String(repeating: "p", count: 16) + " HTTP/1.1" // 30 bytes
        #expect(parse(requestLine + "\nHost: x\n\n", chunkLength: 1, limits: limits).requests.count == 1)
        #expect(parse("GET /" + String(repeating: "p", count: 17) + " HTTP/1.1\n", limits: limits).error == .uriTooLong)
    }

    @Test("empty lines before a request are skipped")
    func leadingEmptyLines() {
        #expect(parse("\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", chunkLength: 1).requests.first?.head.path == "/a")
    }

    @Test(
        "malformed requests are 400",
        arguments: [
            "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nNo-Colon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nSpace : x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\n",
            "GET / HTTP/1.1\rHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\rX-Smuggled: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n",
            "GET / HTTP/1.1\nHost: x\n\r\r\n\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTX/1.1\r\nHost: x\r\n\r\n",
            "GET nohost HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\r\nabc\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\rZ: w\r\n\r\n",
        ])
    func badRequests(text: String) {
        for chunkLength in [1, Int.max] {
            let error = parse(text, chunkLength: chunkLength).error
            #expect(error?.status == 400, "\(text.debugDescription) → \(String(describing: error))")
        }
    }

    @Test("unsupported transfer codings are 501 and HTTP/2 is 505")
    func notImplemented() {
        #expect(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").error?.status == 501)
        #expect(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n").error == .versionNotSupported)
    }

    @Test("limits: long request line 414, large headers 431, body over the limit 413", arguments: [1, Int.max])
    func limits(chunkLength: Int) {
        let limits = HTTPParserLimits(maxRequestLineBytes: 100, maxHeaderBytes: 200, maxBodyBytes: 50)
        let longPath = "/" + String(repeating: "a", count: 120)
        #expect(parse("GET \(longPath) HTTP/1.1\r\n", chunkLength: chunkLength, limits: limits).error == .uriTooLong)
        let bigHeader = "X-Big: " + String(repeating: "b", count: 250) + "\r\n"
        #expect(
            parse("GET / HTTP/1.1\r\nHost: x\r\n" + bigHeader, chunkLength: chunkLength, limits: limits).error
                == .headersTooLarge)
        #expect(
            parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 51\r\n\r\n", chunkLength: chunkLength, limits: limits)
                .error == .payloadTooLarge)
        #expect(
            parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", limits: limits).error
                == .payloadTooLarge)
        let chunks =
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1e\r\n" + String(repeating: "c", count: 30)
            + "\r\n1e\r\n"
        #expect(parse(chunks, chunkLength: chunkLength, limits: limits).error == .payloadTooLarge)
        let bigTrailer = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + bigHeader
        #expect(parse(bigTrailer, chunkLength: chunkLength, limits: limits).error == .headersTooLarge)
    }

    @Test("a request exactly at the limits is accepted")
    func atLimits() {
        let limits = HTTPParserLimits(maxRequestLineBytes: 30, maxHeaderBytes: 100, maxBodyBytes: 5)
        let requestLine = "GET /" + String(repeating: "p", count: 16) + " HTTP/1.1" // 30 bytes
        #expect(requestLine.utf8.count == 30)
        let result = parse(
            requestLine + "\r\nHost: x\r\nContent-Length: 5\r\n\r\n12345", chunkLength: 1, limits: limits)
        #expect(result.error == nil)
        #expect(result.requests.count == 1)
    }

    @Test("after an error the parser stays failed")
    func staysFailed() {
        var parser = HTTPRequestParser()
        parser.append(Array("BAD\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(throws: HTTPParseError.self) { try parser.next() }
    }

    @Test("header lookup is case-insensitive and keeps order and repeats")
    func headers() {
        var headers: HTTPHeaders = ["Content-Type": "a", "X-A": "1"]
        headers.add(name: "x-a", value: "2")
        #expect(headers["content-type"] == "a")
        #expect(headers.values("X-a") == ["1", "2"])
        headers.replaceOrAdd(name: "X-A", value: "3")
        #expect(headers.values("x-a") == ["3"])
        headers.remove(name: "CONTENT-TYPE")
        #expect(!headers.contains("content-type"))
        #expect(headers.tokens("nothing").isEmpty)
    }
}
