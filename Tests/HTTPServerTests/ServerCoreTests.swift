import Foundation
import HTTPServer
import Synchronization
import TestSupport
import Testing

@Suite("HTTP server core")
struct ServerCoreTests {
    @Test("a GET is answered with the handler's body and a Content-Length")
    func simpleGet() async throws {
        try await withServer { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/hello?x=1"))
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "GET /hello x=1 ")
            #expect(response.headers["content-length"] == "\(response.body.count)")
            #expect(response.headers["date"] != nil)
            #expect(response.headers["connection"] == nil)
        }
    }

    @Test("IPv6 loopback is served when bound to ::1")
    func ipv6() async throws {
        try await withServer({ $0.hostname = "::1" }) { _, port in
            let client = try await RawClient.connect(port: port, ipv6: true)
            try await client.send(RawClient.request("GET", "/v6"))
            let response = try await client.readResponse()
            #expect(response.text == "GET /v6 - ")
        }
    }

    @Test("bound to ::, the server takes IPv6 and IPv4 clients")
    func dualStack() async throws {
        try await withServer({ $0.hostname = "::" }) { _, port in
            for ipv6 in [true, false] {
                let client = try await RawClient.connect(port: port, ipv6: ipv6)
                try await client.send(RawClient.request("GET", "/both"))
                #expect(try await client.readResponse().text == "GET /both - ")
            }
        }
    }

    @Test("keep-alive serves several requests on one connection, with the remote address")
    func keepAlive() async throws {
        try await withServer(handler: { .text($0.remoteAddress) }) { _, port in
            let client = try await RawClient.connect(port: port)
            for _ in 0..<3 {
                try await client.send(RawClient.request("GET", "/"))
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.text.hasPrefix("127.0.0.1:"))
            }
        }
    }

    @Test(
        "three pipelined requests in one write are answered in order even when the first is slowest",
        arguments: [HandlerExecution.concurrencyPool, .eventLoop])
    func pipelining(execution: HandlerExecution) async throws {
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { request in
            if request.path == "/1" { try await Task.sleep(nanoseconds: 50_000_000) }
            return .text(request.path)
        }
        try await withServer({ $0.handlerExecution = execution }, handler: handler) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(
                RawClient.request("GET", "/1") + RawClient.request("POST", "/2", body: "b")
                    + RawClient.request("GET", "/3"))
            #expect(try await client.readResponse().text == "/1")
            #expect(try await client.readResponse().text == "/2")
            #expect(try await client.readResponse().text == "/3")
        }
    }

    @Test("a client sending one byte at a time gets the same answer")
    func byteByByte() async throws {
        try await withServer { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.sendByteByByte(RawClient.request("POST", "/slow", headers: ["X-A: 1"], body: "hello body"))
            let response = try await client.readResponse()
            #expect(response.text == "POST /slow - hello body")
        }
    }

    @Test("a large response is written completely to a client that reads slowly")
    func largeResponse() async throws {
        let big = [UInt8](repeating: 120, count: 4_000_000)
        try await withServer(handler: { _ in HTTPResponse(body: big) }) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/big") + RawClient.request("GET", "/big"))
            try await Task.sleep(nanoseconds: 20_000_000)
            #expect(try await client.readResponse().body == big)
            #expect(try await client.readResponse().body == big)
        }
    }

    @Test("chunked request bodies are decoded; trailer fields never reach the request headers")
    func chunkedBody() async throws {
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { request in
            let seen = ["x-trailer", "authorization", "content-type", "x-request-id"].map {
                request.header($0) ?? "none"
            }
            return .text(String(decoding: request.body, as: UTF8.self) + "|" + seen.joined(separator: ","))
        }
        try await withServer(handler: handler) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(
                "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
                    + "X-Trailer: yes\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\nX-Request-Id: t\r\n\r\n"
            )
            #expect(try await client.readResponse().text == "hello world|none,none,none,none")
        }
    }

    @Test("requests whose lines end in a bare LF are answered at once, and the connection stays in sync")
    func bareLineFeeds() async throws {
        try await withServer { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /lf HTTP/1.1\nHost: t\n\n")
            #expect(try await client.readResponse().text == "GET /lf - ")
            try await client.send("POST /c HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n")
            #expect(try await client.readResponse().text == "POST /c - ab")
            try await client.send("GET / HTTP/1.1\nHost: t\rX: y\n\n")
            #expect(try await client.readResponse().status == 400)
        }
    }

    @Test("Connection: close gets a response marked close and the connection ends")
    func connectionClose() async throws {
        try await withServer { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/", headers: ["Connection: close"]))
            let response = try await client.readResponse()
            #expect(response.headers["connection"] == "close")
            #expect(await client.readsEndOfStream())
        }
    }

    @Test("HTTP/1.0 closes by default and keeps the connection when asked")
    func http10() async throws {
        try await withServer { _, port in
            let plain = try await RawClient.connect(port: port)
            try await plain.send("GET /a HTTP/1.0\r\n\r\n")
            #expect(try await plain.readResponse().headers["connection"] == "close")
            #expect(await plain.readsEndOfStream())

            let keepAlive = try await RawClient.connect(port: port)
            for _ in 0..<2 {
                try await keepAlive.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let response = try await keepAlive.readResponse()
                #expect(response.headers["connection"] == "keep-alive")
                #expect(response.text == "GET /b - ")
            }
        }
    }

    @Test("HEAD gets the GET's Content-Length and no body")
    func head() async throws {
        try await withServer(handler: { _ in .text("twelve bytes") }) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("HEAD", "/"))
            let response = try await client.readResponse(forHEAD: true)
            #expect(response.headers["content-length"] == "12")
            try await client.send(RawClient.request("GET", "/"))
            #expect(try await client.readResponse().text == "twelve bytes")
        }
    }

    @Test("204 and 304 responses carry no body even when the handler gives one, and the connection stays in sync")
    func bodylessStatuses() async throws {
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { request in
            HTTPResponse(status: Int(request.path.dropFirst()) ?? 200, body: Array("ignored".utf8))
        }
        try await withServer(handler: handler) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(
                RawClient.request("GET", "/204") + RawClient.request("GET", "/304") + RawClient.request("GET", "/200"))
            let noContent = try await client.readResponse()
            #expect(noContent.status == 204)
            #expect(noContent.headers["content-length"] == nil)
            let notModified = try await client.readResponse(forHEAD: true)
            #expect(notModified.status == 304)
            let ok = try await client.readResponse()
            #expect(ok.status == 200)
            #expect(ok.text == "ignored")
        }
    }

    @Test(
        "a throwing handler gives a JSON 500 and the connection stays usable",
        arguments: [HandlerExecution.concurrencyPool, .eventLoop])
    func throwingHandler(execution: HandlerExecution) async throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { request in
            if request.path == "/fail" { throw Boom() }
            return .text("fine")
        }
        try await withServer({ $0.handlerExecution = execution }, handler: handler) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/fail"))
            let failure = try await client.readResponse()
            #expect(failure.status == 500)
            #expect(failure.headers["content-type"] == "application/json")
            #expect(failure.text == #"{"error":"boom","error_type":"backend"}"#)
            try await client.send(RawClient.request("GET", "/ok"))
            #expect(try await client.readResponse().text == "fine")
        }
    }

    @Test("server-generated errors go through the configurable error responder")
    func customErrorResponder() async throws {
        let configure: (inout ServerConfiguration) -> Void = { configuration in
            configuration.errorResponder = { error in
                .text("custom \(error.status): \(error.message)", status: error.status)
            }
        }
        try await withServer(configure) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /\u{1} HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.text.hasPrefix("custom 400: bad request"))
            #expect(response.headers["connection"] == "close")
        }
    }

    @Test("malformed requests get 400, unsupported transfer codings 501, and the connection closes")
    func badRequests() async throws {
        let cases: [(String, Int)] = [
            ("GARBAGE\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400), // no Host
            ("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ]
        try await withServer { _, port in
            for (request, status) in cases {
                let client = try await RawClient.connect(port: port)
                try await client.send(request)
                let response = try await client.readResponse()
                #expect(response.status == status, "\(request.debugDescription)")
                #expect(response.text.contains("\"error_type\":\"validation\"") || status >= 500)
                #expect(await client.readsEndOfStream())
            }
        }
    }

    @Test("response headers from the handler pass through, framing headers are the server's")
    func headersPassThrough() async throws {
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { _ in
            HTTPResponse(
                status: 201, headers: ["X-Request-Id": "abc", "Content-Length": "999"], body: Array("ok".utf8))
        }
        try await withServer(handler: handler) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/"))
            let response = try await client.readResponse()
            #expect(response.status == 201)
            #expect(response.headers["x-request-id"] == "abc")
            #expect(response.headers.values("content-length") == ["2"])
        }
    }

    @Test(
        "afterSend runs once the response is on the wire: a client reads it while afterSend still waits",
        arguments: [HandlerExecution.concurrencyPool, .eventLoop])
    func afterSendFollowsTheResponse(execution: HandlerExecution) async throws {
        let gate = DispatchSemaphore(value: 0)
        let ran = Flag()
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { _ in
            var response = HTTPResponse.text("sent")
            response.afterSend = {
                gate.wait()
                ran.set()
            }
            return response
        }
        try await withServer({ $0.handlerExecution = execution }, handler: handler) { _, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/"))
            #expect(try await client.readResponse().text == "sent")
            #expect(!ran.isSet)
            gate.signal()
            #expect(await waitUntil { ran.isSet })
        }
    }

    @Test(
        "afterSend still runs when the client left before the answer",
        arguments: [HandlerExecution.concurrencyPool, .eventLoop])
    func afterSendAfterTheClientLeft(execution: HandlerExecution) async throws {
        let ran = Flag()
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { _ in
            try? await Task.sleep(nanoseconds: 100_000_000)
            var response = HTTPResponse.text("late")
            response.afterSend = { ran.set() }
            return response
        }
        try await withServer({ $0.handlerExecution = execution }, handler: handler) { server, port in
            let client = try await RawClient.connect(port: port)
            try await client.send(RawClient.request("GET", "/"))
            #expect(await waitUntil { server.connectionCount == 1 })
            client.shutdownWrite()
            #expect(await waitUntil { ran.isSet })
        }
    }
}

/// A flag set from any thread.
private final class Flag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set() { value.withLock { $0 = true } }
}

@Suite("Shutdown signals")
struct SignalTests {
    @Test("SIGTERM reaches the installed closure instead of killing the process")
    func sigterm() async throws {
        let received = Mutex<[Int32]>([])
        let signals = ShutdownSignals { number in received.withLock { $0.append(number) } }
        // Dispatch installs its own handler asynchronously once the source is resumed (the signal is ignored until
        // then); wait for it, then send one signal to the process, as `kill -TERM` does. Exactly one, so none is
        // still pending when the default action comes back at release.
        #expect(
            await waitUntil {
                var action = sigaction()
                sigaction(SIGTERM, nil, &action)
                // Neither SIG_DFL nor SIG_IGN.
                return unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) > 1
            })
        kill(getpid(), SIGTERM)
        #expect(await waitUntil { received.withLock { $0 } == [SIGTERM] })
        withExtendedLifetime(signals) {}
    }
}
