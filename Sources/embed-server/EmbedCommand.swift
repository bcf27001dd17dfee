import ArgumentParser
import EmbeddingModel
import Foundation
import Kernels
import ModelHub
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
            truncated (keeping <bos> and <eos>). A progress bar is drawn on standard error when it is a terminal.
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
        let directory = try Self.modelDirectory(settings.modelID)
        let tokenizer = try Tokenizer(directory: directory)
        let embedder = try SentenceEmbedder(
            directory: directory, pool: ComputePool(threadCount: settings.computeThreads),
            precision: settings.dtype)
        let info = embedder.info
        if info.labels != nil {
            throw ValidationError(
                "\(settings.modelID) is a classifier (a cross-encoder): serve it for /rerank and /predict")
        }
        if let dimensions, dimensions > info.embeddingDimensions {
            throw ValidationError("--dimensions \(dimensions) is larger than the model's \(info.embeddingDimensions)")
        }
        let prompt: String
        if let name = promptName ?? info.defaultPromptName {
            guard let text = info.prompts[name] else {
                let known = info.prompts.keys.sorted().joined(separator: ", ")
                throw ValidationError(
                    "unknown --prompt-name \(name); the model's prompts are: \(known.isEmpty ? "none" : known)")
            }
            prompt = text
        } else {
            prompt = ""
        }

        let reader = try LineReader(path: input)
        guard let output = fdopen(1, "wb") else { throw EmbedCommandError("cannot write standard output") }
        var progress = Progress(totalBytes: reader.totalBytes)
        let job = EmbedJob(
            tokenizer: tokenizer, embedder: embedder, prompt: prompt, dimensions: dimensions,
            normalize: !noNormalize, maxBatchTokens: settings.maxBatchTokens)
        try job.run(
            next: reader.next, write: { fputs($0, output) },
            batchDone: { texts, tokens in
                progress.advance(texts: texts, tokens: tokens, bytesRead: reader.bytesRead)
            })
        fflush(output)
        progress.finish()
    }

    /// An existing directory as given, else a Hugging Face id looked up in the cache (downloaded when missing).
    static func modelDirectory(_ modelID: String) throws -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: modelID, isDirectory: &isDirectory), isDirectory.boolValue {
            return modelID
        }
        let hub = ModelHub()
        do {
            return try hub.resolve(modelID: modelID) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }.path
        } catch {
            throw EmbedCommandError(
                "cannot find model \(modelID): \(error). Pass a model directory, or run scripts/fetch-model.sh")
        }
    }
}

/// Tokenizes input lines, embeds them in packed batches and writes one JSON line per input, in input order.
struct EmbedJob {
    let tokenizer: Tokenizer
    let embedder: SentenceEmbedder
    /// Prepended to every text before tokenization.
    let prompt: String
    let dimensions: Int?
    let normalize: Bool
    let maxBatchTokens: Int

    /// Reads lines from `next` until it returns nil; `batchDone(texts, tokens)` follows each embedded batch.
    func run(next: () -> String?, write: (String) -> Void, batchDone: (Int, Int) -> Void = { _, _ in }) throws {
        let info = embedder.info
        var batch: [[Int32]] = []
        var batchTokens = 0
        var lineNumber = 0

        func flush() throws {
            if batch.isEmpty { return }
            for raw in try embedder.embed(batch) {
                let embedding = finalizeEmbedding(raw, dimensions: dimensions, normalize: normalize)
                write("{\"embedding\":[" + embedding.map { "\($0)" }.joined(separator: ",") + "]}\n")
            }
            batchDone(batch.count, batchTokens)
            batch.removeAll(keepingCapacity: true)
            batchTokens = 0
        }

        while let line = next() {
            lineNumber += 1
            let text = JSONLines.text(inLine: line) ?? line
            let ids = tokenizer.encode(
                prompt + text, addSpecialTokens: true, maxLength: info.maxSequenceLength,
                direction: .right
            ).ids
            if let bad = ids.first(where: { Int($0) >= info.vocabularySize }) {
                throw EmbedCommandError(
                    "input line \(lineNumber): token \(tokenizer.token(forID: bad) ?? "?") (id \(bad)) has no embedding in this model"
                )
            }
            if batchTokens + ids.count > maxBatchTokens { try flush() }
            batch.append(ids)
            batchTokens += ids.count
        }
        try flush()
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
