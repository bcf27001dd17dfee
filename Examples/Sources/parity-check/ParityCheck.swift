import Embeddings
import Foundation

/// One golden case: sentence-transformers' (and the server's) output for `text` with the prompt `prompt_name`.
struct GoldenCase: Decodable {
    let text: String
    let promptName: String?
    let ids: [Int]
    let normalized: [Float]

    enum CodingKeys: String, CodingKey {
        case text, ids, normalized
        case promptName = "prompt_name"
    }
}

/// One way of asking for a golden vector, and what must come back.
struct Check: Sendable {
    let label: String
    let text: String
    let prompt: Prompt
    let dimensions: Int?
    /// The golden normalized vector, cut to `dimensions`: a cut of a unit vector points where the renormalized cut
    /// does, so the cosine against it is the test.
    let expected: [Float]
}

/// Checks the library against the golden vectors the server is tested with, as a package outside the repository
/// would use it: every case is embedded through the public API with its prompt by name, then with the prompt as
/// literal text, then cut to a Matryoshka size, all calls at once from concurrent tasks. Exits 1 on any vector below
/// cosine 0.99999 or any token id that differs.
///
/// Usage: `parity-check GOLDEN.jsonl…`, with the model in `EMBED_MODEL_DIR` (a directory or a Hugging Face id).
@main
struct ParityCheck {
    static let minimumCosine: Float = 0.99999
    static let matryoshkaSizes = [512, 256, 128]

    static func main() async {
        let files = CommandLine.arguments.dropFirst()
        guard !files.isEmpty, let model = ProcessInfo.processInfo.environment["EMBED_MODEL_DIR"] else {
            fail("usage: EMBED_MODEL_DIR=MODEL parity-check GOLDEN.jsonl…")
        }
        do {
            let started = Date()
            let embedder = try await Embedder.load(modelID: model)
            var checks: [Check] = []
            var tokenMisses = 0
            for file in files {
                let cases = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
                    .map { try JSONDecoder().decode(GoldenCase.self, from: Data($0.utf8)) }
                for (index, golden) in cases.enumerated() {
                    let label = "\(URL(fileURLWithPath: file).lastPathComponent):\(index + 1)"
                    let prompt: Prompt = golden.promptName.map { .named($0) } ?? .modelDefault
                    if try embedder.tokenize(golden.text, prompt: prompt).ids != golden.ids {
                        print("MISS \(label): token ids differ from the golden ones")
                        tokenMisses += 1
                    }
                    checks += variants(of: golden, index: index, label: label, info: embedder.info)
                }
            }
            let cosines = try await withThrowingTaskGroup(of: (Int, Float).self) { group in
                for (index, check) in checks.enumerated() {
                    group.addTask {
                        let vector = try await embedder.embed(
                            check.text, prompt: check.prompt, dimensions: check.dimensions)
                        guard vector.count == check.expected.count else { return (index, -1) }
                        return (index, cosineSimilarity(vector, check.expected))
                    }
                }
                var cosines = [Float](repeating: -1, count: checks.count)
                for try await (index, cosine) in group { cosines[index] = cosine }
                return cosines
            }
            // A token with no embedding row is refused with its typed error, before it could fail a shared batch.
            var refusalMisses = 0
            do {
                _ = try await embedder.embed("look: <image_soft_token>")
                print("MISS <image_soft_token>: embedded instead of refused")
                refusalMisses += 1
            } catch .tokenOutsideVocabulary(_, let id, _) where id == 262_144 {
            } catch {
                print("MISS <image_soft_token>: \(error)")
                refusalMisses += 1
            }
            var vectorMisses = 0
            for (check, cosine) in zip(checks, cosines) where !(cosine >= minimumCosine) {
                print("MISS \(check.label): cosine \(cosine) < \(minimumCosine)")
                vectorMisses += 1
            }
            let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
            let minimum = String(format: "%.8f", cosines.min() ?? 0)
            print(
                "parity-check: \(checks.count - vectorMisses) of \(checks.count) vectors within cosine "
                    + "\(minimumCosine) (min \(minimum)), \(tokenMisses) token-id misses, \(refusalMisses) refusal "
                    + "misses, \(seconds) s")
            let misses = vectorMisses + tokenMisses + refusalMisses
            if misses > 0 { exit(1) }
        } catch {
            fail("parity-check: \(error)")
        }
    }

    /// The prompt by name (or the model's default), the same prompt as literal text, and a Matryoshka cut.
    static func variants(of golden: GoldenCase, index: Int, label: String, info: Embedder.Info) -> [Check] {
        let prompt: Prompt = golden.promptName.map { .named($0) } ?? .modelDefault
        var checks = [
            Check(label: label, text: golden.text, prompt: prompt, dimensions: nil, expected: golden.normalized)
        ]
        if let name = golden.promptName, let text = info.prompts[name] {
            checks.append(
                Check(
                    label: label + " literal prompt", text: golden.text, prompt: .text(text), dimensions: nil,
                    expected: golden.normalized))
        }
        let size = matryoshkaSizes[index % matryoshkaSizes.count]
        checks.append(
            Check(
                label: label + " dimensions \(size)", text: golden.text, prompt: prompt, dimensions: size,
                expected: Array(golden.normalized.prefix(size))))
        return checks
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
