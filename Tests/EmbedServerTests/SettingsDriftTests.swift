import Foundation
import Testing

@testable import embed_server

/// A file of the repository, read as text.
private func repositoryFile(_ path: String) throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../" + path)
    return try String(contentsOf: url, encoding: .utf8)
}

/// The parts of ArgumentParser's `--experimental-dump-help` JSON that --help shows.
private struct DumpedHelp: Decodable {
    struct Command: Decodable { let arguments: [Argument] }
    struct Argument: Decodable {
        struct Name: Decodable { let kind: String, name: String }
        let shouldDisplay: Bool
        let names: [Name]?
        let valueName: String?
        let abstract: String?
        let kind: String
    }
    let command: Command

    /// The options --help shows, but its own `--help`.
    var shownOptions: [Argument] {
        command.arguments.filter { $0.shouldDisplay && !($0.names ?? []).contains { $0.name == "help" } }
    }

    static func of(_ json: String) throws -> DumpedHelp {
        try JSONDecoder().decode(DumpedHelp.self, from: Data(json.utf8))
    }
}

/// The long and short flags of a dumped option, spelled as on the command line.
private func spelled(_ argument: DumpedHelp.Argument) -> [String] {
    (argument.names ?? []).map { $0.kind == "short" ? "-\($0.name)" : "--\($0.name)" }
}

/// The first line where `file` differs from `rendered`, as a message; nil when they are equal.
private func firstDifference(_ file: String, _ rendered: String, in path: String) -> String? {
    let fileLines = file.components(separatedBy: "\n")
    let renderedLines = rendered.components(separatedBy: "\n")
    for index in 0..<max(fileLines.count, renderedLines.count) {
        let have = index < fileLines.count ? fileLines[index] : "(end of file)"
        let want = index < renderedLines.count ? renderedLines[index] : "(end of file)"
        guard have != want else { continue }
        return """
            \(path):\(index + 1) differs from Sources/embed-server/Settings.swift (run \
            `swift run embed-server settings --write`):
              file:         \(have)
              declarations: \(want)
            """
    }
    return nil
}

@Suite("settings: docs, config file and --help follow the declarations")
struct SettingsDriftTests {
    @Test("docs/configuration.md's settings tables are the ones rendered from Settings")
    func markdownTables() throws {
        let document = try repositoryFile(SettingsDocument.markdownPath)
        let updated = try #require(
            SettingsDocument.updating(markdownDocument: document), "the generated part's marker lines are missing")
        let difference = firstDifference(document, updated, in: SettingsDocument.markdownPath)
        #expect(difference == nil, "\(difference ?? "")")
    }

    @Test("config/embed-server.conf is the one rendered from Settings, and every line of it is a comment")
    func configFile() throws {
        let text = try repositoryFile(SettingsDocument.configFilePath)
        let difference = firstDifference(text, SettingsDocument.configFile(), in: SettingsDocument.configFilePath)
        #expect(difference == nil, "\(difference ?? "")")
        #expect(try SettingSources.parseConfigFile(text, path: "embed-server.conf").isEmpty)
        let shown = text.split(separator: "\n").filter { $0.hasPrefix("# ") && $0.contains("=") }.compactMap {
            SettingSources.setting(forConfigKey: String($0.dropFirst(2).prefix { $0 != "=" }))
        }
        #expect(shown.count > 25)
    }

    @Test("serve --help shows exactly the declared, visible settings, in order, with their names and help")
    func serveHelp() throws {
        let shown = try DumpedHelp.of(ServeCommand._dumpHelp()).shownOptions
        let declared = SettingsDocument.documented
        #expect(
            shown.map { spelled($0).sorted() }
                == declared.map { (["--\($0.flag)"] + ($0.short.map { ["-\($0)"] } ?? [])).sorted() })
        for (argument, setting) in zip(shown, declared) {
            #expect(argument.abstract == setting.helpText(for: .serve), "--\(setting.flag)")
            #expect(argument.kind == (setting.isFlag ? "flag" : "option"), "--\(setting.flag)")
            if !setting.isFlag { #expect(argument.valueName == setting.valueName, "--\(setting.flag)") }
        }
    }

    @Test("embed --help shows the settings it shares with serve, with embed's help and defaults")
    func embedHelp() throws {
        let shown = try DumpedHelp.of(EmbedCommand._dumpHelp()).shownOptions
        let shared = Settings.all.filter { $0.subcommands.contains(.embed) }
        #expect(shared.map(\.flag) == ["model-id", "dtype", "max-batch-tokens", "compute-threads"])
        for setting in shared {
            let argument = try #require(shown.first { spelled($0) == ["--\(setting.flag)"] }, "--\(setting.flag)")
            #expect(argument.abstract == setting.helpText(for: .embed))
        }
        #expect(Settings.maxBatchTokens.info.helpText(for: .embed).contains("(default 8192)"))
        #expect(!shown.flatMap(spelled).contains("--threads") && !shown.flatMap(spelled).contains("--batch-tokens"))
    }

    @Test("each setting has one key, one flag and one section entry; hidden ones stay out of the docs")
    func declarationsAreUnique() {
        let keys = Settings.all.map(\.key)
        let flags = Settings.all.flatMap { [$0.flag] + $0.aliases }
        #expect(Set(keys).count == keys.count)
        #expect(Set(flags).count == flags.count)
        #expect(Settings.all.allSatisfy { $0.subcommands.first == .serve })
        let hidden = Settings.all.filter(\.isHidden).map(\.key)
        #expect(hidden == ["HF_API_TOKEN", "DISABLE_SPANS", "OTLP_ENDPOINT", "OTLP_SERVICE_NAME"])
        for key in hidden {
            #expect(!SettingsDocument.markdown().contains("`\(key)`") && !SettingsDocument.configFile().contains(key))
        }
    }

    @Test("the settings subcommand that renders them is hidden, and takes one of its three actions")
    func settingsSubcommand() throws {
        #expect(!EmbedServer.helpMessage().contains("settings"))
        #expect(try EmbedServer.parseAsRoot(["settings", "--markdown"]) is SettingsDocsCommand)
        #expect(throws: (any Error).self) { try EmbedServer.parseAsRoot(["settings"]) }
        #expect(throws: (any Error).self) { try EmbedServer.parseAsRoot(["settings", "--markdown", "--write"]) }
    }
}
