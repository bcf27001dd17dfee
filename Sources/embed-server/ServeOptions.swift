import ArgumentParser

/// Serve's model options beyond the shared ones: revision, pooling, names and prompts.
struct ServeModelOptions: ParsableArguments {
    @Option(Settings.revision, .serve) var revision: String?
    @Option(Settings.pooling, .serve) var pooling: Pooling?
    @Option(Settings.servedModelName, .serve) var servedModelName: String?
    @Option(Settings.densePath, .serve) var densePath: String?
    @Option(Settings.defaultPromptName, .serve) var defaultPromptName: String?
    @Option(Settings.defaultPrompt, .serve) var defaultPrompt: String?

    func record(into flags: inout FlagValues) {
        flags.record(Settings.revision, revision)
        flags.record(Settings.pooling, pooling)
        flags.record(Settings.servedModelName, servedModelName)
        flags.record(Settings.densePath, densePath)
        flags.record(Settings.defaultPromptName, defaultPromptName)
        flags.record(Settings.defaultPrompt, defaultPrompt)
    }
}

/// Serve's queue, batch, request and body limits.
struct ServeLimitOptions: ParsableArguments {
    @Option(Settings.maxConcurrentRequests, .serve) var maxConcurrentRequests: Int?
    @Option(Settings.maxBatchRequests, .serve) var maxBatchRequests: Int?
    @Option(Settings.maxBatchTimeMs, .serve) var maxBatchTimeMs: Int?
    @Option(Settings.maxClientBatchSize, .serve) var maxClientBatchSize: Int?
    @Option(Settings.autoTruncate, .serve) var autoTruncate: BooleanArgument?
    @Option(Settings.tokenizationWorkers, .serve) var tokenizationWorkers: Int?
    @Option(Settings.payloadLimit, .serve) var payloadLimit: Int?
    @Option(Settings.requestBodyTimeout, .serve) var requestBodyTimeout: Int?
    @Option(Settings.maxBufferedBytes, .serve) var maxBufferedBytes: Int?

    func record(into flags: inout FlagValues) {
        flags.record(Settings.maxConcurrentRequests, maxConcurrentRequests)
        flags.record(Settings.maxBatchRequests, maxBatchRequests)
        flags.record(Settings.maxBatchTimeMs, maxBatchTimeMs)
        flags.record(Settings.maxClientBatchSize, maxClientBatchSize)
        flags.record(Settings.autoTruncate, autoTruncate?.value)
        flags.record(Settings.tokenizationWorkers, tokenizationWorkers)
        flags.record(Settings.payloadLimit, payloadLimit)
        flags.record(Settings.requestBodyTimeout, requestBodyTimeout)
        flags.record(Settings.maxBufferedBytes, maxBufferedBytes)
    }
}

/// Where serve finds the Hugging Face Hub's cache and token.
struct HubOptions: ParsableArguments {
    @Option(Settings.hfToken, .serve) var hfToken: String?
    @Option(Settings.hfAPIToken, .serve) var hfAPIToken: String?
    @Option(Settings.huggingfaceHubCache, .serve) var huggingfaceHubCache: String?

    func record(into flags: inout FlagValues) {
        flags.record(Settings.hfToken, hfToken)
        flags.record(Settings.hfAPIToken, hfAPIToken)
        flags.record(Settings.huggingfaceHubCache, huggingfaceHubCache)
    }
}

/// Where and how serve listens: address, TLS, API key, CORS.
struct NetworkOptions: ParsableArguments {
    @Option(Settings.hostname, .serve) var hostname: String?
    @Option(Settings.port, .serve) var port: Int?
    @Option(Settings.unixSocket, .serve) var unixSocket: String?
    @Option(Settings.udsPath, .serve) var udsPath: String?
    @Option(Settings.tlsCertificate, .serve) var tlsCertificate: String?
    @Option(Settings.tlsKey, .serve) var tlsKey: String?
    @Option(Settings.apiKey, .serve) var apiKey: String?
    @Option(Settings.corsAllowOrigin, .serve) var corsAllowOrigin: [String] = []
    @Option(Settings.prometheusPort, .serve) var prometheusPort: Int?

    func record(into flags: inout FlagValues) {
        flags.record(Settings.hostname, hostname)
        flags.record(Settings.port, port)
        flags.record(Settings.unixSocket, unixSocket)
        flags.record(Settings.udsPath, udsPath)
        flags.record(Settings.tlsCertificate, tlsCertificate)
        flags.record(Settings.tlsKey, tlsKey)
        flags.record(Settings.apiKey, apiKey)
        flags.record(Settings.corsAllowOrigin, corsAllowOrigin)
        flags.record(Settings.prometheusPort, prometheusPort)
    }
}

/// Serve's log format and level, and TEI's tracing options (accepted, without effect).
struct LoggingOptions: ParsableArguments {
    @Flag(Settings.jsonOutput, .serve) var jsonOutput = false
    @Option(Settings.logLevel, .serve) var logLevel: ServerLog.Level?
    @Flag(Settings.disableSpans, .serve) var disableSpans = false
    @Option(Settings.otlpEndpoint, .serve) var otlpEndpoint: String?
    @Option(Settings.otlpServiceName, .serve) var otlpServiceName: String?

    func record(into flags: inout FlagValues) {
        flags.record(flag: Settings.jsonOutput, jsonOutput)
        flags.record(Settings.logLevel, logLevel)
        flags.record(flag: Settings.disableSpans, disableSpans)
        flags.record(Settings.otlpEndpoint, otlpEndpoint)
        flags.record(Settings.otlpServiceName, otlpServiceName)
    }
}
