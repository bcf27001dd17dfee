import Foundation

/// docs/configuration.md's settings tables and config/embed-server.conf, rendered from `Settings`: a test compares
/// the files with these, and `embed-server settings --write` rewrites them.
enum SettingsDocument {
    /// The lines around the generated part of docs/configuration.md; the prose outside them is written by hand.
    static let beginMarker =
        "<!-- Generated from Sources/embed-server/Settings.swift by `embed-server settings --write`; edit there. -->"
    static let endMarker = "<!-- End of the generated settings. -->"

    static let markdownPath = "docs/configuration.md"
    static let configFilePath = "config/embed-server.conf"

    /// The settings documented: all that serve's --help shows.
    static var documented: [SettingInfo] { Settings.all.filter { !$0.isHidden && $0.subcommands.contains(.serve) } }

    /// One table per section: flag, environment variable (also the config-file key), default, meaning.
    static func markdown() -> String {
        var lines: [String] = []
        for section in SettingSection.allCases {
            let settings = documented.filter { $0.section == section }
            guard !settings.isEmpty else { continue }
            if !lines.isEmpty { lines.append("") }
            lines += ["### \(section.rawValue)", ""]
            lines += ["| flag | environment | default | what it does |", "| --- | --- | --- | --- |"]
            for setting in settings {
                let cells = [flagCell(setting), "`\(setting.key)`", defaultCell(setting), meaningCell(setting)]
                lines.append(
                    "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `document` with the part between the markers replaced by `markdown()`; nil when a marker is missing.
    static func updating(markdownDocument document: String) -> String? {
        guard let begin = document.range(of: beginMarker + "\n"),
            let end = document.range(of: endMarker, range: begin.upperBound..<document.endIndex)
        else { return nil }
        return String(document[..<begin.upperBound]) + markdown() + String(document[end.lowerBound...])
    }

    /// The example config file: every setting it may hold, commented out, with its help and default.
    static func configFile() -> String {
        var lines = [
            "# embed-server configuration file: `embed-server serve --config config/embed-server.conf`",
            "# (or EMBED_SERVER_CONFIG=path). One KEY=VALUE per line; keys are TEI's environment variable names",
            "# (flag names such as max-batch-tokens work too); `#` starts a comment; values may be quoted.",
            "# Precedence: command-line flag > environment variable > this file > built-in default (TEI's).",
            "# Every setting below is commented out and shows its default (empty: none, or one worked out at start-up).",
            "# Generated from Sources/embed-server/Settings.swift by `embed-server settings --write`; edit there.",
        ]
        let settings = documented.filter { $0.inConfigFile && $0.ignoredBecause == nil }
        for section in SettingSection.allCases {
            let inSection = settings.filter { $0.section == section }
            guard !inSection.isEmpty else { continue }
            lines += ["", "# ## \(section.rawValue)"]
            for setting in inSection {
                lines.append("")
                lines += wrapped(setting.sentence(for: .serve), width: 118).map { "# " + $0 }
                lines.append("# \(setting.key)=\(literalDefault(setting) ?? "")")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func flagCell(_ setting: SettingInfo) -> String {
        let short = setting.short.map { "-\($0), " } ?? ""
        let value = setting.isFlag ? "" : " <\(setting.valueName)>"
        return "`\(short)--\(setting.flag)\(value)`"
    }

    private static func defaultCell(_ setting: SettingInfo) -> String {
        guard let entry = setting.defaults[.serve], let text = entry.text else { return "" }
        return entry.isDescription ? text : "`\(text)`"
    }

    private static func meaningCell(_ setting: SettingInfo) -> String {
        var text = setting.help + "."
        if let details = setting.details { text += " " + details }
        if setting.subcommands.contains(.embed) {
            text += " `embed` takes it too"
            if let embed = setting.defaults[.embed], embed.text != setting.defaults[.serve]?.text,
                let value = embed.text
            {
                text += " (default \(value))"
            }
            text += "."
        }
        if !setting.inConfigFile { text += " Not a key of the config file itself." }
        return text
    }

    /// The default as a value to write after `KEY=`; nil when it is prose or there is none.
    private static func literalDefault(_ setting: SettingInfo) -> String? {
        guard let entry = setting.defaults[.serve], !entry.isDescription else { return nil }
        return entry.text
    }

    /// `text` broken at spaces into lines of at most `width` characters (a longer word gets a line of its own).
    static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
