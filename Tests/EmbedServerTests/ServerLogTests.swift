import EmbeddingAPI
import Foundation
import Testing

@testable import embed_server

@Suite("server log lines")
struct ServerLogTests {
    private let record = RequestLogRecord(
        method: "POST", path: "/embed", status: 200, durationMilliseconds: 12.345, requestID: "id \"1\"", tokens: 7)

    @Test("a request's JSON line holds timestamp, level, message and each field as a string")
    func jsonRequestLine() throws {
        let line = ServerLog(json: true).line(
            "2026-01-01T00:00:00.000Z", ServerLog.level(of: record), "request", ServerLog.fields(of: record))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(
            object == [
                "timestamp": "2026-01-01T00:00:00.000Z", "level": "INFO", "message": "request", "method": "POST",
                "path": "/embed", "status": "200", "duration_ms": "12.35", "request_id": "id \"1\"", "tokens": "7",
            ])
    }

    @Test("a plain request line lists key=value fields after the message")
    func plainRequestLine() {
        let line = ServerLog(json: false).line("T", .info, "request", ServerLog.fields(of: record))
        #expect(
            line
                == "T INFO  request method=POST path=/embed status=200 duration_ms=12.35 request_id=\"id \\\"1\\\"\" tokens=7"
        )
    }

    @Test("plain values with spaces, quotes, = or control bytes are quoted and escaped, so no value can forge a field")
    func plainValuesQuoted() throws {
        var forged = record
        forged.requestID = "x status=500\nT ERROR request \\ \u{1}"
        forged.path = "/a=b"
        let line = ServerLog(json: false).line("T", .info, "one\nline", ServerLog.fields(of: forged))
        #expect(
            line
                == #"T INFO  one\nline method=POST path="/a=b" status=200 duration_ms=12.35 request_id="x status=500\nT ERROR request \\ \u0001" tokens=7"#
        )
        #expect(!line.contains("\n"))
        #expect(ServerLog(json: false).line("T", .info, "m", [("empty", "")]) == #"T INFO  m empty="""#)
        let json = ServerLog(json: true).line("T", .info, "m", ServerLog.fields(of: forged))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
        #expect(object["request_id"] == forged.requestID)
    }

    @Test("timestamps are UTC ISO 8601 with milliseconds and durations have two decimals, as %.2f writes them")
    func formats() throws {
        #expect(
            ServerLog.timestamp(year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5, millisecond: 6)
                == "2026-01-02T03:04:05.006")
        let style = Date.ISO8601FormatStyle.iso8601.year().month().day().time(includingFractionalSeconds: true)
        let before = Date().formatted(style)
        let now = ServerLog.timestamp()
        let after = Date().formatted(style)
        #expect(now.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}/) != nil, "\(now)")
        #expect(before <= now && now <= after, "Foundation's form of the same instant: \(before) … \(after)")
        for value in [0, 12.345, 100, 123456.789, 0.1 + 0.2] {
            #expect(ServerLog.twoDecimals(value) == String(format: "%.2f", value), "\(value)")
        }
        // Ties in decimal may round either way in binary; the value is within half a hundredth whatever the digits.
        for value in [0.004, 0.005, 0.015, 1.005, 9.995, 99.999] {
            let text = ServerLog.twoDecimals(value)
            #expect(text.wholeMatch(of: /\d+\.\d\d/) != nil, "\(text)")
            #expect(abs(Double(text)! - value) <= 0.005 + 1e-12, "\(value) → \(text)")
        }
    }

    @Test("server errors log at error level, client errors at info")
    func levels() {
        var failed = record
        failed.status = 503
        #expect(ServerLog.level(of: failed) == .error)
        failed.status = 422
        #expect(ServerLog.level(of: failed) == .info)
    }

    @Test(
        "health, ping and metrics probes log at debug, so the default info log leaves them out; other GETs stay at info"
    )
    func probesAtDebug() {
        for path in ["/health", "/ping", "/metrics", "/"] {
            let probe = RequestLogRecord(
                method: "GET", path: path, status: 200, durationMilliseconds: 0.1, requestID: "p", tokens: nil)
            #expect(ServerLog.level(of: probe) == .debug, "\(path)")
            #expect(!ServerLog(json: false).writes(ServerLog.level(of: probe)), "\(path)")
            #expect(ServerLog(json: false, minimumLevel: .debug).writes(ServerLog.level(of: probe)), "\(path)")
        }
        var unhealthy = RequestLogRecord(
            method: "GET", path: "/health", status: 503, durationMilliseconds: 1, requestID: "u", tokens: nil)
        #expect(ServerLog.level(of: unhealthy) == .error)
        unhealthy.method = "HEAD"
        unhealthy.status = 200
        #expect(ServerLog.level(of: unhealthy) == .debug)
        let info = RequestLogRecord(
            method: "GET", path: "/info", status: 200, durationMilliseconds: 1, requestID: "i", tokens: nil)
        #expect(ServerLog.level(of: info) == .info)
        #expect(ServerLog(json: false).writes(ServerLog.level(of: info)))
        let embedAtRoot = RequestLogRecord(
            method: "POST", path: "/", status: 200, durationMilliseconds: 1, requestID: "e", tokens: 3)
        #expect(ServerLog.level(of: embedAtRoot) == .info)
        #expect(ServerLog.level(of: record) == .info)
    }

    @Test("LOG_LEVEL takes TEI's level names in any case and refuses anything else")
    func logLevelNames() {
        #expect(ServerLog.Level(environmentValue: "DEBUG") == .debug)
        #expect(ServerLog.Level(environmentValue: "trace") == .debug)
        #expect(ServerLog.Level(environmentValue: "info") == .info)
        #expect(ServerLog.Level(environmentValue: "Warn") == .warning)
        #expect(ServerLog.Level(environmentValue: "error") == .error)
        #expect(ServerLog.Level(environmentValue: "loud") == nil)
        #expect(!ServerLog(json: false, minimumLevel: .warning).writes(.info))
    }
}
