import Dispatch
import EmbeddingAPI
import Embeddings
import Foundation
import HTTPServer
import Kernels
import Synchronization

/// Loads the model, starts the API and the HTTP server, and runs until SIGTERM or SIGINT, then drains and returns.
struct ServerRunner {
    let settings: ServeSettings
    let log: ServerLog

    /// Seconds the server waits for requests in flight after a shutdown signal.
    static let drainSeconds = 30.0

    func run() async throws {
        for note in settings.ignored { log.info("ignored setting \(note)") }
        let service = try await loadService()
        let router = APIRouter(service: service) { [log] record in log.request(record) }
        var configuration = ServerConfiguration()
        configuration.hostname = settings.hostname
        configuration.port = settings.port
        configuration.unixSocketPath = settings.unixSocket
        configuration.payloadLimitBytes = settings.payloadLimitBytes
        configuration.bodyDeadlineSeconds = Double(settings.requestBodyTimeoutSeconds)
        configuration.maxBufferedBytes = settings.maxBufferedBytes
        configuration.probePaths = ServerLog.probePaths
        let openFiles = HTTPServer.raiseOpenFileLimit()
        let configuredConnections = configuration.maxConnections
        configuration = configuration.fitting(descriptorLimit: openFiles)
        if configuration.maxConnections < configuredConnections {
            log.warning(
                "open-file limit \(openFiles) is too low for \(configuredConnections) connections; raise it (ulimit -n) for more",
                [("max_connections", String(configuration.maxConnections))])
        }
        configuration.tls = settings.tls.map {
            TLSConfiguration(certificatePath: $0.certificatePath, privateKeyPath: $0.privateKeyPath)
        }
        configuration.corsAllowOrigins = settings.corsAllowOrigins.isEmpty ? ["*"] : settings.corsAllowOrigins
        configuration.errorResponder = APIRouter.errorResponder
        let server = HTTPServer(configuration: configuration) { request in await router.handle(request) }
        let stop = ShutdownSignal()
        // Held by `stop` until the process ends: releasing it restores the signals' default (killing) action.
        stop.hold(ShutdownSignals { number in stop.fire(number) })
        try server.start()
        let scheme = settings.tls == nil ? "http" : "https"
        let address =
            settings.unixSocket.map { "unix:\($0)" }
            ?? "\(scheme)://\(settings.hostname.contains(":") ? "[\(settings.hostname)]" : settings.hostname):\(server.boundPort ?? settings.port)"
        log.info(
            "ready",
            [
                ("listening", address), ("max_connections", String(configuration.maxConnections)),
                ("open_files_limit", String(openFiles)),
            ])
        let number = await stop.wait()
        log.info("shutting down: draining requests in flight", [("signal", number == SIGTERM ? "SIGTERM" : "SIGINT")])
        await server.shutdown(gracePeriodSeconds: Self.drainSeconds)
        await service.shutdown()
        log.info("stopped")
    }

