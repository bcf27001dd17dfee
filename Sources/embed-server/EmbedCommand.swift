import ArgumentParser
import Embeddings
import Foundation
import JSON
import Kernels
import Tokenizers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `embed-server embed`: embeds texts offline, one JSON line `{"embedding": […]}` per input line, in input order.
struct EmbedCommand: ParsableCommand, SettingsSubcommand {
    static let subcommand = Subcommand.embed

    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed texts offline, one JSON line {\"embedding\": [...]} per input line.",
        discussion: """
            Each input line is a text, or a JSON object {"text": "..."} (so a text may hold newlines). Inputs are \
            packed into batches of up to --max-batch-tokens tokens; texts longer than the model's max_seq_length are \
            truncated (keeping the special tokens). A progress bar is drawn on standard error when it is a terminal.
            """
    )

    @OptionGroup var model: ModelOptions<EmbedCommand>

    @Option(
        name: .customLong("prompt-name"),
        help:
            "Prompt from config_sentence_transformers.json prepended to every text (default: the model's default_prompt_name, if any)."
    )
    var promptName: String?

    @Option(help: "Keep the first N dimensions (Matryoshka), 1 to the model's embedding size.")
    var dimensions: Int?

    @Flag(name: .customLong("no-normalize"), help: "Write the raw vectors instead of L2-normalised ones.")
    var noNormalize = false

    @Option(help: "Read texts from this file instead of standard input.")
    var input: String?

    @OptionGroup var compute: ComputeOptions<EmbedCommand>

    /// The shared settings, from the flags alone (embed reads no environment variables or config file), checked
    /// as serve checks them.
    struct Resolved {
        var modelID: String
        var dtype: WeightPrecision
        var maxBatchTokens: Int
        var computeThreads: Int
    }

