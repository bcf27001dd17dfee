import Foundation
import Kernels

/// Why the serve settings cannot be used.
struct SettingsError: Error, CustomStringConvertible, Equatable {
    var description: String
}

/// Where `embed-server serve` takes each setting from, keyed by TEI's environment variable names
/// (`MODEL_ID`, `PORT`, …): a command-line flag wins over the environment, which wins over the config file.
struct SettingSources {
    var flags: [String: String] = [:]
    var environment: [String: String] = [:]
    var file: [String: String] = [:]

    /// The winning raw value for `key`, and where it came from (for error messages).
    func value(_ key: String) -> (text: String, origin: String)? {
        if let text = flags[key] { return (text, "--\(Self.flagName(key))") }
        if let text = environment[key], !text.isEmpty { return (text, "environment variable \(key)") }
        if let text = file[key] { return (text, "\(key) in the config file") }
        return nil
    }

    /// Settings whose flag is not their key in lower case: `EMBED_THREADS` predates `--compute-threads` and stays
    /// the environment variable (deployments set it).
    static let flagNameExceptions = ["EMBED_THREADS": "compute-threads"]

    /// `MAX_BATCH_TOKENS` → `max-batch-tokens`.
    static func flagName(_ key: String) -> String {
        flagNameExceptions[key] ?? key.lowercased().replacingOccurrences(of: "_", with: "-")
    }

    /// A config-file key written as an environment variable or a flag name (`max-batch-tokens`, `compute-threads`)
    /// → the setting's key.
    static func key(_ written: String) -> String {
        let upper = written.uppercased().replacingOccurrences(of: "-", with: "_")
        let exception = flagNameExceptions.first {
            $0.value.uppercased().replacingOccurrences(of: "-", with: "_") == upper
        }
        return exception?.key ?? upper
    }

    /// Reads a config file: `KEY=VALUE` lines, keys as TEI's environment variables or flag names
    /// (`PORT=8080`, `max-batch-tokens = 8192`), `#` comments, values optionally in double or single quotes.
    static func parseConfigFile(_ text: String, path: String) throws(SettingsError) -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw SettingsError(description: "\(path):\(index + 1): expected KEY=VALUE, found `\(line)`")
            }
            let key = Self.key(line[..<equals].trimmingCharacters(in: .whitespaces))
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard ServeSettings.knownKeys.contains(key) else {
                throw SettingsError(description: "\(path):\(index + 1): unknown setting `\(key)`")
            }
            values[key] = value
        }
        return values
    }
}

/// Everything `serve` needs, after flags, environment, config file and TEI's defaults are combined.
struct ServeSettings: Equatable {
    var modelID: String
    var revision: String?
    var dtype = WeightPrecision.float32
    var pooling = "mean"
    var servedModelName: String?
    var maxConcurrentRequests = 512
    var maxBatchTokens = 16384
    var maxBatchRequests: Int?
    /// `--max-batch-time-ms`; 0 turns the time cap off.
    var maxBatchMilliseconds = 500
    var maxClientBatchSize = 32
    var autoTruncate = true
    var defaultPromptName: String?
    var defaultPrompt: String?
    var hfToken: String?
    var hostname = "0.0.0.0"
    var port = 3000
    /// Listen on this Unix domain socket instead of TCP.
    var unixSocket: String?
    var hubCache: String?
    var payloadLimitBytes = 2_000_000
    /// Seconds a whole request body may take to arrive (`--request-body-timeout`).
    var requestBodyTimeoutSeconds = 60
    /// Bytes of request bodies and unsent responses held at once (`--max-buffered-bytes`); nil: 64 × the payload limit.
    var maxBufferedBytes: Int?
    var apiKey: String?
    /// Certificate chain and private key (PEM) for HTTPS; nil: plain HTTP.
    var tls: TLSFiles?

