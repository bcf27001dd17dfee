// bench-tokenizer TOKENIZER_DIR CORPUS.jsonl: load time, then encode throughput on one thread for the corpus texts
// one by one and for one long document (the corpus joined with spaces: a single BPE segment). Run by
// scripts/bench/bench-tokenizer, which pins it to one core and prints the Python `tokenizers` figures next to it.
import Foundation
import JSON
import Tokenizers

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: bench-tokenizer TOKENIZER_DIR CORPUS.jsonl\n".utf8))
    exit(2)
}
let clock = ContinuousClock()

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// CPU time of this thread: on a shared machine it says more than the wall clock.
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// Loads `count` times; prints the median wall and thread-CPU seconds; returns the last tokenizer.
func measureLoad(_ label: String, count: Int, _ load: () throws -> Tokenizer) throws -> Tokenizer {
    var wall: [Double] = []
    var cpu: [Double] = []
    var tokenizer: Tokenizer?
    for _ in 0..<count {
        let start = clock.now
        let cpuStart = threadCPUSeconds()
        tokenizer = try load()
        cpu.append(threadCPUSeconds() - cpuStart)
        wall.append(seconds(clock.now - start))
    }
    print(
        String(
            format: "swift  load tokenizer.json, %@: median of %d %.3f s (thread CPU %.3f s)", label, count,
            wall.sorted()[count / 2], cpu.sorted()[count / 2]))
    return tokenizer!
}

let jsonPath = arguments[1] + "/tokenizer.json"
_ = try measureLoad("parsing the JSON (no cache)", count: 3) {
    try Tokenizer(tokenizerJSONPath: jsonPath, cacheDirectory: nil)
}
// The first default load writes the cache next to the file if it is missing or stale.
let warmed = try Tokenizer(directory: arguments[1])
let tokenizer = try measureLoad(
    warmed.loadedFromCache || (try Tokenizer(directory: arguments[1])).loadedFromCache
        ? "from the binary table cache" : "no table cache (a WordPiece model, or not writable), parsing",
    count: 5
) { try Tokenizer(directory: arguments[1]) }

let corpusData = try Data(contentsOf: URL(fileURLWithPath: arguments[2]))
let texts = corpusData.split(separator: 0x0A).compactMap { JSONLines.text(inLine: String(decoding: $0, as: UTF8.self)) }
let corpusBytes = texts.reduce(0) { $0 + $1.utf8.count }

/// Encodes `texts` in passes for at least `minimumSeconds` of wall time; returns (passes, wall seconds, tokens per
/// pass, thread CPU seconds).
func measure(_ tokenizer: Tokenizer, _ texts: [String], minimumSeconds: Double) -> (Int, Double, Int, Double) {
    var tokensPerPass = 0
    // No limit: a file's own truncation (all-MiniLM-L6-v2's cuts at 128) would hide most of the work measured.
    for text in texts { tokensPerPass += tokenizer.encode(text, maxLength: nil, direction: .right).ids.count }
    var passes = 0
    let start = clock.now
    let cpuStart = threadCPUSeconds()
    var elapsed = 0.0
    while elapsed < minimumSeconds {
        for text in texts { _ = tokenizer.encode(text, maxLength: nil, direction: .right) }
        passes += 1
        elapsed = seconds(clock.now - start)
    }
    return (passes, elapsed, tokensPerPass, threadCPUSeconds() - cpuStart)
}

func report(_ label: String, bytes: Int, _ result: (Int, Double, Int, Double)) {
    let (passes, elapsed, tokens, cpu) = result
    print(
        String(
            format: "swift  %@: %.2f MB/s, %.0f tokens/s (%d passes, %.2f s; per CPU second: %.2f MB/s, %.0f tokens/s)",
            label, Double(bytes * passes) / elapsed / 1e6, Double(tokens * passes) / elapsed, passes, elapsed,
            Double(bytes * passes) / cpu / 1e6, Double(tokens * passes) / cpu))
}

report(
    "corpus (\(texts.count) texts, \(corpusBytes) bytes)", bytes: corpusBytes,
    measure(tokenizer, texts, minimumSeconds: 3))
let longDocument = texts.joined(separator: " ")
report(
    "long document (\(longDocument.utf8.count) bytes, one segment)", bytes: longDocument.utf8.count,
    measure(tokenizer, [longDocument], minimumSeconds: 3))
