import CZlib
import Foundation
import TestSupport
import Testing

@testable import HTTPServer

@Suite("HTTP server features: gzip, 100-continue, CORS, TLS, Unix sockets")
struct FeatureTests {
    static let jsonBody = "{\"data\":[" + Array(repeating: "0.12345678", count: 400).joined(separator: ",") + "]}"

    static let jsonHandler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { request in
        request.path == "/small" ? .json("{\"ok\":true}") : .json(jsonBody)
    }

    @Test("responses are gzipped for clients that accept gzip, with Vary, and curl decodes them")
    func gzipResponses() async throws {
        try await withServer(handler: Self.jsonHandler) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/", headers: ["Accept-Encoding: br, gzip;q=0.8"]))
            let compressed = try await client.readResponse()
            #expect(compressed.headers["content-encoding"] == "gzip")
            #expect(compressed.headers["vary"] == "Accept-Encoding")
            #expect(compressed.body.count < Self.jsonBody.utf8.count / 3)

            let decoded = try await run("/usr/bin/curl", ["-s", "--compressed", "http://127.0.0.1:\(port)/"])
            #expect(decoded.stdout == Self.jsonBody)
        }
    }

    @Test("no gzip when refused with q=0, when not asked, or when the body is small")
    func gzipNotApplied() async throws {
        try await withServer(handler: Self.jsonHandler) { _, port in
            let client = try await RawClient.connect(port: port)
            for headers in [["Accept-Encoding: gzip;q=0"], [], ["Accept-Encoding: *;q=0"]] {
                try await client.send(RawClient.request("GET", "/", headers: headers))
                let response = try await client.readResponse()
                #expect(response.headers["content-encoding"] == nil)
                #expect(response.text == Self.jsonBody)
            }
            try await client.send(RawClient.request("GET", "/small", headers: ["Accept-Encoding: gzip"]))
            #expect(try await client.readResponse().headers["content-encoding"] == nil)
        }
    }

    @Test("gzip and deflate request bodies reach the handler decompressed")
    func compressedRequests() async throws {
        let original = String(repeating: "embed me please ", count: 300)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plainFile = directory.appendingPathComponent("body.txt")
        try Data(original.utf8).write(to: plainFile)
        _ = try await run("/bin/gzip", ["-k", plainFile.path])
        let gzipData = try Data(contentsOf: directory.appendingPathComponent("body.txt.gz"))

        try await withServer(handler: {
            .text("\($0.body.count):\(String(decoding: $0.body.prefix(15), as: UTF8.self))")
        }) { _, port in
            let client = try await RawClient.connect(port: port)
            let head =
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\nContent-Length: \(gzipData.count)\r\n\r\n"
            try await client.send(Array(head.utf8) + Array(gzipData))
            #expect(try await client.readResponse().text == "\(original.utf8.count):embed me please")

            let deflated = zlibCompress(Array(original.utf8))
            let deflateHead =
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Encoding: deflate\r\nContent-Length: \(deflated.count)\r\n\r\n"
            try await client.send(Array(deflateHead.utf8) + deflated)
            #expect(try await client.readResponse().text == "\(original.utf8.count):embed me please")

            let broken = "POST / HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope"
            try await client.send(broken)
            #expect(try await client.readResponse().status == 400)
            try await client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx")
            #expect(try await client.readResponse().status == 415)
        }
    }

    @Test("a gzip body that inflates past the payload limit is 413")
    func gzipBomb() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("zeros")
        try Data(count: 3_000_000).write(to: file)
        _ = try await run("/bin/gzip", [file.path])
        let bomb = try Data(contentsOf: directory.appendingPathComponent("zeros.gz"))
        try await withServer { _, port in
            let client = try await RawClient.connect(port: port)
            let head = "POST / HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\nContent-Length: \(bomb.count)\r\n\r\n"
            try await client.send(Array(head.utf8) + Array(bomb))
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.text.contains("too large"))
        }
    }

    @Test("curl's Expect: 100-continue gets 100 Continue before the body, and 413 instead when too large")
    func expectContinue() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = directory.appendingPathComponent("body")
        // curl's trace goes to a file of its own, apart from the response body on stdout.
        let trace = directory.appendingPathComponent("trace")
        try Data(repeating: 65, count: 5000).write(to: body)
        try await withServer({ $0.payloadLimitBytes = 4000 }, handler: { .text("got \($0.body.count)") }) { _, port in
            try Data(repeating: 65, count: 3000).write(to: body)
            let accepted = try await run(
                "/usr/bin/curl",
                [
                    "-sv", "--stderr", trace.path, "-H", "Expect: 100-continue", "--expect100-timeout", "20",
                    "--data-binary", "@\(body.path)", "http://127.0.0.1:\(port)/",
                ])
            #expect(accepted.stdout == "got 3000")
            #expect(try String(contentsOf: trace, encoding: .utf8).contains("HTTP/1.1 100 Continue"))

            try Data(repeating: 65, count: 5000).write(to: body)
            let refused = try await run(
                "/usr/bin/curl",
                [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect: 100-continue", "--expect100-timeout",
                    "20",
                    "--data-binary", "@\(body.path)", "http://127.0.0.1:\(port)/",
                ])
            #expect(refused.stdout == "413")

            // Byte for byte: the answer to an oversized announced body is the 413 itself, never a 100 first.
            let client = try await RawClient.connect(port: port)
            try await client.send("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
            #expect(try await client.readResponse().status == 413)
        }
    }

    @Test("CORS: preflight answered by the server, allowed origins echoed on responses, others left out")
    func cors() async throws {
        try await withServer({ $0.corsAllowOrigins = ["https://app.example"] }) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(
                RawClient.request(
                    "OPTIONS", "/embed",
                    headers: [
                        "Origin: https://app.example", "Access-Control-Request-Method: POST",
                        "Access-Control-Request-Headers: content-type, x-anything-else",
                    ]))
            let preflight = try await client.readResponse()
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-origin"] == "https://app.example")
            // A fixed list, never an echo of what was asked: a browser then refuses to send headers outside it.
            #expect(preflight.headers["access-control-allow-headers"] == "Content-Type, Authorization, X-Request-Id")
            #expect(preflight.headers["access-control-allow-methods"] == "GET, POST, OPTIONS")

            try await client.send(RawClient.request("GET", "/", headers: ["Origin: https://app.example"]))
            let allowed = try await client.readResponse()
            #expect(allowed.headers["access-control-allow-origin"] == "https://app.example")
            #expect(allowed.headers["vary"] == "Origin")

            try await client.send(RawClient.request("GET", "/", headers: ["Origin: https://evil.example"]))
            #expect(try await client.readResponse().headers["access-control-allow-origin"] == nil)
        }
        try await withServer({ $0.corsAllowOrigins = ["*"] }) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("POST", "/", headers: ["Origin: https://any.example"], body: "x"))
            #expect(try await client.readResponse().headers["access-control-allow-origin"] == "*")
        }
    }

    @Test("without CORS configured, OPTIONS goes to the handler and no CORS headers are added")
    func corsDisabled() async throws {
        try await withServer { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(
                RawClient.request(
                    "OPTIONS", "/x", headers: ["Origin: https://a", "Access-Control-Request-Method: POST"]))
            let response = try await client.readResponse()
            #expect(response.text == "OPTIONS /x - ")
            #expect(response.headers["access-control-allow-origin"] == nil)
        }
    }

    @Test("TLS with a self-signed certificate: curl verifies it, negotiates http/1.1 by ALPN, reuses the connection")
    func tls() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let made = try await run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", certificate,
            ])
        try #require(made.status == 0, "openssl failed: \(made.stderr)")
        let upload = directory.appendingPathComponent("upload")
        let trace = directory.appendingPathComponent("trace")
        try Data(repeating: 66, count: 300_000).write(to: upload)
        let configure: (inout ServerConfiguration) -> Void = {
            $0.tls = TLSConfiguration(certificatePath: certificate, privateKeyPath: key)
        }
        try await withServer(configure, handler: { .text("\($0.method) \($0.body.count)") }) { _, port in
            let url = "https://localhost:\(port)/"
            let result = try await run(
                "/usr/bin/curl",
                [
                    "-sv", "--stderr", trace.path, "--cacert", certificate, "--resolve", "localhost:\(port):127.0.0.1",
                    url, "--next",
                    "--cacert", certificate, "--resolve", "localhost:\(port):127.0.0.1", "--data-binary",
                    "@\(upload.path)", url,
                ])
            let log = try String(contentsOf: trace, encoding: .utf8)
            #expect(result.status == 0, "\(log)")
            #expect(result.stdout == "GET 0POST 300000")
            #expect(log.contains("ALPN: server accepted http/1.1"))
            #expect(log.contains("Re-using existing") || log.contains("Reusing existing"))

            // Two pipelined requests in one TLS write, the second closing: both answered in order, then the end.
            let pipelined =
                RawClient.request("GET", "/one") + RawClient.request("GET", "/two", headers: ["Connection: close"])
            let session = try await run(
                "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-quiet"],
                stdin: Data(pipelined.utf8))
            let first = try #require(session.stdout.range(of: "GET 0"))
            #expect(session.stdout[first.upperBound...].contains("GET 0"))
            #expect(session.stdout.contains("connection: close"))

            let plain = try await RawClient.connect(port: port)
            try await plain.send(RawClient.request("GET", "/"))
            #expect(await plain.readsEndOfStream())
        }
    }

    @Test("TLS 1.2 offers only forward-secret AEAD suites: RSA key exchange and CBC suites fail the handshake")
    func tlsCipherSuites() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (certificate, key) = try await makeCertificate(in: directory)
        try await withServer({ $0.tls = TLSConfiguration(certificatePath: certificate, privateKeyPath: key) }) {
            _, port in
            let request = Data(RawClient.request("GET", "/suite", headers: ["Connection: close"]).utf8)
            // SECLEVEL=0 makes the client offer the weak suite whatever its own policy, so the server alone decides.
            for (suite, accepted) in [
                ("ECDHE-RSA-AES128-GCM-SHA256", true), ("ECDHE-RSA-CHACHA20-POLY1305", true),
                ("ECDHE-RSA-AES256-GCM-SHA384", true), ("AES128-SHA256", false), ("AES128-GCM-SHA256", false),
                ("ECDHE-RSA-AES128-SHA", false), ("ECDHE-RSA-AES256-SHA384", false),
            ] {
                let session = try await run(
                    "/usr/bin/openssl",
                    [
                        "s_client", "-connect", "127.0.0.1:\(port)", "-tls1_2", "-cipher", "\(suite):@SECLEVEL=0",
                        "-quiet",
                    ],
                    stdin: request)
                #expect(session.stdout.contains("GET /suite - ") == accepted, "\(suite): \(session.stderr)")
            }
            let tls13 = try await run(
                "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_3", "-quiet"], stdin: request)
            #expect(tls13.stdout.contains("GET /suite - "), "\(tls13.stderr)")
        }
    }

    @Test("a passphrase-protected private key is refused at start-up with an error that says so")
    func tlsEncryptedKey() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (certificate, key) = try await makeCertificate(in: directory, passphrase: "secret")
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.hostname = "127.0.0.1"
        configuration.tls = TLSConfiguration(certificatePath: certificate, privateKeyPath: key)
        let server = HTTPServer(configuration: configuration) { _ in HTTPResponse() }
        #expect {
            try server.start()
        } throws: { error in
            "\(error)".contains("\(key) is encrypted")
        }
    }

    @Test("a missing certificate is a clear start-up error")
    func tlsMissingFiles() {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.tls = TLSConfiguration(
            certificatePath: "/nonexistent/cert.pem", privateKeyPath: "/nonexistent/key.pem")
        let server = HTTPServer(configuration: configuration) { _ in HTTPResponse() }
        #expect {
            try server.start()
        } throws: { error in
            "\(error)".contains("/nonexistent/cert.pem")
        }
    }

    @Test("a Unix domain socket serves requests, replaces a stale socket file and is removed at shutdown")
    func unixSocket() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("server.sock").path
        // A stale socket file: bound, then its process "died" without unlinking it.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(stale)
        #expect(FileManager.default.fileExists(atPath: path))

        var configuration = ServerConfiguration()
        configuration.unixSocketPath = path
        let server = HTTPServer(configuration: configuration, handler: echoHandler)
        try server.start()
        #expect(server.boundPort == nil)
        let client = try await RawClient.connect(unixPath: path)
        try await client.send(RawClient.request("GET", "/uds"))
        let response = try await client.readResponse()
        #expect(response.text == "GET /uds - ")
        let viaCurl = try await run("/usr/bin/curl", ["-s", "--unix-socket", path, "http://localhost/curl"])
        #expect(viaCurl.stdout == "GET /curl - ")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        await server.shutdown(gracePeriodSeconds: 1)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

/// A self-signed RSA certificate for localhost and its key (encrypted with `passphrase` when given): their paths.
private func makeCertificate(in directory: URL, passphrase: String? = nil) async throws -> (
    certificate: String, key: String
) {
    let certificate = directory.appendingPathComponent("cert.pem").path
    let key = directory.appendingPathComponent("key.pem").path
    let protection = passphrase.map { ["-passout", "pass:\($0)"] } ?? ["-nodes"]
    let made = try await run(
        "/usr/bin/openssl",
        [
            "req", "-x509", "-newkey", "rsa:2048", "-subj", "/CN=localhost", "-days", "1",
            "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", certificate,
        ] + protection)
    try #require(made.status == 0, "openssl failed: \(made.stderr)")
    return (certificate, key)
}

/// zlib-format deflate of `bytes` (what `Content-Encoding: deflate` means), made with zlib's compress2.
func zlibCompress(_ bytes: [UInt8]) -> [UInt8] {
    var length = compressBound(UInt(bytes.count))
    var output = [UInt8](repeating: 0, count: Int(length))
    let status = compress2(&output, &length, bytes, UInt(bytes.count), 6)
    precondition(status == Z_OK, "compress2 failed: \(status)")
    return Array(output.prefix(Int(length)))
}
