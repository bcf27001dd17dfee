import ArgumentParser
import Dispatch
import EmbeddingAPI
import EmbeddingModel
import Foundation
import HTTPServer
import Kernels
import ModelHub
import Tokenizers

/// `embed-server serve`: TEI's router flags (each also read from TEI's environment variable, then `--config`).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve EmbeddingGemma over HTTP with TEI's and OpenAI's embeddings API.",
        discussion: """
            Every option can also be set by the environment variable in brackets, or by that name in a config file
            (--config, see config/embed-server.conf). A flag wins over the environment, which wins over the file.
            """)

    @Option(help: "KEY=VALUE config file (keys as the environment variables below). [EMBED_SERVER_CONFIG]")
    var config: String?

    @Option(help: "Local model directory or Hugging Face id found in the HF cache. [MODEL_ID]")
    var modelID: String?
    @Option(help: "Revision of the Hugging Face id (default main); reported as /info model_sha. [REVISION]")
    var revision: String?
    @Option(help: "Weight precision: float32 (default, as TEI) or bfloat16 (half the weight memory). [DTYPE]")
    var dtype: String?
    @Option(help: "Pooling; only mean (from 1_Pooling). [POOLING]")
    var pooling: String?
    @Option(help: "Model name in OpenAI responses (default: --model-id). [SERVED_MODEL_NAME]")
    var servedModelName: String?
    @Option(help: "Ignored: Dense modules come from modules.json. [DENSE_PATH]")
    var densePath: String?
    @Option(help: "Name of a model prompt applied when a request names none. [DEFAULT_PROMPT_NAME]")
    var defaultPromptName: String?
    @Option(help: "Literal prompt text applied when a request names none. [DEFAULT_PROMPT]")
    var defaultPrompt: String?

    @Option(help: "Inputs queued or running at once, one permit each (default 512). [MAX_CONCURRENT_REQUESTS]")
    var maxConcurrentRequests: Int?
    @Option(help: "Most tokens in one packed batch (default 16384). [MAX_BATCH_TOKENS]")
    var maxBatchTokens: Int?
    @Option(help: "Most sequences in one batch (default: no limit). [MAX_BATCH_REQUESTS]")
    var maxBatchRequests: Int?
    @Option(
        help:
            "Target run time of one batch in ms: its tokens are capped at that much of the measured throughput (at least 512), so short requests wait little behind bulk work; 0: tokens only (default 500). [MAX_BATCH_TIME_MS]"
    )
    var maxBatchTimeMs: Int?
    @Option(help: "Most inputs in one request (default 32). [MAX_CLIENT_BATCH_SIZE]")
    var maxClientBatchSize: Int?
    @Option(
        help: "Truncate over-long inputs unless a request says otherwise: true or false (default true). [AUTO_TRUNCATE]"
    )
    var autoTruncate: String?
    @Option(help: "Tokenizer threads (default: cores − 1, at least 1). [TOKENIZATION_WORKERS]")
    var tokenizationWorkers: Int?
    @Option(help: "Encoder compute threads (default: every core the process may use). [EMBED_THREADS]")
    var computeThreads: Int?
    @Option(help: "Largest request body in bytes (default 2000000). [PAYLOAD_LIMIT]")
    var payloadLimit: Int?
    @Option(help: "Seconds a whole request body may take to arrive, then 408 (default 60). [REQUEST_BODY_TIMEOUT]")
    var requestBodyTimeout: Int?
    @Option(
        help:
            "Bytes of request bodies and unsent responses held at once; past it new bodies get 503 (default 64 × --payload-limit). [MAX_BUFFERED_BYTES]"
    )
    var maxBufferedBytes: Int?

    @Option(help: "Hugging Face token, for the Hub. [HF_TOKEN]")
    var hfToken: String?
    @Option(name: .customLong("hf-api-token"), help: .hidden)
    var hfAPIToken: String?
    @Option(help: "Hugging Face hub cache directory. [HUGGINGFACE_HUB_CACHE]")
    var huggingfaceHubCache: String?

    @Option(help: "IP address to listen on (default 0.0.0.0). [HOSTNAME]")
    var hostname: String?
    @Option(name: [.short, .long], help: "TCP port (default 3000; 0 picks a free one). [PORT]")
    var port: Int?
    @Option(help: "Listen on this Unix domain socket instead of TCP. [UNIX_SOCKET]")
    var unixSocket: String?
    @Option(help: "Ignored: TEI's Python-backend socket. [UDS_PATH]")
    var udsPath: String?
    @Option(
        help:
            "Serve HTTPS with this PEM certificate chain (needs --tls-key); TLS 1.3, or 1.2 with ECDHE AEAD suites. [TLS_CERTIFICATE]"
    )
    var tlsCertificate: String?
    @Option(help: "PEM private key of --tls-certificate, unencrypted. [TLS_KEY]")
    var tlsKey: String?
    @Option(help: "Require `Authorization: Bearer <key>` on the API routes. [API_KEY]")
    var apiKey: String?
    @Option(help: "Allowed CORS origins, comma-separated (default any). [CORS_ALLOW_ORIGIN]")
    var corsAllowOrigin: [String] = []
    @Option(help: "Ignored: metrics are at /metrics on the main port. [PROMETHEUS_PORT]")
    var prometheusPort: Int?
    @Flag(help: "Log JSON lines instead of plain text. [JSON_OUTPUT]")
    var jsonOutput = false
    @Flag(help: .hidden)
    var disableSpans = false
    @Option(help: .hidden)
    var otlpEndpoint: String?
    @Option(help: .hidden)
    var otlpServiceName: String?

    /// The flags given on the command line, keyed by their environment variable names.
    var flagValues: [String: String] {
        var values: [String: String] = [:]
        let optional: [(String, String?)] = [
            ("MODEL_ID", modelID), ("REVISION", revision), ("DTYPE", dtype), ("POOLING", pooling),
            ("SERVED_MODEL_NAME", servedModelName), ("DENSE_PATH", densePath),
            ("DEFAULT_PROMPT_NAME", defaultPromptName), ("DEFAULT_PROMPT", defaultPrompt),
            ("MAX_CONCURRENT_REQUESTS", maxConcurrentRequests.map(String.init)),
            ("MAX_BATCH_TOKENS", maxBatchTokens.map(String.init)),
            ("MAX_BATCH_REQUESTS", maxBatchRequests.map(String.init)),
            ("MAX_BATCH_TIME_MS", maxBatchTimeMs.map(String.init)),
            ("MAX_CLIENT_BATCH_SIZE", maxClientBatchSize.map(String.init)), ("AUTO_TRUNCATE", autoTruncate),
            ("TOKENIZATION_WORKERS", tokenizationWorkers.map(String.init)),
            ("EMBED_THREADS", computeThreads.map(String.init)),
            ("PAYLOAD_LIMIT", payloadLimit.map(String.init)),
            ("REQUEST_BODY_TIMEOUT", requestBodyTimeout.map(String.init)),
            ("MAX_BUFFERED_BYTES", maxBufferedBytes.map(String.init)), ("HF_TOKEN", hfToken),
            ("HF_API_TOKEN", hfAPIToken),
            ("HUGGINGFACE_HUB_CACHE", huggingfaceHubCache), ("HOSTNAME", hostname), ("PORT", port.map(String.init)),
            ("UNIX_SOCKET", unixSocket), ("UDS_PATH", udsPath), ("API_KEY", apiKey),
            ("TLS_CERTIFICATE", tlsCertificate), ("TLS_KEY", tlsKey),
            ("CORS_ALLOW_ORIGIN", corsAllowOrigin.isEmpty ? nil : corsAllowOrigin.joined(separator: ",")),
            ("PROMETHEUS_PORT", prometheusPort.map(String.init)), ("OTLP_ENDPOINT", otlpEndpoint),
            ("JSON_OUTPUT", jsonOutput ? "true" : nil),
        ]
        for case (let key, let value?) in optional { values[key] = value }
        return values
    }

    /// TEI accepts a bare `--auto-truncate` as well as `--auto-truncate false`; this makes the bare form explicit.
    static func normalizeArguments(_ arguments: [String]) -> [String] {
        var result: [String] = []
        for (index, argument) in arguments.enumerated() {
            result.append(argument)
            guard argument == "--auto-truncate" else { continue }
            let next = index + 1 < arguments.count ? arguments[index + 1].lowercased() : ""
            if !["true", "false", "1", "0", "yes", "no", "on", "off"].contains(next) { result.append("true") }
        }
        return result
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var sources = SettingSources(flags: flagValues, environment: environment)
        if let path = config ?? environment["EMBED_SERVER_CONFIG"] {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read config file \(path): \(error.localizedDescription)")
            }
            sources.file = try SettingSources.parseConfigFile(text, path: path)
        }
        var log = ServerLog(json: (try? ServeSettings.resolve(sources).jsonOutput) ?? jsonOutput)
        if let text = environment["LOG_LEVEL"], !text.isEmpty {
            if let level = ServerLog.Level(environmentValue: text) {
                log.minimumLevel = level
            } else {
                log.warning("LOG_LEVEL `\(text)` is not trace, debug, info, warn or error; logging at info")
            }
        }
        let settings: ServeSettings
        do {
            settings = try ServeSettings.resolve(sources) { log.warning($0) }
        } catch {
            log.error(error.description)
            throw ExitCode.failure
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        Task {
            do {
                try await ServerRunner(settings: settings, log: log).run()
            } catch {
                log.error("\(error)")
                outcome.failed = true
            }
            done.signal()
        }
        done.wait()
        if outcome.failed { throw ExitCode.failure }
    }
}

/// Carries the server task's outcome back to the blocked main thread.
private final class OutcomeBox: @unchecked Sendable {
    // Written by the task before it signals the semaphore, read by the main thread after the wait.
    var failed = false
}
