import Batching
import Kernels

/// Every setting of `serve` (and those `embed` shares), each declared once: parsing and precedence
/// (`SettingSources`), `--help` (the option groups take their names and help from here), docs/configuration.md and
/// config/embed-server.conf (`SettingsDocument`) all come from these. Names and defaults are TEI's router's.
enum Settings {
    // MARK: Config file

    static let config = Setting<String?>(
        "EMBED_SERVER_CONFIG", flag: "config", help: "KEY=VALUE config file (keys as the environment variables below)",
        default: .none, section: .configFile, inConfigFile: false)

    // MARK: Model

    static let modelID = Setting<String?>(
        "MODEL_ID", flag: "model-id", help: "Local model directory or Hugging Face id found in the HF cache",
        default: .none, subcommands: [.serve, .embed], section: .model)
    static let dtype = Setting<WeightPrecision>(
        "DTYPE", flag: "dtype", help: "Weight precision: float32 (exact, as TEI) or bfloat16 (half the weight memory)",
        details: """
            bfloat16 rounds the Linear and Dense weights to bf16 at load: ~40% less memory, cosine ≥ 0.99997 to the \
            reference. On CPUs whose vdpbf16ps outpaces their FMAs, such as Zen 4, the activations of those GEMMs are \
            rounded to bf16 too, which makes them 1.7–1.8× faster, at cosine ≥ 0.99994; `EMBED_KERNELS=avx512amx` \
            does the same on Intel's AMX tiles, 2–3× faster, at cosine ≥ 0.9998.
            """,
        default: .value(.float32), subcommands: [.serve, .embed], section: .model,
        // TEI refuses everything but fp32 for Gemma3; bf16 weights (fp32 activations) are this server's addition.
        rejection: { _, text in
            "--dtype \(text): Could not start backend: Gemma3 is only supported in float32 or bfloat16 precision"
        })
    static let revision = Setting<String?>(
        "REVISION", flag: "revision", help: "Revision of the Hugging Face id, reported as /info model_sha",
        default: .described("main"), section: .model)
    static let pooling = Setting<Pooling?>(
        "POOLING", flag: "pooling",
        help: "Pooling; must equal the model's (from 1_Pooling), which is also the default; ignored for a classifier",
        default: .described("the model's"), section: .model)
    static let servedModelName = Setting<String?>(
        "SERVED_MODEL_NAME", flag: "served-model-name", help: "Model name in OpenAI responses",
        default: .described("--model-id"), section: .model)
    static let densePath = Setting<String?>(
        "DENSE_PATH", flag: "dense-path", help: "Ignored: Dense modules come from modules.json", default: .none,
        section: .model, ignoredBecause: "the Dense modules are read from modules.json")
    static let defaultPromptName = Setting<String?>(
        "DEFAULT_PROMPT_NAME", flag: "default-prompt-name",
        help: "Name of a model prompt applied when a request names none", default: .none, section: .model)
    static let defaultPrompt = Setting<String?>(
        "DEFAULT_PROMPT", flag: "default-prompt",
        help: "Literal prompt text applied when a request names none (not with --default-prompt-name)",
        default: .none, section: .model)

    // MARK: Batching and limits

