import ArgumentParser

/// The `embed-server` command: serves EmbeddingGemma over HTTP, or embeds and tokenizes offline.
struct EmbedServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed-server",
        abstract: "A TEI- and OpenAI-compatible embedding server for EmbeddingGemma, in pure Swift.",
        subcommands: [ServeCommand.self, EmbedCommand.self, TokenizeCommand.self, SettingsDocsCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
