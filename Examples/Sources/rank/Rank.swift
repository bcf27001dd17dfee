import Embeddings
import Foundation

/// Embeds a few documents and a query with EmbeddingGemma and prints the documents, most similar first.
///
/// Usage: `rank [QUERY]`. The model is `EMBED_MODEL` (a directory or a Hugging Face id), else `EMBED_MODEL_DIR`,
/// else `google/embeddinggemma-300m` from the Hugging Face cache (downloaded there if missing).
@main
struct Rank {
    static let documents = [
        "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
        "Venus is often called Earth's twin because of its similar size and proximity.",
        "Jupiter, the largest planet in our solar system, has a prominent red spot.",
        "Saturn, famous for its rings, is sometimes mistaken for the Red Planet.",
        "The weather is beautiful today.",
    ]

    static func main() async {
        let environment = ProcessInfo.processInfo.environment
        let model = environment["EMBED_MODEL"] ?? environment["EMBED_MODEL_DIR"] ?? "google/embeddinggemma-300m"
        let arguments = CommandLine.arguments.dropFirst()
        let query = arguments.isEmpty ? "Which planet is known as the Red Planet?" : arguments.joined(separator: " ")
        do {
            let embedder = try await Embedder.load(modelID: model) { step in print(step) }
            print(
                "loaded \(embedder.directory.path): \(embedder.info.dimensions) dimensions, \(embedder.computeThreads) threads"
            )
            // EmbeddingGemma's retrieval prompts: one for what is searched, one for what searches.
            async let documentVectors = embedder.embed(documents, prompt: .named("document"))
            async let queryVector = embedder.embed(query, prompt: .named("query"))
            let (vectors, target) = try await (documentVectors, queryVector)
            print("query: \(query)")
            let ranked = zip(documents, vectors).map { (text: $0, score: cosineSimilarity(target, $1)) }
                .sorted { $0.score > $1.score }
            for (rank, document) in ranked.enumerated() {
                print("\(rank + 1). \(String(format: "%.4f", document.score))  \(document.text)")
            }
        } catch {
            FileHandle.standardError.write(Data("rank: \(error)\n".utf8))
            exit(1)
        }
    }
}
