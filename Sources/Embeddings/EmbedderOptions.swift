import Foundation
internal import Kernels
internal import ModelHub

extension Embedder {
    /// How the model's weights are held in memory. Activations, norms and sums stay 32-bit float either way.
    public enum Precision: String, Sendable, Hashable, CaseIterable {
        /// 32-bit float weights, as the checkpoint stores them: the reference results.
        case float32
        /// Weights rounded to bfloat16 when loaded: half the weight memory, and faster on CPUs with AVX512-BF16 or
        /// AMX; vectors stay within a cosine of 0.9999 of the `float32` ones (0.9998 on AMX) on the golden set.
        case bfloat16

        var weightPrecision: WeightPrecision {
            switch self {
            case .float32: .float32
            case .bfloat16: .bfloat16
            }
        }
    }

    /// Settings that shape how a model is loaded and run.
    public struct Options: Sendable, Hashable {
        /// How the weights are held; ``Precision/float32`` by default.
        public var precision: Precision
        /// Threads that run a forward pass's matrix products, the calling one included; nil uses every processor
        /// this process may run on.
        public var computeThreads: Int?
        /// Most tokens packed into one forward pass from all pending calls (16,384 by default, as the server's
        /// `--max-batch-tokens`). An input longer than this still runs, alone.
        public var maxBatchTokens: Int

        /// Options with the given values; the defaults load `float32` weights and use every processor.
        public init(precision: Precision = .float32, computeThreads: Int? = nil, maxBatchTokens: Int = 16384) {
            self.precision = precision
            self.computeThreads = computeThreads
            self.maxBatchTokens = maxBatchTokens
        }

        /// Throws for values the compute pool or the batcher cannot run with.
        func validate() throws(EmbeddingsError) {
            if let threads = computeThreads, threads < 1 {
                throw .invalidOptions(reason: "computeThreads must be at least 1, got \(threads)")
            }
            if maxBatchTokens < 1 {
                throw .invalidOptions(reason: "maxBatchTokens must be at least 1, got \(maxBatchTokens)")
            }
        }
    }

    /// Where and how a Hugging Face model id is looked up: the same cache as `huggingface_hub` and the server.
    public struct Hub: Sendable, Hashable {
        /// The `hub` cache folder, which holds `models--ORG--NAME/` (default `~/.cache/huggingface/hub`).
        public var cacheDirectory: URL
        /// The Hub's base URL (default `https://huggingface.co`).
        public var endpoint: URL
        /// The access token sent to the Hub, needed for gated models such as EmbeddingGemma.
        public var token: String?
        /// When true only the cache is consulted and nothing is downloaded.
        public var offline: Bool
        /// Bounds connecting and each read or write on the network, in seconds.
        public var timeoutSeconds: Int

        /// Settings read from the environment variables `huggingface_hub` reads: `HF_HOME`, `HF_HUB_CACHE`
        /// (or `HUGGINGFACE_HUB_CACHE`), `HF_ENDPOINT`, `HF_TOKEN` (or the token file `huggingface-cli login`
        /// writes), `HF_HUB_OFFLINE` and `HF_HUB_DOWNLOAD_TIMEOUT`.
        public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
            let hub = ModelHub(environment: environment)
            cacheDirectory = hub.cacheDirectory
            endpoint = hub.endpoint
            token = hub.token
            offline = hub.offline
            timeoutSeconds = hub.timeoutSeconds
        }

        /// The local directory of `modelID` (a directory path is returned as is), downloading into the cache
        /// unless offline. `progress` receives one line per step (cache hit, each download).
        func resolve(modelID: String, revision: String, progress: (String) -> Void) throws(EmbeddingsError) -> URL {
            var hub = ModelHub(environment: [:])
            hub.cacheDirectory = cacheDirectory
            hub.endpoint = endpoint
            hub.token = token
            hub.offline = offline
            hub.timeoutSeconds = timeoutSeconds
            do {
                return try hub.resolve(modelID: modelID, revision: revision, log: progress)
            } catch let error as ModelHubError {
                if case .notCachedWhileOffline = error {
                    throw .modelNotCached(modelID: modelID, reason: error.description)
                }
                throw .modelNotFound(modelID: modelID, reason: error.description)
            } catch {
                throw .modelNotFound(modelID: modelID, reason: "\(error)")
            }
        }
    }
}