    static let maxBatchTokens = Setting<Int>(
        "MAX_BATCH_TOKENS", flag: "max-batch-tokens", aliases: ["batch-tokens"],
        help: "Most tokens in one packed batch", default: .value(16384),
        // Offline, no request waits behind a batch; a smaller one keeps embed's memory lower.
        embedDefault: .value(8192), minimum: 1, subcommands: [.serve, .embed], section: .batching)
    static let computeThreads = Setting<Int>(
        "EMBED_THREADS", flag: "compute-threads", aliases: ["threads"], help: "Encoder compute threads",
        details: "Set it to the CPU share a container or pod gets.",
        default: .described("every core the process may use") { ComputePool.availableProcessorCount },
        minimum: 1, subcommands: [.serve, .embed], section: .batching)
    static let maxConcurrentRequests = Setting<Int>(
        "MAX_CONCURRENT_REQUESTS", flag: "max-concurrent-requests",
        help: "Inputs queued or running at once, one permit each", details: "None left: 429 at once.",
        default: .value(512), minimum: 1, section: .batching)
    static let maxBatchRequests = Setting<Int?>(
        "MAX_BATCH_REQUESTS", flag: "max-batch-requests", help: "Most sequences in one batch",
        default: .described("no limit"), minimum: 1, section: .batching)
    static let maxBatchTimeMs = Setting<Int>(
        "MAX_BATCH_TIME_MS", flag: "max-batch-time-ms",
        help: """
            Target run time of one batch in ms: its tokens are capped at that much of the measured throughput (at \
            least \(BatcherConfiguration().minBatchTokens)), and a request of at most \
            \(BatcherConfiguration().preemptingTokens) tokens waits at most this long behind a longer batch before \
            it runs between two of that batch's layers; 0: tokens only, no preemption
            """,
        default: .value(500), minimum: 0, section: .batching)
    static let maxClientBatchSize = Setting<Int>(
        "MAX_CLIENT_BATCH_SIZE", flag: "max-client-batch-size", help: "Most inputs in one request",
        default: .value(32), minimum: 1, section: .batching)
    static let autoTruncate = Setting<Bool>(
        "AUTO_TRUNCATE", flag: "auto-truncate",
        help: "Truncate over-long inputs unless a request says otherwise: true or false",
        details: "A bare `--auto-truncate` means true.", default: .value(true), section: .batching)
    static let tokenizationWorkers = Setting<Int>(
        "TOKENIZATION_WORKERS", flag: "tokenization-workers", help: "Tokenizer threads",
        // TEI's default, at most 64.
        default: .described("cores − 1, at least 1") { min(64, max(1, ComputePool.availableProcessorCount - 1)) },
        minimum: 1, section: .batching)
    static let payloadLimit = Setting<Int>(
        "PAYLOAD_LIMIT", flag: "payload-limit", help: "Largest request body in bytes", default: .value(2_000_000),
        minimum: 1, section: .batching)
    static let requestBodyTimeout = Setting<Int>(
        "REQUEST_BODY_TIMEOUT", flag: "request-body-timeout",
        help: "Seconds a whole request body may take to arrive, then 408",
        details: "The connection is closed; apart from this, 30 s are allowed between two reads.",
        default: .value(60), minimum: 1, section: .batching)
    static let maxBufferedBytes = Setting<Int?>(
        "MAX_BUFFERED_BYTES", flag: "max-buffered-bytes",
        help: "Bytes of request bodies and unsent responses held at once; past it new bodies get 503",
        details: "Server-wide; the 503 carries `Retry-After: 1`. 128 MB at the default payload limit; at least "
            + "`--payload-limit`.",
        default: .described("64 × --payload-limit"), minimum: 1, section: .batching)

    // MARK: Hugging Face Hub

    static let hfToken = Setting<String?>(
        "HF_TOKEN", flag: "hf-token", help: "Hugging Face token, for the Hub", default: .none, section: .hub)
    /// TEI's former name of `HF_TOKEN`, read when that is not set.
    static let hfAPIToken = Setting<String?>(
        "HF_API_TOKEN", flag: "hf-api-token", help: "Hugging Face token (TEI's former name)", default: .none,
        section: .hub, isHidden: true)
    static let huggingfaceHubCache = Setting<String?>(
        "HUGGINGFACE_HUB_CACHE", flag: "huggingface-hub-cache", help: "Hugging Face hub cache directory",
        default: .described("$HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub"), section: .hub)

    // MARK: Network