    /// The PEM files behind --tls-certificate and --tls-key.
    struct TLSFiles: Equatable, Sendable {
        var certificatePath: String
        var privateKeyPath: String
    }
    var jsonOutput = false
    /// Empty: any origin (TEI's default).
    var corsAllowOrigins: [String] = []
    var prometheusPort = 9000
    var tokenizationWorkers = ServeSettings.defaultTokenizationWorkers
    /// Threads of the encoder's compute pool (`--compute-threads`, `EMBED_THREADS`); default every core the process
    /// may use. One process per core behind a load balancer, or a pod whose CPU request is below its node's core
    /// count, sets it lower.
    var computeThreads = ComputePool.availableProcessorCount
    /// Settings accepted for TEI compatibility that have no effect here, with the reason (logged at start-up).
    var ignored: [String] = []

    /// TEI's default: one fewer than the cores, at least 1, at most 64.
    static var defaultTokenizationWorkers: Int {
        min(64, max(1, ComputePool.availableProcessorCount - 1))
    }

    /// Every key the config file may set (TEI's environment variable names, plus CONFIG-independent extras).
    static let knownKeys: Set<String> = [
        "MODEL_ID", "REVISION", "DTYPE", "POOLING", "SERVED_MODEL_NAME", "MAX_CONCURRENT_REQUESTS",
        "MAX_BATCH_TOKENS", "MAX_BATCH_REQUESTS", "MAX_BATCH_TIME_MS", "MAX_CLIENT_BATCH_SIZE", "AUTO_TRUNCATE",
        "DEFAULT_PROMPT_NAME",
        "DEFAULT_PROMPT", "HF_TOKEN", "HF_API_TOKEN", "HOSTNAME", "PORT", "UNIX_SOCKET", "UDS_PATH",
        "HUGGINGFACE_HUB_CACHE", "PAYLOAD_LIMIT", "REQUEST_BODY_TIMEOUT", "MAX_BUFFERED_BYTES", "API_KEY",
        "JSON_OUTPUT", "CORS_ALLOW_ORIGIN", "PROMETHEUS_PORT",
        "TOKENIZATION_WORKERS", "EMBED_THREADS", "TLS_CERTIFICATE", "TLS_KEY", "DENSE_PATH", "DISABLE_SPANS",
        "OTLP_ENDPOINT", "OTLP_SERVICE_NAME",
    ]

    /// Combines the sources; `warn` receives notes about values replaced or ignored.
    static func resolve(_ sources: SettingSources, warn: (String) -> Void = { _ in }) throws(SettingsError)
        -> ServeSettings
    {
        func string(_ key: String) -> String? { sources.value(key)?.text }
        func integer(_ key: String, minimum: Int) throws(SettingsError) -> Int? {
            guard let (text, origin) = sources.value(key) else { return nil }
            guard let number = Int(text.trimmingCharacters(in: .whitespaces)), number >= minimum else {
                throw SettingsError(description: "\(origin): `\(text)` is not an integer ≥ \(minimum)")
            }
            return number
        }
        func bool(_ key: String) throws(SettingsError) -> Bool? {
            guard let (text, origin) = sources.value(key) else { return nil }
            switch text.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw SettingsError(description: "\(origin): `\(text)` is not true or false")
            }
        }

