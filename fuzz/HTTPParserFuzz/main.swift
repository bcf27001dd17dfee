// libFuzzer harness for HTTPRequestParser, built by `scripts/check/fuzz http` with the parser's own source files.
//
// Besides "no crash, no hang", it checks a differential property: the same bytes fed whole, one byte at a time and
// in uneven chunks must give the same requests and the same error. Small limits make every limit path reachable.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = parse(bytes) { _ in bytes.count }
    let byteByByte = parse(bytes) { _ in 1 }
    let uneven = parse(bytes) { offset in 1 + Int(bytes[offset] % 13) }
    if whole != byteByByte || whole != uneven {
        fatalError("split-dependent result:\nwhole: \(whole)\nbyte by byte: \(byteByByte)\nuneven: \(uneven)")
    }
    return 0
}

private struct Outcome: Equatable, CustomStringConvertible {
    var requests: [String] = []
    var error: HTTPParseError?
    var description: String { "\(requests) error: \(String(describing: error))" }
}

private func parse(_ bytes: [UInt8], chunkLength: (Int) -> Int) -> Outcome {
    var parser = HTTPRequestParser(limits: HTTPParserLimits(maxRequestLineBytes: 64, maxHeaderBytes: 256, maxBodyBytes: 1024))
    var outcome = Outcome()
    var current = ""
    var body: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunkLength(offset))
        parser.append(bytes[offset..<end])
        offset = end
        do {
            while let event = try parser.next() {
                switch event {
                case .head(let head):
                    current = "\(head.method) \(head.path) \(head.query ?? "-") \(head.version) \(head.keepAlive) "
                        + "\(head.expectsContinue) \(head.framing) \(head.headers.map { "\($0.name)=\($0.value)" })"
                    body = []
                case .body(let piece):
                    body += piece
                case .end(let trailers):
                    outcome.requests.append(current + " body=\(body) trailers=\(trailers.map { "\($0.name)=\($0.value)" })")
                }
            }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    return outcome
}