    func resolved() throws -> Resolved {
        var flags = FlagValues()
        model.record(into: &flags)
        compute.record(into: &flags)
        let sources = SettingSources(flags: flags.values)
        do {
            guard let modelID = try sources.resolve(Settings.modelID, for: .embed) else {
                throw ValidationError("Missing expected argument '--model-id <MODEL_ID>'")
            }
            return Resolved(
                modelID: modelID, dtype: try sources.resolve(Settings.dtype, for: .embed),
                maxBatchTokens: try sources.resolve(Settings.maxBatchTokens, for: .embed),
                computeThreads: try sources.resolve(Settings.computeThreads, for: .embed))
        } catch let error as SettingsError {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        if let dimensions, dimensions < 1 {
            throw ValidationError("--dimensions must be at least 1, got \(dimensions)")
        }
        _ = try resolved()
    }

    func run() throws {
        let settings = try resolved()
        let options = Embedder.Options(
            precision: settings.dtype == .bfloat16 ? .bfloat16 : .float32, computeThreads: settings.computeThreads,
            maxBatchTokens: settings.maxBatchTokens)
        let (promptName, dimensions, normalize, input) = (promptName, dimensions, !noNormalize, input)
        let done = DispatchSemaphore(value: 0)
        let outcome = EmbedOutcome()
        // The library's entry points are async; the command blocks its main thread on them as `serve` does.
        Task {
            do {
                let embedder = try await Embedder.load(
                    modelID: settings.modelID, hub: Embedder.Hub(), options: options,
                    progress: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
                let info = embedder.info
                if case .classifier = info.kind {
                    throw ValidationError(
                        "\(settings.modelID) is a classifier (a cross-encoder): serve it for /rerank and /predict")
                }
                if let dimensions, dimensions > info.dimensions {
                    throw ValidationError("--dimensions \(dimensions) is larger than the model's \(info.dimensions)")
                }
                let prompt: Prompt
                if let name = promptName {
                    guard info.prompts[name] != nil else {
                        let known = info.prompts.keys.sorted().joined(separator: ", ")
                        throw ValidationError(
                            "unknown --prompt-name \(name); the model's prompts are: \(known.isEmpty ? "none" : known)")
                    }
                    prompt = .named(name)
                } else {
                    prompt = .modelDefault
                }
                let reader = try LineReader(path: input)
                guard let output = fdopen(1, "wb") else { throw EmbedCommandError("cannot write standard output") }
                var progress = Progress(totalBytes: reader.totalBytes)
                let job = EmbedJob(embedder: embedder, prompt: prompt, dimensions: dimensions, normalize: normalize)
                try await job.run(
                    next: reader.next, write: { fputs($0, output) },
                    batchDone: { texts, tokens in
                        progress.advance(texts: texts, tokens: tokens, bytesRead: reader.bytesRead)
                    }, countTokens: progress.enabled)
                fflush(output)
                progress.finish()
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}

/// Carries the embedding task's failure back to the blocked main thread.
private final class EmbedOutcome: @unchecked Sendable {
    // Written by the task before it signals the semaphore, read by the main thread after the wait.
    var error: (any Error)?
}

/// Reads input lines, embeds them through the library and writes one JSON line per input, in input order.
struct EmbedJob {
    let embedder: Embedder
    let prompt: Prompt
    let dimensions: Int?
    let normalize: Bool
    /// Texts per library call. The library packs each call's texts into forward passes of `maxBatchTokens`; a few
    /// hundred keep those passes full while one call's vectors stay small (256 × 768 floats: 0.8 MB).
    var textsPerCall = 256

    /// Reads lines from `next` until it returns nil; `batchDone(texts, tokens)` follows each library call (tokens
    /// counted only when `countTokens`, for the progress display: it tokenizes each text a second time).
    func run(
        next: () -> String?, write: (String) -> Void, batchDone: (Int, Int) -> Void = { _, _ in },
        countTokens: Bool = false
    ) async throws {
        var texts: [String] = []
        var firstLine = 1
        var lineNumber = 0

        func flush() async throws {
            if texts.isEmpty { return }
            let vectors: [[Float]]
            do {
                vectors = try await embedder.embed(texts, prompt: prompt, dimensions: dimensions, normalize: normalize)
            } catch {
                throw EmbedCommandError(Self.describe(error, firstLine: firstLine))
            }
            for vector in vectors {
                write("{\"embedding\":[" + vector.map { "\($0)" }.joined(separator: ",") + "]}\n")
            }
            let tokens =
                countTokens ? texts.reduce(0) { $0 + ((try? embedder.tokenize($1, prompt: prompt).ids.count) ?? 0) } : 0
            batchDone(texts.count, tokens)
            texts.removeAll(keepingCapacity: true)
            firstLine = lineNumber + 1
        }

        while let line = next() {
            lineNumber += 1
            texts.append(JSONLines.text(inLine: line) ?? line)
            if texts.count == textsPerCall { try await flush() }
        }
        try await flush()
    }

    /// The library's error with its input index turned into the input line number.
    private static func describe(_ error: EmbeddingsError, firstLine: Int) -> String {
        switch error {
        case .tokenOutsideVocabulary(let index, let id, let vocabularySize):
            "input line \(firstLine + index): token id \(id) has no embedding in this model (vocabulary of \(vocabularySize))"
        case .emptyInput(let index):
            "input line \(firstLine + index) has no tokens to embed"
        case .inputTooLong(let index, let tokens, let maxTokens):
            "input line \(firstLine + index) has \(tokens) tokens; the model takes at most \(maxTokens)"
        default:
            error.description
        }
    }
}

/// A failure while embedding (as opposed to a bad flag): printed without the usage text.
struct EmbedCommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}

/// Lines of a file or of standard input, without their LF or CRLF ending.
private final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0
    /// Size of the input file, or nil for standard input.
    let totalBytes: Int?
    private(set) var bytesRead = 0

    init(path: String?) throws {
        if let path {
            guard let file = fopen(path, "rb") else {
                throw EmbedCommandError("cannot open --input \(path): \(String(cString: strerror(errno)))")
            }
            self.file = file
            ownsFile = true
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            totalBytes = size
        } else {
            // fdopen rather than the C `stdin` global, which Swift 6 rejects as shared mutable state.
            guard let file = fdopen(0, "rb") else { throw EmbedCommandError("cannot read standard input") }
            self.file = file
            ownsFile = false
            totalBytes = nil
        }
    }

    deinit {
        free(buffer)
        if ownsFile { fclose(file) }
    }

    /// The next line decoded as UTF-8 (invalid bytes become U+FFFD), or nil at the end of the input.
    func next() -> String? {
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else { return nil }
        bytesRead += length
        var bytes = UnsafeBufferPointer(
            start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: length)
        if bytes.last == 0x0A { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
        if bytes.last == 0x0D { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A one-line progress display on standard error, drawn only when it is a terminal and the job is not tiny.
private struct Progress {
    /// Below this much work (seconds), a bar would only flicker.
    static let quietSeconds = 1.0

    let totalBytes: Int?
    let enabled = isatty(2) == 1
    let start = Date()
    var texts = 0
    var tokens = 0
    var drawn = false

    init(totalBytes: Int?) {
        self.totalBytes = totalBytes
    }

    mutating func advance(texts newTexts: Int, tokens newTokens: Int, bytesRead: Int) {
        texts += newTexts
        tokens += newTokens
        let seconds = Date().timeIntervalSince(start)
        guard enabled, seconds >= Self.quietSeconds else { return }
        let rate = String(format: "%.0f tokens/s", Double(tokens) / seconds)
        var line = "\(texts) texts, \(rate)"
        if let totalBytes, totalBytes > 0 {
            let fraction = min(1, Double(bytesRead) / Double(totalBytes))
            let width = 30, filled = Int(fraction * Double(width))
            line =
                "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                + String(format: "%3.0f%% ", fraction * 100) + line
        }
        FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
        drawn = true
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
