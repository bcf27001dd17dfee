import Foundation
import Kernels

/// Everything `serve` needs, after flags, environment, config file and defaults (`Settings`) are combined.
struct ServeSettings: Equatable {
    var modelID: String
    var revision = Settings.revision.defaultValue()
    var dtype = Settings.dtype.defaultValue()
    var pooling = Settings.pooling.defaultValue()
    var servedModelName = Settings.servedModelName.defaultValue()
    var maxConcurrentRequests = Settings.maxConcurrentRequests.defaultValue()
    var maxBatchTokens = Settings.maxBatchTokens.defaultValue()
    var maxBatchRequests = Settings.maxBatchRequests.defaultValue()
    /// `--max-batch-time-ms`; 0 turns the time cap off.
    var maxBatchMilliseconds = Settings.maxBatchTimeMs.defaultValue()
    var maxClientBatchSize = Settings.maxClientBatchSize.defaultValue()
    var autoTruncate = Settings.autoTruncate.defaultValue()
    var defaultPromptName = Settings.defaultPromptName.defaultValue()
    var defaultPrompt = Settings.defaultPrompt.defaultValue()
    var hfToken = Settings.hfToken.defaultValue()
    var hostname = Settings.hostname.defaultValue()
    var port = Settings.port.defaultValue()
    /// Listen on this Unix domain socket instead of TCP.
    var unixSocket = Settings.unixSocket.defaultValue()
    var hubCache = Settings.huggingfaceHubCache.defaultValue()
    var payloadLimitBytes = Settings.payloadLimit.defaultValue()
    /// Seconds a whole request body may take to arrive (`--request-body-timeout`).
    var requestBodyTimeoutSeconds = Settings.requestBodyTimeout.defaultValue()
    /// Bytes of request bodies and unsent responses held at once (`--max-buffered-bytes`); nil: 64 × the payload limit.
    var maxBufferedBytes = Settings.maxBufferedBytes.defaultValue()
    var apiKey = Settings.apiKey.defaultValue()
    /// Certificate chain and private key (PEM) for HTTPS; nil: plain HTTP.
    var tls: TLSFiles?

    /// The PEM files behind --tls-certificate and --tls-key.
    struct TLSFiles: Equatable, Sendable {
        var certificatePath: String
        var privateKeyPath: String
    }
    var jsonOutput = Settings.jsonOutput.defaultValue()
    var logLevel = Settings.logLevel.defaultValue()
    /// Empty: any origin (TEI's default).
    var corsAllowOrigins = Settings.corsAllowOrigin.defaultValue()
    var prometheusPort = Settings.prometheusPort.defaultValue()
    var tokenizationWorkers = Settings.tokenizationWorkers.defaultValue()
    /// Threads of the encoder's compute pool. One process per core behind a load balancer, or a pod whose CPU
    /// request is below its node's core count, sets it lower than the default.
    var computeThreads = Settings.computeThreads.defaultValue()
    /// Settings accepted for TEI compatibility that have no effect here, with the reason (logged at start-up).
    var ignored: [String] = []

    /// Every key the config file may set.
    static let knownKeys = Set(Settings.all.filter(\.inConfigFile).map(\.key))

    /// Combines the sources; `warn` receives notes about values replaced or ignored.
    static func resolve(_ sources: SettingSources, warn: (String) -> Void = { _ in }) throws(SettingsError)
        -> ServeSettings
    {
        func value<Value>(_ setting: Setting<Value>) throws(SettingsError) -> Value {
            try sources.resolve(setting)
        }

        guard let modelID = try value(Settings.modelID) else {
            throw SettingsError(
                description:
                    "no model: pass --model-id (a local directory or a Hugging Face id), set MODEL_ID, or MODEL_ID in the config file"
            )
        }
        var settings = ServeSettings(modelID: modelID)
        settings.revision = try value(Settings.revision)
        settings.dtype = try value(Settings.dtype)
        settings.pooling = try value(Settings.pooling)
        settings.servedModelName = try value(Settings.servedModelName)
        settings.maxConcurrentRequests = try value(Settings.maxConcurrentRequests)
        settings.maxBatchTokens = try value(Settings.maxBatchTokens)
        settings.maxBatchRequests = try value(Settings.maxBatchRequests)
        settings.maxBatchMilliseconds = try value(Settings.maxBatchTimeMs)
        settings.maxClientBatchSize = try value(Settings.maxClientBatchSize)
        settings.autoTruncate = try value(Settings.autoTruncate)
        settings.defaultPromptName = try value(Settings.defaultPromptName)
        settings.defaultPrompt = try value(Settings.defaultPrompt)
        if settings.defaultPromptName != nil && settings.defaultPrompt != nil {
            throw SettingsError(description: "--default-prompt-name and --default-prompt cannot be used together")
        }
        // HF_TOKEN from any source beats TEI's older HF_API_TOKEN from any source.
        let formerToken = try value(Settings.hfAPIToken)
        settings.hfToken = try value(Settings.hfToken) ?? formerToken
        if let hostname = sources.value(Settings.hostname.info)?.text {
            if Self.isIPAddress(hostname) || hostname == "localhost" {
                settings.hostname = hostname
            } else {
                // As TEI: Docker sets HOSTNAME to the container's name, which is not an address to bind.
                warn("hostname `\(hostname)` is not an IP address; listening on 0.0.0.0")
            }
        }
        settings.port = try value(Settings.port)
        if settings.port > 65535 { throw SettingsError(description: "port \(settings.port) is above 65535") }
        settings.unixSocket = try value(Settings.unixSocket)
        settings.hubCache = try value(Settings.huggingfaceHubCache)
        settings.payloadLimitBytes = try value(Settings.payloadLimit)
        settings.requestBodyTimeoutSeconds = try value(Settings.requestBodyTimeout)
        settings.maxBufferedBytes = try value(Settings.maxBufferedBytes.atLeast(settings.payloadLimitBytes))
        settings.apiKey = try value(Settings.apiKey)
        switch (try value(Settings.tlsCertificate), try value(Settings.tlsKey)) {
        case (let certificate?, let key?): settings.tls = TLSFiles(certificatePath: certificate, privateKeyPath: key)
        case (nil, nil): break
        default: throw SettingsError(description: "--tls-certificate and --tls-key go together: give both or neither")
        }
        settings.jsonOutput = try value(Settings.jsonOutput)
        // ServeCommand has warned about an unknown level already, when it set up the log.
        settings.logLevel = logLevel(sources)
        settings.corsAllowOrigins = try value(Settings.corsAllowOrigin)
        settings.prometheusPort = try value(Settings.prometheusPort)
        settings.tokenizationWorkers = try value(Settings.tokenizationWorkers)
        settings.computeThreads = try value(Settings.computeThreads)
        for setting in Settings.all where setting.subcommands.contains(.serve) {
            guard let reason = setting.ignoredBecause, sources.value(setting) != nil else { continue }
            settings.ignored.append("\(setting.flag): \(reason)")
        }
        return settings
    }

    /// The log level: an unknown one in the environment or the config file is a warning, not a failed start
    /// (`--log-level` itself is checked by the command line's parser).
    static func logLevel(_ sources: SettingSources, warn: (String) -> Void = { _ in }) -> ServerLog.Level {
        do {
            return try sources.resolve(Settings.logLevel)
        } catch {
            let text = sources.value(Settings.logLevel.info)?.text ?? ""
            warn("LOG_LEVEL `\(text)` is not \(ServerLog.Level.expectation); logging at info")
            return Settings.logLevel.defaultValue()
        }
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
