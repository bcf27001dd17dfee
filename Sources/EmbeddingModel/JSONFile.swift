import JSON

#if canImport(Glibc)
    import Glibc
#endif

/// Why a model directory cannot be loaded: the file and the field are always named.
package enum ModelLoadError: Error, Equatable, CustomStringConvertible {
    case missingFile(path: String)
    /// The file exists but cannot be read: permissions, not a regular file, an I/O error.
    case unreadableFile(path: String, reason: String)
    case invalidJSON(path: String, reason: String)
    case missingField(file: String, field: String)
    case invalidField(file: String, field: String, reason: String)
    case unsupported(file: String, field: String, value: String, supported: String)
    /// Tensors in a weights file that the configured model does not read: the config does not describe the checkpoint.
    case unusedTensors(path: String, names: [String], count: Int)

    package var description: String {
        switch self {
        case .missingFile(let path):
            "model file \(path) does not exist"
        case .unreadableFile(let path, let reason):
            "cannot read model file \(path): \(reason)"
        case .invalidJSON(let path, let reason):
            "model file \(path) is not valid JSON: \(reason)"
        case .missingField(let file, let field):
            "\(file) has no field '\(field)'"
        case .invalidField(let file, let field, let reason):
            "\(file): field '\(field)' \(reason)"
        case .unsupported(let file, let field, let value, let supported):
            "\(file): '\(field)' is \(value), which this server does not support (supported: \(supported))"
        case .unusedTensors(let path, let names, let count):
            "\(path) holds \(count) tensors the model described by config.json does not use (\(names.joined(separator: ", "))"
                + (count > names.count ? ", …" : "") + "): the config does not match the checkpoint"
        }
    }
}

/// A parsed JSON object with typed accessors whose errors name the file and the field.
struct JSONObject {
    let file: String
    let values: JSONValue.Object

    /// Reads and parses the JSON object in `path`.
    init(path: String) throws {
        guard let object = try JSONObject(optionalPath: path) else { throw ModelLoadError.missingFile(path: path) }
        self = object
    }

    /// Reads and parses the JSON object in `path`; nil when there is no such file.
    init?(optionalPath path: String) throws {
        guard let root = try readModelJSON(path) else { return nil }
        guard case .object(let object) = root else {
            throw ModelLoadError.invalidJSON(path: path, reason: "the top level is not an object")
        }
        self.init(file: path, values: object)
    }

    init(file: String, values: JSONValue.Object) {
        self.file = file
        self.values = values
    }

    /// True when `key` is absent or JSON null.
    func isNull(_ key: String) -> Bool {
        values[key]?.isNull ?? true
    }

    func int(_ key: String) throws -> Int {
        guard let value = try optionalInt(key) else { throw ModelLoadError.missingField(file: file, field: key) }
        return value
    }

