import ArgumentParser
import EmbeddingModel
import Foundation
import JSON
import Kernels
import Tokenizers

/// `bench-encoder`: encoder throughput on packed batches and resident memory after loading.
@main
struct BenchEncoder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-encoder",
        abstract:
            "Measures encoder tokens/s on packed batches of short, medium and long inputs "
            + "(run by scripts/bench/bench-encoder)."
    )

    @Option(name: .customLong("model-id"), help: "Model directory.")
    var modelDirectory: String

    @Option(help: "Bench corpus: JSON lines with a \"text\" field (tokenized with the model's tokenizer).")
    var corpus: String?

    @Option(
        name: .customLong("corpus-ids"),
        help:
            "Bench corpus already tokenized: JSON lines with an \"ids\" array (for a model whose tokenizer this build lacks)."
    )
    var corpusIDs: String?

    @Option(
        name: .customLong("query-ids"),
        help: "Also time this comma-separated token id sequence embedded alone (like --query, already tokenized).")
    var queryIDs: String?

    @Option(name: .customLong("max-batch-tokens"), help: "Tokens per packed batch (default: 4096).")
    var maxBatchTokensFlag: Int?

    /// The spelling before `--max-batch-tokens`, as `embed-server` keeps it: a hidden alias.
    @Option(name: .customLong("batch-tokens"), help: .hidden)
    var batchTokensAlias: Int?

    @Option(name: .customLong("seconds"), help: "Minimum measuring time per batch shape, in seconds.")
    var minimumSeconds = 5.0

    @Option(name: .customLong("compute-threads"), help: "Compute threads (default: all available processors).")
    var computeThreads: Int?

    /// The spelling before `--compute-threads`, as `embed-server` keeps it: a hidden alias.
    @Option(name: .customLong("threads"), help: .hidden)
    var threadsAlias: Int?

    @Option(help: "Weight precision: float32 or bfloat16.")
    var dtype: WeightPrecision = .float32

    @Flag(name: .customLong("corpus-only"), help: "Skip the synthetic short, medium and long batches.")
    var corpusOnly = false

    @Option(help: "Also time this text embedded alone: median of --query-runs runs after one warm-up run.")
    var query: String?

    @Option(name: .customLong("query-runs"), help: "Timed runs of --query or the --latency query.")
    var queryRuns = 50

    @Option(
        name: .customLong("query-gap-ms"),
        help: "Idle time between two timed query runs, as a client's round trip leaves between requests (default 0).")
    var queryGapMilliseconds = 0.0

    @Flag(
        help:
            "Only latency and memory: p50/p90 of one query alone (--query, else --query-tokens synthetic ids), then resident memory after one large packed batch."
    )
    var latency = false

    @Option(name: .customLong("query-tokens"), help: "Tokens of the synthetic --latency query, BOS and EOS included.")
    var queryTokens = 10

    @Option(
        name: .customLong("memory-batch-tokens"),
        help: "Tokens of the --latency packed batch (sequences of 1024) run for resident memory; 0 skips it.")
    var memoryBatchTokens = 16_384

    private var maxBatchTokens: Int { maxBatchTokensFlag ?? batchTokensAlias ?? 4096 }

    func run() throws {
        let pool = ComputePool(threadCount: computeThreads ?? threadsAlias ?? ComputePool.availableProcessorCount)
        let loadStart = Date()
        let embedder = try SentenceEmbedder(directory: modelDirectory, pool: pool, precision: dtype)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        print(
            String(
                format: "loaded %@ weights in %.1f s on %d threads; %@", dtype.rawValue, loadSeconds, pool.threadCount,
                residentMemory()))

        var generator = SplitMix(seed: 42)
        // Synthetic ids from 300 on, within the vocabulary (EmbeddingGemma's: 300..<200_300, as before).
        let idRange = UInt64(min(200_000, embedder.info.vocabularySize - 300))
        if latency {
            try measureLatency(embedder: embedder, generator: &generator, idRange: idRange)
            return
        }
        for (label, requested) in corpusOnly ? [] : [("short", 16), ("medium", 128), ("long", 1024)] {
            let length = min(requested, embedder.info.maxSequenceLength)
            let count = max(1, maxBatchTokens / length)
            let batch = (0..<count).map { _ in
                [2] + (0..<length - 2).map { _ in Int32(300 + generator.next() % idRange) } + [1]
            }
            measure(label: "\(label) (\(length) tokens × \(count))", batches: [batch], embedder: embedder)
        }
        if let corpusIDs {
            let sequences = try String(contentsOfFile: corpusIDs, encoding: .utf8).split(separator: "\n").map { line in
                let elements = (try? JSONValue.parse(Array(line.utf8)))?["ids"]?.arrayValue
                let ids = (elements ?? []).compactMap { $0.intValue.flatMap { Int32(exactly: $0) } }
                guard let elements, ids.count == elements.count else {
                    throw ValidationError("\(corpusIDs): a line without an \"ids\" array")
                }
                return ids
            }
            measureCorpus(sequences, embedder: embedder)
        }
        if let queryIDs {
            let ids = try queryIDs.split(separator: ",").map { text in
                guard let id = Int32(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--query-ids: \(text) is not a token id")
                }
                return id
            }
            try measureAlone(ids, embedder: embedder)
        }
        guard corpus != nil || query != nil else {
            print("after the runs: \(residentMemory())")
            return
        }
        let tokenizer = try Tokenizer(directory: modelDirectory)
        if let corpus {
            let texts = try String(contentsOfFile: corpus, encoding: .utf8).split(separator: "\n").map { line in
                guard let text = JSONLines.text(inLine: String(line)) else {
                    throw ValidationError("\(corpus): a line without a \"text\" string")
                }
                return text
            }
            let sequences = texts.map {
                tokenizer.encode(
                    $0, addSpecialTokens: true, maxLength: embedder.info.maxSequenceLength, direction: .right
                ).ids
            }
            measureCorpus(sequences, embedder: embedder)
        }
        if let query {
            let ids = tokenizer.encode(
                query, addSpecialTokens: true, maxLength: embedder.info.maxSequenceLength,
                direction: .right
            ).ids
            try measureAlone(ids, embedder: embedder)
        }
        print("after the runs: \(residentMemory())")
    }

    /// Packs `sequences` in order into batches of at most `maxBatchTokens` tokens and measures them.
    private func measureCorpus(_ sequences: [[Int32]], embedder: SentenceEmbedder) {
        var batches: [[[Int32]]] = [[]]
        var tokens = 0
        for sequence in sequences {
            if tokens + sequence.count > maxBatchTokens, !batches[batches.count - 1].isEmpty {
                batches.append([])
                tokens = 0
            }
            batches[batches.count - 1].append(sequence)
            tokens += sequence.count
        }
        let total = sequences.reduce(0) { $0 + $1.count }
        measure(
            label: "corpus (\(sequences.count) texts, \(total) tokens, \(batches.count) batches)",
            batches: batches, embedder: embedder)
    }

    /// Embeds one sequence alone, 10 times to warm up and then `queryRuns` times, and prints p50, p90 and min.
    private func measureAlone(_ ids: [Int32], embedder: SentenceEmbedder) throws {
        for _ in 0..<10 { _ = try embedder.embed([ids]) }
        var milliseconds: [Double] = []
        for _ in 0..<max(1, queryRuns) {
            if queryGapMilliseconds > 0 { usleep(UInt32(queryGapMilliseconds * 1000)) }
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try embedder.embed([ids])
            milliseconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        milliseconds.sort()
        let p90 = milliseconds[min(milliseconds.count - 1, milliseconds.count * 9 / 10)]
        print(
            String(
                format: "query alone (%d tokens, %@, %d runs): p50 %.2f ms, p90 %.2f ms, min %.2f ms", ids.count,
                dtype.rawValue, milliseconds.count, milliseconds[milliseconds.count / 2], p90, milliseconds[0]))
    }

    /// The --latency mode: one query alone (`--query`, else `queryTokens` synthetic ids), then one packed batch of
    /// `memoryBatchTokens` tokens in sequences of 1024 and the resident memory it leaves.
    private func measureLatency(embedder: SentenceEmbedder, generator: inout SplitMix, idRange: UInt64) throws {
        if let query {
            let tokenizer = try Tokenizer(directory: modelDirectory)
            try measureAlone(
                tokenizer.encode(
                    query, addSpecialTokens: true, maxLength: embedder.info.maxSequenceLength,
                    direction: .right
                ).ids, embedder: embedder)
        } else {
            guard queryTokens >= 2 else { throw ValidationError("--query-tokens must be at least 2 (BOS and EOS)") }
            let ids = [2] + (0..<queryTokens - 2).map { _ in Int32(300 + generator.next() % idRange) } + [1]
            try measureAlone(ids, embedder: embedder)
        }
        guard memoryBatchTokens > 0 else { return }
        let sequenceTokens = min(1024, embedder.info.maxSequenceLength)
        let batch = stride(from: 0, to: memoryBatchTokens, by: sequenceTokens).map { start in
            let length = min(sequenceTokens, memoryBatchTokens - start)
            return [2] + (0..<max(0, length - 2)).map { _ in Int32(300 + generator.next() % idRange) } + [1]
        }
        let start = Date()
        _ = try embedder.embed(batch)
        print(
            String(
                format: "one packed batch of %d tokens in %.1f s; %@", memoryBatchTokens,
                Date().timeIntervalSince(start),
                residentMemory()))
    }

    /// Runs `batches` once to warm up, then repeatedly for at least `minimumSeconds`, and prints tokens/s.
    private func measure(label: String, batches: [[[Int32]]], embedder: SentenceEmbedder) {
        let tokensPerRound = batches.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        do {
            for batch in batches { _ = try embedder.embed(batch) }
            var rounds = 0
            let start = Date(), startCPU = processCPUSeconds()
            repeat {
                for batch in batches { _ = try embedder.embed(batch) }
                rounds += 1
            } while Date().timeIntervalSince(start) < minimumSeconds
            let seconds = Date().timeIntervalSince(start), cpuSeconds = processCPUSeconds() - startCPU
            let tokens = Double(tokensPerRound * rounds)
            // Tokens per CPU-second tells what the code does when other processes share the cores.
            print(
                String(
                    format: "%@: %.0f tokens/s (%.2f s per round, %d rounds; %.0f tokens per CPU-second)", label,
                    tokens / seconds, seconds / Double(rounds), rounds, tokens / cpuSeconds))
        } catch {
            print("\(label): failed: \(error)")
        }
    }
}

/// User + system CPU time of this process so far.
private func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// VmRSS (and its anonymous / file-backed parts) from /proc/self/status.
private func residentMemory() -> String {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
        return "resident memory unknown (no /proc/self/status)"
    }
    let fields = ["VmRSS", "RssAnon", "RssFile"].compactMap { name in
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().joined(separator: " ") }
            .map { "\(name) \($0)" }
    }
    return fields.joined(separator: ", ")
}

/// A small deterministic generator for synthetic token ids.
private struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// Kernels does not depend on ArgumentParser; the raw values (float32, bfloat16) are the option's spellings.
extension WeightPrecision: ExpressibleByArgument {}
