// libFuzzer harness for request body decoding, built by `scripts/check/fuzz http-body` with HTTPHeaders.swift,
// HTTPRequestParser.swift and ContentCoding.swift (-O, as in the release build; zlib from the system).
//
// The server's path for a body: HTTPRequestParser undoes `Transfer-Encoding: chunked` (Connection collects its body
// events up to the end of the request), then ServerShared.respond calls ContentCoding.decodeBody with the
// `Content-Encoding` header and the payload limit, which is also the parser's body limit. The harness does the same.
//
// Input: byte 0 chooses, byte 1 picks the limit (0, 1, 64, 1000, 4096, 65536, 1 MiB or 2 MB); the rest is the body:
//   byte0 & 3      0: the rest is the chunked body as sent; 1: sent with Content-Length; 2: framed into chunks
//                  by the harness; 3: gzip-compressed by the harness, then framed into chunks
//   byte0 >> 2 & 3 Content-Encoding: gzip, deflate, none, or an odd spelling (" X-GZIP ", "br", "identity")
// Invariants: no crash, hang or runaway allocation; the transfer-decoded body and the content-decoded body are each
// at most the limit; every rejection is 400, 413, 415 (or the parser's own statuses), never 500; a body the harness
// framed itself (modes 2 and 3) comes back exactly when within the limit, and a compressed one over the limit is a 413;
// a gzip body that decodes decodes again the same once re-compressed.

private let limits = [0, 1, 64, 1000, 4096, 65536, 1 << 20, 2_000_000]
private let oddEncodings = [" X-GZIP ", "br", "identity", "gzip, deflate"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let mode = Int(input[0] & 3)
    let limit = limits[Int(input[1]) % limits.count]
    let rest = Array(input[2...])
    let encoding: String?
    switch Int(input[0] >> 2) & 3 {
    case 0: encoding = "gzip"
    case 1: encoding = "deflate"
    case 2: encoding = nil
    default: encoding = oddEncodings[Int(input[0] >> 4) % oddEncodings.count]
    }

    var head = "POST /embed HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
    if let encoding { head += "Content-Encoding: \(encoding)\r\n" }
    var sent: [UInt8]  // what the client sends after the head
    var expectedBody: [UInt8]?  // the transfer-decoded body, when the harness framed it
    var plain: [UInt8]?  // the content-decoded body, when the harness compressed it
    switch mode {
    case 0:
        head += "Transfer-Encoding: chunked\r\n"
        sent = rest
    case 1:
        head += "Content-Length: \(rest.count)\r\n"
        sent = rest
    case 2:
        head += "Transfer-Encoding: chunked\r\n"
        sent = chunked(rest, seed: input[0])
        expectedBody = rest
    default:
        guard let compressed = ContentCoding.gzip(rest) else { fuzzFail("ContentCoding.gzip failed on \(rest.count) bytes") }
        head += "Transfer-Encoding: chunked\r\n"
        sent = chunked(compressed, seed: input[0])
        expectedBody = compressed
        if encoding == "gzip" || encoding == "deflate" { plain = rest }
    }
    let request = Array((head + "\r\n").utf8) + sent

    // Transfer decoding, as Connection feeds the parser.
    var parser = HTTPRequestParser(limits: HTTPParserLimits(maxBodyBytes: limit))
    parser.append(request)
    var body: [UInt8] = []
    var headers: HTTPHeaders?
    var complete = false
    do {
        events: while let event = try parser.next() {
            switch event {
            case .head(let parsed): headers = parsed.headers
            case .body(let piece):
                body += piece
                fuzzCheck(body.count <= limit, "the parser passed \(body.count) body bytes with a \(limit)-byte limit")
            case .end:
                complete = true
                break events
            }
        }
    } catch {
        fuzzCheck(error.status != 500, "the parser answered 500: \(error.message)")
        fuzzCheck(expectedBody == nil || expectedBody!.count > limit || error != .payloadTooLarge,
                  "a \(expectedBody?.count ?? 0)-byte body is over a \(limit)-byte limit")
        fuzzCheck(expectedBody == nil || error == .payloadTooLarge, "a well-framed body was rejected: \(error.message)")
        return 0
    }
    if let expectedBody {
        fuzzCheck(complete, "a well-framed \(expectedBody.count)-byte body did not complete")
        fuzzCheck(expectedBody.count <= limit, "a \(expectedBody.count)-byte body passed a \(limit)-byte limit")
        fuzzCheck(body == expectedBody, "the chunked body came back as \(body.count) different bytes")
    }
    guard complete, let headers else { return 0 }

    // Content decoding, as ServerShared.respond does.
    let decoded: [UInt8]
    do throws(ContentDecodingError) {
        decoded = try ContentCoding.decodeBody(body, encoding: headers["content-encoding"], limitBytes: limit)
    } catch {
        fuzzCheck([400, 413, 415].contains(error.status), "decodeBody answered \(error.status): \(error.message)")
        if let plain {
            fuzzCheck(error.status == 413 && plain.count > limit,
                      "a gzip body of \(plain.count) bytes (limit \(limit)) was rejected: \(error.status) \(error.message)")
        }
        return 0
    }
    fuzzCheck(decoded.count <= limit, "decodeBody returned \(decoded.count) bytes with a \(limit)-byte limit")
    if let plain {
        fuzzCheck(decoded == plain, "gzip round trip: \(plain.count) bytes came back as \(decoded.count) different bytes")
    }
    if let encoding, ["gzip", "x-gzip"].contains(encoding.trimmingASCIIWhitespace().lowercased()) {
        guard let again = ContentCoding.gzip(decoded) else { fuzzFail("ContentCoding.gzip failed") }
        do throws(ContentDecodingError) {
            let redecoded = try ContentCoding.decodeBody(again, encoding: "gzip", limitBytes: limit)
            fuzzCheck(redecoded == decoded, "a decoded gzip body re-compressed decodes differently")
        } catch {
            fuzzFail("a decoded gzip body of \(decoded.count) bytes re-compressed does not decode: \(error.status) \(error.message)")
        }
    }
    return 0
}

/// `bytes` as a chunked body: chunk sizes from 1 to 64 (from `seed`), lower- or upper-case hex, sometimes an
/// extension, then the last chunk and an empty trailer section.
private func chunked(_ bytes: [UInt8], seed: UInt8) -> [UInt8] {
    var out: [UInt8] = []
    var offset = 0
    var state = UInt32(seed) | 0x100
    while offset < bytes.count {
        state = state &* 1_103_515_245 &+ 12345
        let length = min(bytes.count - offset, 1 + Int(state >> 16) % 64)
        let hex = String(length, radix: 16, uppercase: state & 1 == 0)
        out += Array((hex + (state & 6 == 0 ? ";ext=1" : "") + "\r\n").utf8)
        out += bytes[offset..<offset + length]
        out += [13, 10]
        offset += length
    }
    out += Array("0\r\n\r\n".utf8)
    return out
}
