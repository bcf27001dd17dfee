import EmbeddingAPI
import Foundation
import JSON
import Tokenizers

/// Start-up and lifecycle logs on stderr: plain lines, or JSON lines with `--json-output` (as TEI's).
struct ServerLog: Sendable {
    /// Severity of a line; lines below the log's `minimumLevel` are not written.
    enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error

        /// The name written in the line (TEI's tracing names).
        var name: String {
            switch self {
            case .debug: "DEBUG"
            case .info: "INFO"
            case .warning: "WARN"
            case .error: "ERROR"
            }
        }

        /// The name padded to five characters, so that plain lines' messages align (Foundation's `padding` went
        /// through NSString: 13 µs a line).
        var paddedName: String { name.count < 5 ? name + String(repeating: " ", count: 5 - name.count) : name }

        /// `LOG_LEVEL` as TEI reads it: trace, debug, info, warn or error, any case; nil for anything else.
        init?(environmentValue: String) {
            switch environmentValue.trimmingCharacters(in: .whitespaces).lowercased() {
            case "trace", "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warning
            case "error": self = .error
            default: return nil
            }
        }

        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    let json: Bool
    var minimumLevel = Level.info
    /// Receives each finished line, newline included: standard error, or a test's collector.
    var output: @Sendable (String) -> Void = Self.writeToStandardError

    func debug(_ message: String, _ fields: [(String, String)] = []) { write(.debug, message, fields) }
    func info(_ message: String, _ fields: [(String, String)] = []) { write(.info, message, fields) }
    func warning(_ message: String, _ fields: [(String, String)] = []) { write(.warning, message, fields) }
    func error(_ message: String, _ fields: [(String, String)] = []) { write(.error, message, fields) }

    /// One line per finished request: server errors (5xx) at error level, health and metrics probes at debug
    /// (a load balancer or Prometheus polls them every few seconds), everything else at info.
    func request(_ record: RequestLogRecord) {
        write(Self.level(of: record), "request", Self.fields(of: record))
    }

    /// Paths that load balancers, orchestrators and Prometheus poll with GET.
    static let probePaths: Set<String> = ["/health", "/ping", "/metrics", "/"]

    static func level(of record: RequestLogRecord) -> Level {
        if record.status >= 500 { return .error }
        if (record.method == "GET" || record.method == "HEAD") && probePaths.contains(record.path) { return .debug }
        return .info
    }

    static func fields(of record: RequestLogRecord) -> [(String, String)] {
        var fields = [
            ("method", record.method), ("path", record.path), ("status", String(record.status)),
            ("duration_ms", twoDecimals(record.durationMilliseconds)), ("request_id", record.requestID),
        ]
        if let tokens = record.tokens { fields.append(("tokens", String(tokens))) }
        return fields
    }

    /// Whether a line at `level` is written.
    func writes(_ level: Level) -> Bool { level >= minimumLevel }

    private func write(_ level: Level, _ message: String, _ fields: [(String, String)]) {
        guard writes(level) else { return }
        output(line(Self.timestamp(), level, message, fields) + "\n")
    }

    // A request's line is written on its connection's event loop, after the response but before that connection's
    // next request is read. With Foundation's ISO 8601 format style, `String(format:)`, NSString padding and
    // `FileHandle` it cost 45 µs of loop time per request under a lone keep-alive client on the 2-core Zen 3 VM
    // (perf samples of the loop thread, 2,000 requests); by hand it costs 17 µs, 7 of them the write(2) itself.

    /// The current UTC time as `2026-12-07T20:12:45.210` (ISO 8601, milliseconds, no zone suffix: the form the
    /// lines always had).
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return timestamp(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
            hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec),
            millisecond: Int(now.tv_nsec) / 1_000_000)
    }

    static func timestamp(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int)
        -> String
    {
        var text = ""
        text.reserveCapacity(23)
        func append(_ value: Int, digits: Int, then separator: String) {
            let decimal = String(value)
            text += String(repeating: "0", count: max(0, digits - decimal.count)) + decimal + separator
        }
        append(year, digits: 4, then: "-")
        append(month, digits: 2, then: "-")
        append(day, digits: 2, then: "T")
        append(hour, digits: 2, then: ":")
        append(minute, digits: 2, then: ":")
        append(second, digits: 2, then: ".")
        append(millisecond, digits: 3, then: "")
        return text
    }

    /// `value` with two decimals, rounded half away from zero, as `%.2f` writes a duration.
    static func twoDecimals(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return String(value) }
        let hundredths = Int((abs(value) * 100).rounded())
        let fraction = hundredths % 100
        return (value < 0 && hundredths > 0 ? "-" : "") + "\(hundredths / 100)." + (fraction < 10 ? "0" : "")
            + String(fraction)
    }

    /// Writes a line to standard error with write(2), retrying after signals and short writes; a line the stream
    /// refuses (closed, or non-blocking and full) is dropped rather than stopping the server.
    @Sendable static func writeToStandardError(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            guard var next = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let written = Foundation.write(STDERR_FILENO, next, left)
                if written > 0 {
                    next += written
                    left -= written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    func line(_ timestamp: String, _ level: Level, _ message: String, _ fields: [(String, String)]) -> String {
        var line: String
        if json {
            line =
                "{\"timestamp\":\(JSONLines.quoted(timestamp)),\"level\":\"\(level.name)\",\"message\":\(JSONLines.quoted(message))"
            for (key, value) in fields { line += ",\(JSONLines.quoted(key)):\(JSONLines.quoted(value))" }
            line += "}"
        } else {
            line =
                "\(timestamp) \(level.paddedName) \(Self.escaped(message, quotes: false))"
            for (key, value) in fields { line += " \(key)=\(Self.plainValue(value))" }
        }
        return line
    }

    /// A field value as logfmt writes it: bare when it is visible ASCII without `"`, `=` or `\`, else quoted and
    /// escaped, so that no value (a client's request id, a path) can end its field or its line and forge others.
    static func plainValue(_ value: String) -> String {
        let bare =
            !value.isEmpty
            && value.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != 0x22 && $0 != 0x3D && $0 != 0x5C }
        return bare ? value : "\"" + escaped(value, quotes: true) + "\""
    }

    /// `text` with control and line-separator characters written as escapes, so it stays on one line; inside
    /// quotes, `"` and `\` are escaped too. A message is written unquoted: it is the server's own words.
    static func escaped(_ text: String, quotes: Bool) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"" where quotes: out += "\\\""
            case "\\" where quotes: out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _
            where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
                || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
