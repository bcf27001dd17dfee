import Foundation

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
    let values: [String: Any]

    /// Reads and parses the JSON object in `path`.
    init(path: String) throws {
        guard let object = try JSONObject(optionalPath: path) else { throw ModelLoadError.missingFile(path: path) }
        self = object
    }

    /// Reads and parses the JSON object in `path`; nil when there is no such file.
    init?(optionalPath path: String) throws {
        guard let data = try readModelFile(path) else { return nil }
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ModelLoadError.invalidJSON(path: path, reason: Self.describe(error, in: data))
        }
        guard let object = root as? [String: Any] else {
            throw ModelLoadError.invalidJSON(path: path, reason: "the top level is not an object")
        }
        self.init(file: path, values: object)
    }

    /// What JSONSerialization says went wrong, with the line and column of the byte it points at: it names only a
    /// byte offset, inside its message ("Invalid value around character 25."), which is hard to find by hand.
    private static func describe(_ error: any Error, in data: Data) -> String {
        let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
        guard let marker = detail.range(of: "around character "),
            let offset = Int(detail[marker.upperBound...].prefix(while: \.isNumber)), offset <= data.count
        else { return detail }
        let before = data.prefix(offset)
        let line = before.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        let column = before.count - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
        return "line \(line), column \(column): \(detail)"
    }

    init(file: String, values: [String: Any]) {
        self.file = file
        self.values = values
    }

    /// True when `key` is absent or JSON null.
    func isNull(_ key: String) -> Bool {
        values[key] == nil || values[key] is NSNull
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

    func optionalInt(_ key: String) throws -> Int? {
        if isNull(key) { return nil }
        guard let number = values[key] as? NSNumber, !isBoolean(number),
            Double(number.intValue) == number.doubleValue
        else { throw ModelLoadError.invalidField(file: file, field: key, reason: "is not an integer") }
        return number.intValue
    }

    func double(_ key: String) throws -> Double {
        guard let value = try optionalDouble(key) else { throw ModelLoadError.missingField(file: file, field: key) }
        return value
    }

    func optionalDouble(_ key: String) throws -> Double? {
        if isNull(key) { return nil }
        guard let number = values[key] as? NSNumber, !isBoolean(number) else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a number")
        }
        return number.doubleValue
    }

    func optionalBool(_ key: String) throws -> Bool? {
        if isNull(key) { return nil }
        guard let number = values[key] as? NSNumber, isBoolean(number) else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not true or false")
        }
        return number.boolValue
    }

    func string(_ key: String) throws -> String {
        guard let value = try optionalString(key) else { throw ModelLoadError.missingField(file: file, field: key) }
        return value
    }

    func optionalString(_ key: String) throws -> String? {
        if isNull(key) { return nil }
        guard let value = values[key] as? String else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a string")
        }
        return value
    }

    func optionalStringArray(_ key: String) throws -> [String]? {
        if isNull(key) { return nil }
        guard let value = values[key] as? [String] else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a list of strings")
        }
        return value
    }

    func optionalStringMap(_ key: String) throws -> [String: String]? {
        if isNull(key) { return nil }
        guard let value = values[key] as? [String: String] else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not a map of strings")
        }
        return value
    }

    /// A nested object; its fields are reported as `key.field`.
    func optionalObject(_ key: String) throws -> JSONObject? {
        if isNull(key) { return nil }
        guard let value = values[key] as? [String: Any] else {
            throw ModelLoadError.invalidField(file: file, field: key, reason: "is not an object")
        }
        return JSONObject(file: "\(file) (\(key))", values: value)
    }

    /// Throws `unsupported` unless `key` is absent, null, or equal to `allowed`.
    func require<Value: Equatable>(_ key: String, isAbsentOr allowed: Value, supported: String) throws {
        if isNull(key) { return }
        guard let value = values[key] as? Value, value == allowed else {
            throw ModelLoadError.unsupported(file: file, field: key, value: "\(values[key]!)", supported: supported)
        }
    }

    private func isBoolean(_ number: NSNumber) -> Bool {
        // JSONSerialization returns booleans as NSNumber too; only they have the C `char` type code.
        String(cString: number.objCType) == "c"
    }
}

/// The bytes of the model file at `path`, or nil when it does not exist. Anything but a regular file (after
/// symlinks, so Hugging Face cache snapshots work) is refused: opening a FIFO would block start-up forever.
func readModelFile(_ path: String) throws(ModelLoadError) -> Data? {
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
    var data = Data(count: Int(status.st_size))
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