    /// Resolves and loads the model, builds the API service around it and warms it up with one forward pass.
    func loadService() async throws -> EmbeddingService {
        let started = DispatchTime.now().uptimeNanoseconds
        var environment = ProcessInfo.processInfo.environment
        if let cache = settings.hubCache { environment["HUGGINGFACE_HUB_CACHE"] = cache }
        if let token = settings.hfToken { environment["HF_TOKEN"] = token }
        let options = Embedder.Options(
            precision: settings.dtype == .bfloat16 ? .bfloat16 : .float32, computeThreads: settings.computeThreads)
        let embedder: Embedder
        do throws(EmbeddingsError) {
            embedder = try await Embedder.load(
                modelID: settings.modelID, revision: settings.revision ?? "main",
                hub: Embedder.Hub(environment: environment), options: options
            ) { [log] in log.info($0) }
        } catch {
            switch error {
            case .modelNotCached(_, let reason):
                // The offline error already says how to fill the cache.
                throw SettingsError(description: "cannot find model \(settings.modelID): \(reason)")
            case .modelNotFound(_, let reason):
                throw SettingsError(
                    description:
                        "cannot find model \(settings.modelID): \(reason). Run scripts/fetch-model.sh to put google/embeddinggemma-300m into the Hugging Face cache, or pass --model-id DIRECTORY"
                )
            default:
                throw error
            }
        }
        if let reason = embedder.tokenizerCacheRebuildReason {
            log.warning("tokenizer cache rebuilt from tokenizer.json", [("reason", reason)])
        }
        let info = embedder.info
        var labels: [String]?
        if case .classifier(let names) = info.kind { labels = names }
        if let pooling = settings.pooling, labels != nil {
            // As TEI: a classifier's head reads the first token, whatever --pooling says.
            log.warning("--pooling \(pooling.rawValue) ignored: the model is a classifier")
        } else if let pooling = settings.pooling, pooling.infoName != info.pooling {
            throw SettingsError(
                description:
                    "--pooling \(pooling.rawValue): this model is pooled by \(info.pooling) (1_Pooling/config.json), the only pooling served here"
            )
        }
        var maxInputLength = info.maxSequenceLength
        if maxInputLength > settings.maxBatchTokens {
            // As TEI: a batch must be able to hold one maximal input.
            guard settings.autoTruncate else {
                throw SettingsError(
                    description:
                        "--max-batch-tokens \(settings.maxBatchTokens) is smaller than the model's max input length \(maxInputLength); raise it or enable --auto-truncate"
                )
            }
            log.warning("max input length \(maxInputLength) clamped to --max-batch-tokens \(settings.maxBatchTokens)")
            maxInputLength = settings.maxBatchTokens
        }
        let model = ModelDescription(
            modelID: settings.modelID, servedModelName: settings.servedModelName, revision: settings.revision,
            dtype: settings.dtype.rawValue, kernels: Kernels.activeVariant, pooling: info.pooling,
            maxInputLength: maxInputLength, embeddingDimensions: info.dimensions, hiddenSize: info.hiddenSize,
            vocabularySize: info.vocabularySize, prompts: info.prompts, labels: labels)
        var configuration = APIConfiguration()
        configuration.maxConcurrentRequests = settings.maxConcurrentRequests
        configuration.maxBatchTokens = settings.maxBatchTokens
        configuration.maxBatchRequests = settings.maxBatchRequests
        configuration.maxBatchSeconds =
            settings.maxBatchMilliseconds > 0 ? Double(settings.maxBatchMilliseconds) / 1000 : nil
        configuration.maxClientBatchSize = settings.maxClientBatchSize
        configuration.autoTruncate = settings.autoTruncate
        configuration.defaultPromptName = settings.defaultPromptName
        configuration.defaultPrompt = settings.defaultPrompt
        configuration.tokenizationWorkers = settings.tokenizationWorkers
        configuration.apiKey = settings.apiKey
        configuration.dockerLabel = ProcessInfo.processInfo.environment["DOCKER_LABEL"]
        let service: EmbeddingService
        do {
            service = try EmbeddingService(
                model: model, configuration: configuration,
                backend: LiveBackend(embedder))
        } catch {
            throw SettingsError(description: error.message)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let warmUpSeconds: Double
        do {
            warmUpSeconds = try service.warmUp()
        } catch {
            await service.shutdown()
            throw SettingsError(description: "warm-up forward pass failed: \(error)")
        }
        let width =
            labels.map { ("labels", String($0.count)) } ?? ("embedding_dimensions", String(model.embeddingDimensions))
        log.info(
            "model loaded",
            [
                ("model", settings.modelID), ("directory", embedder.directory.path), ("dtype", model.dtype),
                ("kernels", Kernels.activeVariant), ("compute_threads", String(embedder.computeThreads)),
                ("max_input_length", String(maxInputLength)),
                width,
                ("load_seconds", String(format: "%.2f", seconds)),
                ("warmup_ms", String(format: "%.2f", warmUpSeconds * 1000)),
            ])
        return service
    }
}

/// The first shutdown signal, awaited by the runner.
private final class ShutdownSignal: Sendable {
    private let state = Mutex<(number: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))
    private let handlers = Mutex<ShutdownSignals?>(nil)

    /// Keeps the signal handlers installed for as long as this object lives.
    func hold(_ signals: ShutdownSignals) {
        handlers.withLock { $0 = signals }
    }

    func fire(_ number: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32, Never>? in
            guard state.number == nil else { return nil }
            state.number = number
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: number)
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state -> Int32? in
                if state.number == nil { state.waiter = continuation }
                return state.number
            }
            if let fired { continuation.resume(returning: fired) }
        }
    }
}