    static let hostname = Setting<String>(
        "HOSTNAME", flag: "hostname", help: "IP address to listen on",
        details: "Anything but an IP address or `localhost` (Docker sets HOSTNAME to the container's name) falls back "
            + "to 0.0.0.0 with a warning.",
        default: .value("0.0.0.0"), section: .network)
    static let port = Setting<Int>(
        "PORT", flag: "port", short: "p", help: "TCP port; 0 picks a free one", default: .value(3000), minimum: 0,
        section: .network)
    static let unixSocket = Setting<String?>(
        "UNIX_SOCKET", flag: "unix-socket", help: "Listen on this Unix domain socket instead of TCP", default: .none,
        section: .network)
    static let udsPath = Setting<String?>(
        "UDS_PATH", flag: "uds-path", help: "Ignored: TEI's Python-backend socket", default: .none,
        section: .network,
        ignoredBecause: "the socket of TEI's Python backend, which this server does not have (use --unix-socket)")
    static let tlsCertificate = Setting<String?>(
        "TLS_CERTIFICATE", flag: "tls-certificate",
        help: "Serve HTTPS with this PEM certificate chain (needs --tls-key); TLS 1.3, or 1.2 with ECDHE AEAD suites",
        details: "TLS 1.2 only with ECDHE and AES-GCM or ChaCha20-Poly1305 (Mozilla's intermediate profile).",
        default: .none, section: .network)
    static let tlsKey = Setting<String?>(
        "TLS_KEY", flag: "tls-key", help: "PEM private key of --tls-certificate, unencrypted",
        details: "A passphrase-protected key is refused at start-up.", default: .none, section: .network)
    static let apiKey = Setting<String?>(
        "API_KEY", flag: "api-key", help: "Require `Authorization: Bearer <key>` on the API routes", default: .none,
        section: .network)
    static let corsAllowOrigin = Setting<[String]>(
        "CORS_ALLOW_ORIGIN", flag: "cors-allow-origin", help: "Allowed CORS origins, comma-separated",
        default: .described("any") { [] }, section: .network)
    static let prometheusPort = Setting<Int>(
        "PROMETHEUS_PORT", flag: "prometheus-port", help: "Ignored: metrics are at /metrics on the main port",
        default: .value(9000), minimum: 0, section: .network,
        ignoredBecause: "metrics are served at /metrics on the main port, as TEI does over HTTP")

    // MARK: Logging

    static let jsonOutput = Setting<Bool>(
        "JSON_OUTPUT", flag: "json-output", help: "Log JSON lines instead of plain text", default: .value(false),
        section: .logging, isFlag: true)
    static let logLevel = Setting<ServerLog.Level>(
        "LOG_LEVEL", flag: "log-level",
        help: "Least level logged: trace, debug, info, warn or error; debug adds the health and metrics probes",
        details: "`trace` is `debug`. An unknown level in the environment or the config file logs a warning and "
            + "keeps `info`.",
        default: .value(.info), section: .logging)
    static let disableSpans = Setting<Bool>(
        "DISABLE_SPANS", flag: "disable-spans", help: "TEI's span logging switch (no spans here)",
        default: .value(false), section: .logging, isFlag: true, isHidden: true)
    static let otlpEndpoint = Setting<String?>(
        "OTLP_ENDPOINT", flag: "otlp-endpoint", help: "TEI's OpenTelemetry endpoint", default: .none,
        section: .logging, isHidden: true, ignoredBecause: "OpenTelemetry export is not built in")
    static let otlpServiceName = Setting<String?>(
        "OTLP_SERVICE_NAME", flag: "otlp-service-name", help: "TEI's OpenTelemetry service name", default: .none,
        section: .logging, isHidden: true)

    /// In --help's order, which the docs and the config file follow.
    static let all: [SettingInfo] = [
        config.info, modelID.info, dtype.info, revision.info, pooling.info, servedModelName.info, densePath.info,
        defaultPromptName.info, defaultPrompt.info, maxBatchTokens.info, computeThreads.info,
        maxConcurrentRequests.info, maxBatchRequests.info, maxBatchTimeMs.info, maxClientBatchSize.info,
        autoTruncate.info, tokenizationWorkers.info, payloadLimit.info, requestBodyTimeout.info, maxBufferedBytes.info,
        hfToken.info, hfAPIToken.info, huggingfaceHubCache.info, hostname.info, port.info, unixSocket.info,
        udsPath.info, tlsCertificate.info, tlsKey.info, apiKey.info, corsAllowOrigin.info, prometheusPort.info,
        jsonOutput.info, logLevel.info, disableSpans.info, otlpEndpoint.info, otlpServiceName.info,
    ]
}