    /// A size from config.json in 1...limit (`value` when the key is absent or null). Sizes are used before the
    /// weights' shapes can be compared with them (position tables, the layer list), so each has an upper limit far
    /// above any published model: an absurd one from an untrusted file must not get that far.
    func size(_ key: String, limit: Int, default value: Int? = nil) throws -> Int {
        guard let size = try optionalInt(key) ?? value else {
            throw ModelLoadError.missingField(file: file, field: key)
        }
        guard size > 0, size <= limit else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "must be in 1...\(limit), is \(size)")
        }
        return size
    }

    /// An integral number (`2.0` counts, as Python's json reads it for these fields).
    func optionalInt(_ key: String) throws -> Int? {
        if isNull(key) { return nil }
        guard let number = values[key]?.doubleValue, number == number.rounded(), let value = Int(exactly: number)
        else { throw ModelLoadError.invalidField(file: file, field: key, reason: "is not an integer") }
        return value
    }

    func double(_ key: String) throws -> Double {
        guard let value = try optionalDouble(key) else { throw ModelLoadError.missingField(file: file, field: key) }
        return value
    }

    func optionalDouble(_ key: String) throws -> Double? {
        if isNull(key) { return nil }
        guard let number = values[key]?.doubleValue else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a number")
        }
        return number
    }

    func optionalBool(_ key: String) throws -> Bool? {
        if isNull(key) { return nil }
        guard let flag = values[key]?.boolValue else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not true or false")
        }
        return flag
    }

    func string(_ key: String) throws -> String {
        guard let value = try optionalString(key) else { throw ModelLoadError.missingField(file: file, field: key) }
        return value
    }

    func optionalString(_ key: String) throws -> String? {
        if isNull(key) { return nil }
        guard let value = values[key]?.stringValue else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a string")
        }
        return value
    }

    func optionalStringArray(_ key: String) throws -> [String]? {
        if isNull(key) { return nil }
        guard let elements = values[key]?.arrayValue else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a list of strings")
        }
        var strings: [String] = []
        for element in elements {
            guard let string = element.stringValue else {
                throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a list of strings")
            }
            strings.append(string)
        }
        return strings
    }

    func optionalStringMap(_ key: String) throws -> [String: String]? {
        if isNull(key) { return nil }
        guard let object = values[key]?.objectValue else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a map of strings")
        }
        var map: [String: String] = [:]
        for (name, value) in object {
            guard let string = value.stringValue else {
                throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a map of strings")
            }
            map[name] = string
        }
        return map
    }

    /// A nested object; its fields are reported as `key.field`.
    func optionalObject(_ key: String) throws -> JSONObject? {
        if isNull(key) { return nil }
        guard let object = values[key]?.objectValue else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not an object")
        }
        return JSONObject(file: "\(file) (\(key))", values: object)
    }

    /// Throws `unsupported` unless `key` is absent, null, or the string `allowed`.
    func require(_ key: String, isAbsentOr allowed: String, supported: String) throws {
        try require(key, values[key]?.stringValue == allowed, supported: supported)
    }

    /// Throws `unsupported` unless `key` is absent, null, or the boolean `allowed`.
    func require(_ key: String, isAbsentOr allowed: Bool, supported: String) throws {
        try require(key, values[key]?.boolValue == allowed, supported: supported)
    }

    /// Throws `unsupported` unless `key` is absent, null, or the integer `allowed`.
    func require(_ key: String, isAbsentOr allowed: Int, supported: String) throws {
        try require(key, values[key]?.intValue == allowed, supported: supported)
    }

    private func require(_ key: String, _ matches: Bool, supported: String) throws {
        if isNull(key) || matches { return }
        throw ModelLoadError.unsupported(file: file, field: key, value: shown(key), supported: supported)
    }

    /// The value of `key` for a message: a string as it is, anything else as JSON.
    func shown(_ key: String) -> String {
        guard let value = values[key] else { return "absent" }
        return value.stringValue ?? value.description
    }
}

/// The JSON value in the model file at `path`, or nil when there is no such file. A UTF-8 byte order mark is
/// allowed and nesting is capped at 512 levels; a syntax error names the line and column.
func readModelJSON(_ path: String) throws -> JSONValue? {
    guard let data = try readModelFile(path) else { return nil }
    do {
        return try JSONValue.parse(data, maxDepth: 512, allowingByteOrderMark: true)
    } catch {
        let (line, column) = error.location(in: data)
        throw ModelLoadError.invalidJSON(path: path, reason: "line \(line), column \(column): \(error.reason)")
    }
}

/// The bytes of the model file at `path`, or nil when it does not exist. Anything but a regular file (after
/// symlinks, so Hugging Face cache snapshots work) is refused: opening a FIFO would block start-up forever.
func readModelFile(_ path: String) throws(ModelLoadError) -> [UInt8]? {
    // O_NONBLOCK makes the open of a FIFO return at once; regular files ignore it.
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
        let code = errno
        if code == ENOENT { return nil }
        throw .unreadableFile(path: path, reason: String(cString: strerror(code)))
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
        throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
    }
    guard status.st_mode & S_IFMT == S_IFREG else { throw .unreadableFile(path: path, reason: "not a regular file") }
    var data = [UInt8](repeating: 0, count: Int(status.st_size))
    var filled = 0
    while filled < data.count {
        let count = data.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else {
            throw .unreadableFile(
                path: path, reason: count == 0 ? "the file shrank while it was read" : String(cString: strerror(errno)))
        }
        filled += count
    }
    return data
}
