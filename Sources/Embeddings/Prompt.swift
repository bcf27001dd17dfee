/// The instruction put in front of a text before it is tokenized, as sentence-transformers applies it.
///
/// EmbeddingGemma is trained with one prompt per task: `"task: search result | query: "` for search queries,
/// `"title: none | text: "` for the documents they search, and others listed in ``Embedder/Info/prompts``. Queries
/// and documents embedded with their matching prompts rank better than either without.
public enum Prompt: Sendable, Hashable {
    /// The model's default prompt (`default_prompt_name` in `config_sentence_transformers.json`), or none when the
    /// model names none, as EmbeddingGemma does.
    case modelDefault
    /// No prompt: the text is embedded as given.
    case none
    /// One of the model's prompts by name, such as `"query"`, `"document"` or `"STS"`.
    case named(String)
    /// Literal prompt text, put in front of the input as is.
    case text(String)
}

/// A model's prompts and the rules for picking one. The library and the HTTP API both look prompts up here, so a
/// `prompt_name` on the server and a ``Prompt/named(_:)`` in process give the same text.
package struct PromptCatalog: Sendable, Equatable {
    /// Prompt name → text.
    package let prompts: [String: String]
    /// The prompt applied when none is asked for (checked at load to be a key of `prompts`).
    package let defaultName: String?

    package init(prompts: [String: String], defaultName: String? = nil) {
        self.prompts = prompts
        self.defaultName = defaultName
    }

    /// The text to put in front of an input for `prompt`; nil for no prompt.
    package func text(for prompt: Prompt) throws(EmbeddingsError) -> String? {
        switch prompt {
        case .modelDefault:
            return defaultName.flatMap { prompts[$0] }
        case .none:
            return nil
        case .text(let text):
            return text
        case .named(let name):
            guard let text = prompts[name] else {
                throw .unknownPrompt(name: name, available: prompts.keys.sorted())
            }
            return text
        }
    }

    /// The text that is tokenized: the prompt immediately followed by the input (no separator, as in
    /// sentence-transformers, whose prompts end in a space).
    package static func apply(_ prompt: String?, to text: String) -> String {
        guard let prompt else { return text }
        return prompt + text
    }
}