        guard let modelID = string("MODEL_ID") else {
            throw SettingsError(
                description:
                    "no model: pass --model-id (a local directory or a Hugging Face id), set MODEL_ID, or MODEL_ID in the config file"
            )
        }
        var settings = ServeSettings(modelID: modelID)
        settings.revision = string("REVISION")
        if let dtype = string("DTYPE") {
            // TEI refuses everything but fp32 for Gemma3; bf16 weights (fp32 activations) are this server's addition.
            guard let precision = WeightPrecision(rawValue: dtype) else {
                throw SettingsError(
                    description:
                        "--dtype \(dtype): Could not start backend: Gemma3 is only supported in float32 or bfloat16 precision"
                )
            }
            settings.dtype = precision
        }
        if let pooling = string("POOLING") {
            guard pooling == "mean" else {
                throw SettingsError(
                    description: "--pooling \(pooling): EmbeddingGemma supports only `mean` pooling here")
            }
        }
        settings.servedModelName = string("SERVED_MODEL_NAME")
        settings.maxConcurrentRequests = try integer("MAX_CONCURRENT_REQUESTS", minimum: 1) ?? 512
        settings.maxBatchTokens = try integer("MAX_BATCH_TOKENS", minimum: 1) ?? 16384
        settings.maxBatchRequests = try integer("MAX_BATCH_REQUESTS", minimum: 1)
        settings.maxBatchMilliseconds = try integer("MAX_BATCH_TIME_MS", minimum: 0) ?? 500
        settings.maxClientBatchSize = try integer("MAX_CLIENT_BATCH_SIZE", minimum: 1) ?? 32
        settings.autoTruncate = try bool("AUTO_TRUNCATE") ?? true
        settings.defaultPromptName = string("DEFAULT_PROMPT_NAME")
        settings.defaultPrompt = string("DEFAULT_PROMPT")
        if settings.defaultPromptName != nil && settings.defaultPrompt != nil {
            throw SettingsError(description: "--default-prompt-name and --default-prompt cannot be used together")
        }
        settings.hfToken = string("HF_TOKEN") ?? string("HF_API_TOKEN")
        if let hostname = string("HOSTNAME") {
            if Self.isIPAddress(hostname) || hostname == "localhost" {
                settings.hostname = hostname
            } else {
                // As TEI: Docker sets HOSTNAME to the container's name, which is not an address to bind.
                warn("hostname `\(hostname)` is not an IP address; listening on 0.0.0.0")
            }
        }
        settings.port = try integer("PORT", minimum: 0) ?? 3000
        if settings.port > 65535 { throw SettingsError(description: "port \(settings.port) is above 65535") }
        settings.unixSocket = string("UNIX_SOCKET")
        settings.hubCache = string("HUGGINGFACE_HUB_CACHE")
        settings.payloadLimitBytes = try integer("PAYLOAD_LIMIT", minimum: 1) ?? 2_000_000
        settings.requestBodyTimeoutSeconds = try integer("REQUEST_BODY_TIMEOUT", minimum: 1) ?? 60
        settings.maxBufferedBytes = try integer("MAX_BUFFERED_BYTES", minimum: settings.payloadLimitBytes)
        settings.apiKey = string("API_KEY")
        switch (string("TLS_CERTIFICATE"), string("TLS_KEY")) {
        case (let certificate?, let key?): settings.tls = TLSFiles(certificatePath: certificate, privateKeyPath: key)
        case (nil, nil): break
        default: throw SettingsError(description: "--tls-certificate and --tls-key go together: give both or neither")
        }
        settings.jsonOutput = try bool("JSON_OUTPUT") ?? false
        if let origins = string("CORS_ALLOW_ORIGIN") {
            settings.corsAllowOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        settings.prometheusPort = try integer("PROMETHEUS_PORT", minimum: 0) ?? 9000
        settings.tokenizationWorkers = try integer("TOKENIZATION_WORKERS", minimum: 1) ?? defaultTokenizationWorkers
        settings.computeThreads = try integer("EMBED_THREADS", minimum: 1) ?? ComputePool.availableProcessorCount
        let notes = [
            ("UDS_PATH", "the socket of TEI's Python backend, which this server does not have (use --unix-socket)"),
            ("DENSE_PATH", "the Dense modules are read from modules.json"),
            ("OTLP_ENDPOINT", "OpenTelemetry export is not built in"),
            ("PROMETHEUS_PORT", "metrics are served at /metrics on the main port, as TEI does over HTTP"),
        ]
        for (key, reason) in notes where sources.value(key) != nil {
            settings.ignored.append("\(SettingSources.flagName(key)): \(reason)")
        }
        return settings
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
