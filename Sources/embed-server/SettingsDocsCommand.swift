import ArgumentParser
import Foundation

/// `embed-server settings` (hidden): prints or rewrites the generated settings docs, so that they follow
/// `Settings` (EmbedServerTests fail while they differ).
struct SettingsDocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Print or rewrite docs/configuration.md's settings tables and config/embed-server.conf.",
        shouldDisplay: false)

    @Flag(help: "Print the settings tables of docs/configuration.md.")
    var markdown = false
    @Flag(help: "Print config/embed-server.conf.")
    var configFile = false
    @Flag(help: "Rewrite both files under the current directory (the repository's root).")
    var write = false

    func validate() throws {
        if [markdown, configFile, write].filter({ $0 }).count != 1 {
            throw ValidationError("give one of --markdown, --config-file and --write")
        }
    }

    func run() throws {
        if markdown { print(SettingsDocument.markdown(), terminator: "") }
        if configFile { print(SettingsDocument.configFile(), terminator: "") }
        guard write else { return }
        let document = try String(contentsOfFile: SettingsDocument.markdownPath, encoding: .utf8)
        guard let updated = SettingsDocument.updating(markdownDocument: document) else {
            throw ValidationError(
                "\(SettingsDocument.markdownPath) lacks the lines \(SettingsDocument.beginMarker) and "
                    + SettingsDocument.endMarker)
        }
        try updated.write(toFile: SettingsDocument.markdownPath, atomically: true, encoding: .utf8)
        try SettingsDocument.configFile().write(
            toFile: SettingsDocument.configFilePath, atomically: true, encoding: .utf8)
    }
}
