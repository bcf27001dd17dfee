import CZlib

/// Why a request body could not be content-decoded.
struct ContentDecodingError: Error {
    let status: Int
    let message: String
}

/// gzip/deflate for request and response bodies (zlib).
enum ContentCoding {
    /// Whether `Content-Encoding` leaves the body as it is (absent, empty or `identity`).
    static func isIdentity(_ encoding: String?) -> Bool { coding(encoding) == nil }

    /// The `Content-Encoding` token in lower case, or nil when it leaves the body as it is.
    private static func coding(_ encoding: String?) -> String? {
        guard let coding = encoding?.trimmingASCIIWhitespace().lowercased(), !coding.isEmpty, coding != "identity"
        else { return nil }
        return coding
    }

    /// The body with its `Content-Encoding` undone; the decoded size is held to `limitBytes` (413 beyond).
    ///
    /// `charge` takes each inflated chunk's bytes from a memory budget before they are kept; when it refuses, decoding
    /// stops with 503 and `release` gives back what was charged. On success every inflated byte of the result stays
    /// charged (none for an identity body): the caller releases `result.count` once it lets the bytes go.
    static func decodeBody(
        _ body: [UInt8], encoding: String?, limitBytes: Int, charge: (Int) -> Bool = { _ in true },
        release: (Int) -> Void = { _ in }
    ) throws(ContentDecodingError) -> [UInt8] {
        guard let encoding = coding(encoding) else { return body }
        switch encoding {
        case "gzip", "x-gzip":
            return try inflate(body, windowBits: 15 + 16, limitBytes: limitBytes, charge: charge, release: release)
        case "deflate":
            // "deflate" means zlib-wrapped, but some clients send raw deflate: accept both.
            do throws(ContentDecodingError) {
                return try inflate(body, windowBits: 15 + 32, limitBytes: limitBytes, charge: charge, release: release)
            } catch  where error.status == 400 {
                return try inflate(body, windowBits: -15, limitBytes: limitBytes, charge: charge, release: release)
            }
        default:
            throw ContentDecodingError(status: 415, message: "unsupported Content-Encoding: \(encoding)")
        }
    }

    private static func inflate(
        _ input: [UInt8], windowBits: Int32, limitBytes: Int, charge: (Int) -> Bool, release: (Int) -> Void
    ) throws(ContentDecodingError) -> [UInt8] {
        var stream = z_stream()
        guard czlib_inflate_init(&stream, windowBits) == Z_OK else {
            throw ContentDecodingError(status: 500, message: "zlib initialisation failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var status = Z_OK
        var charged = 0
        var input = input
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { target in
                    stream.next_out = target.baseAddress
                    stream.avail_out = UInt32(target.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = target.count - Int(stream.avail_out)
                    guard charge(produced) else {
                        status = Z_MEM_ERROR
                        return
                    }
                    charged += produced
                    output.append(contentsOf: target.prefix(produced))
                }
            } while status == Z_OK && output.count <= limitBytes && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        guard status != Z_MEM_ERROR, output.count <= limitBytes, status == Z_STREAM_END else {
            release(charged)
            if status == Z_MEM_ERROR {
                throw ContentDecodingError(status: 503, message: "server busy: too many request bytes buffered")
            }
            if output.count > limitBytes {
                throw ContentDecodingError(status: 413, message: "decompressed payload too large")
            }
            throw ContentDecodingError(
                status: 400, message: "invalid \(windowBits < 0 ? "deflate" : "gzip/deflate") body")
        }
        return output
    }

    /// `body` gzip-compressed, or nil if zlib failed.
    static func gzip(_ body: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var stream = z_stream()
        guard czlib_deflate_init(&stream, level, 15 + 16) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(body.count)))
        var output = [UInt8](repeating: 0, count: bound)
        var input = body
        let status = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = source.baseAddress
                stream.avail_in = UInt32(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = UInt32(target.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeLast(Int(stream.avail_out))
        return output
    }

    /// Whether `Accept-Encoding` values allow gzip (a q=0 refuses it; `*` counts unless gzip is named).
    static func acceptsGzip(_ values: [String]) -> Bool {
        var gzipQuality: Double?
        var wildcardQuality: Double?
        for element in values.flatMap({ $0.split(separator: ",") }) {
            let parts = element.split(separator: ";")
            guard let coding = parts.first.map({ String($0).trimmingASCIIWhitespace().lowercased() }) else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { String($0).trimmingASCIIWhitespace() }
                if pair.count == 2, pair[0].lowercased() == "q" { quality = Double(pair[1]) ?? 0 }
            }
            if coding == "gzip" || coding == "x-gzip" { gzipQuality = quality }
            if coding == "*" { wildcardQuality = quality }
        }
        return (gzipQuality ?? wildcardQuality ?? 0) > 0
    }

    /// Text-like types that shrink under gzip; binary formats (images, already compressed data) are left alone.
    static func isCompressible(contentType: String?) -> Bool {
        guard
            let type = contentType?.split(separator: ";").first.map({
                String($0).trimmingASCIIWhitespace().lowercased()
            })
        else { return false }
        return type.hasPrefix("text/") || type == "application/json" || type.hasSuffix("+json")
            || type.hasSuffix("+xml")
            || type == "application/xml" || type == "application/javascript" || type == "application/x-ndjson"
            || type == "image/svg+xml"
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String { String(trimmed(Substring(self))) }
}
