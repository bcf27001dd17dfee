import Foundation
import JSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Element types a `.safetensors` tensor may declare; only the float ones can be read as `Float`.
package enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Size of one element in bytes.
    package var byteCount: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }
}

/// One tensor's entry in the header: its dtype, shape and where its bytes are in the file.
package struct TensorInfo: Sendable, Equatable {
    /// The tensor's name in the header.
    package let name: String
    /// Element type.
    package let dtype: DType
    /// Row-major shape; `[]` is a scalar.
    package let shape: [Int]
    /// Byte offset of the first element from the start of the file.
    package let fileOffset: Int
    /// Number of bytes the tensor occupies.
    package let byteCount: Int

    /// Number of elements (the product of `shape`).
    package var elementCount: Int { shape.reduce(1, *) }
}

/// Everything that can go wrong reading a `.safetensors` file, with the file and tensor named.
package enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case truncated(path: String, neededBytes: Int, fileBytes: Int)
    case badHeader(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], actual: [Int])
    case unsupportedDType(path: String, name: String, dtype: String)
    /// A read of tensor bytes after the file was opened failed (it shrank, or the disk failed).
    case readFailed(path: String, fileOffset: Int, count: Int, reason: String)

    package var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open safetensors file \(path): \(reason)"
        case .truncated(let path, let needed, let size):
            "safetensors file \(path) is truncated: needs at least \(needed) bytes but has \(size)"
        case .badHeader(let path, let reason):
            "safetensors file \(path) has a bad header: \(reason)"
        case .missingTensor(let path, let name):
            "safetensors file \(path) has no tensor named '\(name)'"
        case .shapeMismatch(let path, let name, let expected, let actual):
            "tensor '\(name)' in \(path) has shape \(actual), expected \(expected)"
        case .unsupportedDType(let path, let name, let dtype):
            "tensor '\(name)' in \(path) has dtype \(dtype); only F32, F16 and BF16 can be read as floats"
        case .readFailed(let path, let offset, let count, let reason):
            "cannot read \(count) bytes at offset \(offset) of safetensors file \(path): \(reason)"
        }
    }
}

/// A read-only `.safetensors` file, read with pread: nothing of it is memory-mapped.
///
/// `@unchecked Sendable`: every stored property is immutable after `init`, and pread takes its offset as an argument,
/// so threads may read through the one descriptor at once.
package final class SafetensorsFile: @unchecked Sendable {
    /// Path the file was opened from.
    package let path: String
    /// Header entries by tensor name.
    package let tensors: [String: TensorInfo]
    /// The header's optional `__metadata__` map.
    package let metadata: [String: String]

    /// Size of the file when it was opened; the header's offsets are checked against it.
    private let fileBytes: Int
    /// The open file: every read is a pread (`copyBytes`), none through a memory map.
    private let descriptor: Int32

    /// Opens the file at `path` and parses its header; throws `SafetensorsError` for an unreadable or malformed file.
    ///
    /// Nothing is memory-mapped: a mapped page of a file that shrinks afterwards (truncated or rewritten in place
    /// while the model loads) faults with SIGBUS and takes the process down, where a short read is an error.
    package init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. It changes nothing for
        // the regular files accepted below (reads of regular files never block on it).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw SafetensorsError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        // The file stays open for `copyBytes` once the header has parsed; any throw before that closes it.
        var opened = false
        defer { if !opened { close(fd) } }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw SafetensorsError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw SafetensorsError.cannotOpen(path: path, reason: "not a regular file")
        }
        let fileBytes = Int(status.st_size)
        guard fileBytes >= 8 else { throw SafetensorsError.truncated(path: path, neededBytes: 8, fileBytes: fileBytes) }
        // The 8-byte length first; the header is read whole only when the file can hold it (parseHeader reports
        // the others from the length alone).
        var head = [UInt8](repeating: 0, count: 8)
        try head.withUnsafeMutableBytes { try Self.read(fd, path: path, at: 0, count: 8, into: $0.baseAddress!) }
        let declared = UInt64(littleEndian: head.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        if declared <= UInt64(fileBytes - 8) {
            head = [UInt8](repeating: 0, count: 8 + Int(declared))
            try head.withUnsafeMutableBytes {
                try Self.read(fd, path: path, at: 0, count: $0.count, into: $0.baseAddress!)
            }
        }
        (tensors, metadata) = try head.withUnsafeBytes {
            try Self.parseHeader(base: $0.baseAddress!, fileBytes: fileBytes, path: path)
        }
        descriptor = fd
        self.fileBytes = fileBytes
        opened = true
    }

    deinit {
        close(descriptor)
    }

    /// Copies `count` bytes of the file, from `fileOffset`, into `target` with pread: the page cache serves them
    /// and none of its pages are mapped into this process. For scattered small reads of a large tensor (embedding
    /// rows) this also keeps RSS down: a fault on a mapping maps the whole page-cache folio around the row, and on
    /// Linux 6.x a 4,096-token batch's rows mapped 200–440 MB of the table for the moment they were read.
    ///
    /// A short read throws: the file shrank since it was opened, or the disk failed. The range must lie inside the
    /// file as it was opened (the header's offsets are checked for that).
    package func copyBytes(fileOffset: Int, count: Int, into target: UnsafeMutableRawPointer) throws(SafetensorsError) {
        precondition(
            fileOffset >= 0 && count >= 0 && count <= fileBytes - fileOffset,
            "copyBytes: \(count) bytes at \(fileOffset) are outside the \(fileBytes)-byte file")
        try Self.read(descriptor, path: path, at: fileOffset, count: count, into: target)
    }

    private static func read(
        _ descriptor: Int32, path: String, at fileOffset: Int, count: Int, into target: UnsafeMutableRawPointer
    ) throws(SafetensorsError) {
        var done = 0
        while done < count {
            let read = pread(descriptor, target + done, count - done, off_t(fileOffset + done))
            if read > 0 {
                done += read
            } else if read < 0 && errno == EINTR {
                continue
            } else {
                throw .readFailed(
                    path: path, fileOffset: fileOffset + done, count: count - done,
                    reason: read == 0 ? "the file shrank after it was opened" : String(cString: strerror(errno)))
            }
        }
    }

    /// The header entry for `name`, checked against `shape` when one is given.
    package func info(_ name: String, shape: [Int]? = nil) throws -> TensorInfo {
        guard let info = tensors[name] else { throw SafetensorsError.missingTensor(path: path, name: name) }
        if let shape, shape != info.shape {
            throw SafetensorsError.shapeMismatch(path: path, name: name, expected: shape, actual: info.shape)
        }
        return info
    }

    /// The header entry of an F32 tensor (throws for any other dtype), whose rows are read later with `copyBytes`.
    package func floatInfo(_ name: String, shape: [Int]? = nil) throws -> TensorInfo {
        let info = try info(name, shape: shape)
        guard info.dtype == .f32 else {
            throw SafetensorsError.unsupportedDType(path: path, name: name, dtype: info.dtype.rawValue)
        }
        return info
    }

    /// Reads an F32 tensor into `target`, which must hold its elements (safetensors is little-endian, as every host
    /// this builds for).
    package func readFloats(_ name: String, shape: [Int]? = nil, into target: UnsafeMutableBufferPointer<Float>) throws
    {
        let info = try floatInfo(name, shape: shape)
        precondition(target.count >= info.elementCount, "readFloats: \(target.count) floats for '\(name)'")
        guard let base = target.baseAddress else { return }
        try copyBytes(fileOffset: info.fileOffset, count: info.byteCount, into: base)
    }

    /// A copy of an F32, F16 or BF16 tensor as `Float`s, read with pread.
    package func floatArray(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        let info = try info(name, shape: shape)
        let count = info.elementCount
        switch info.dtype {
        case .f32:
            var words = [UInt32](repeating: 0, count: count)
            try words.withUnsafeMutableBytes {
                if let destination = $0.baseAddress {
                    try copyBytes(fileOffset: info.fileOffset, count: count * 4, into: destination)
                }
            }
            return words.map { Float(bitPattern: UInt32(littleEndian: $0)) }
        case .bf16, .f16:
            var halves = [UInt16](repeating: 0, count: count)
            try halves.withUnsafeMutableBytes {
                if let destination = $0.baseAddress {
                    try copyBytes(fileOffset: info.fileOffset, count: count * 2, into: destination)
                }
            }
            return info.dtype == .bf16
                ? halves.map { Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16) }
                : halves.map { halfToFloat(UInt16(littleEndian: $0)) }
        default:
            throw SafetensorsError.unsupportedDType(path: path, name: name, dtype: info.dtype.rawValue)
        }
    }

    static func parseHeader(base: UnsafeRawPointer, fileBytes: Int, path: String) throws
        -> (tensors: [String: TensorInfo], metadata: [String: String])
    {
        let declaredLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        // A length past the end of the file is a truncation; a length no real header reaches is garbage.
        guard declaredLength <= UInt64(Int.max - 8) else {
            throw SafetensorsError.badHeader(path: path, reason: "header length \(declaredLength) is not plausible")
        }
        let headerLength = Int(declaredLength)
        let dataStart = 8 + headerLength
        guard dataStart <= fileBytes else {
            throw SafetensorsError.truncated(path: path, neededBytes: dataStart, fileBytes: fileBytes)
        }
        let headerBytes = UnsafeBufferPointer(
            start: (base + 8).assumingMemoryBound(to: UInt8.self), count: headerLength)
        let root: JSONValue
        do {
            // A byte order mark is allowed, as in the other model files.
            root = try JSONValue.parse(headerBytes, maxDepth: 512, allowingByteOrderMark: true)
        } catch {
            throw SafetensorsError.badHeader(path: path, reason: "not valid JSON (\(error))")
        }
        guard case .object(let entries) = root else {
            throw SafetensorsError.badHeader(path: path, reason: "not a JSON object")
        }
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in entries {
            if name == "__metadata__" {
                guard case .object(let members) = value else {
                    throw SafetensorsError.badHeader(path: path, reason: "__metadata__ is not a map of strings")
                }
                metadata = [:]
                for (key, text) in members {
                    guard case .string(let text) = text else {
                        throw SafetensorsError.badHeader(path: path, reason: "__metadata__ is not a map of strings")
                    }
                    metadata[key] = text
                }
                continue
            }
            tensors[name] = try parseEntry(name: name, value: value, dataStart: dataStart, path: path)
        }
        let dataEnd = try checkLayout(tensors.values, dataStart: dataStart, fileBytes: fileBytes, path: path)
        guard dataEnd == fileBytes else {
            throw SafetensorsError.badHeader(
                path: path,
                reason: "\(fileBytes - dataEnd) bytes after the last tensor (the tensors must cover the data section)")
        }
        return (tensors, metadata)
    }

    /// The safetensors format's rule (as its reference implementation checks it): the tensors, in offset order,
    /// tile the data section from its start without overlapping and without holes. Returns where the last one ends
    /// in the file, after checking that the file holds it.
    private static func checkLayout(
        _ tensors: some Collection<TensorInfo>, dataStart: Int, fileBytes: Int,
        path: String
    ) throws -> Int {
        func range(_ info: TensorInfo) -> String {
            "'\(info.name)' [\(info.fileOffset - dataStart), \(info.fileOffset - dataStart + info.byteCount))"
        }
        let ordered = tensors.sorted {
            ($0.fileOffset, $0.byteCount, $0.name) < ($1.fileOffset, $1.byteCount, $1.name)
        }
        var end = dataStart
        var previous: TensorInfo?
        for info in ordered {
            if info.fileOffset < end, let previous {
                throw SafetensorsError.badHeader(
                    path: path, reason: "tensor \(range(info)) overlaps tensor \(range(previous))")
            }
            if info.fileOffset > end {
                throw SafetensorsError.badHeader(
                    path: path, reason: "a hole of \(info.fileOffset - end) bytes before tensor \(range(info))")
            }
            end = info.fileOffset + info.byteCount
            previous = info
        }
        guard end <= fileBytes else {
            throw SafetensorsError.truncated(path: path, neededBytes: end, fileBytes: fileBytes)
        }
        return end
    }

    /// Offsets and dimensions are at most 2^53 (beyond that JSON numbers are not exact, and no file is that large),
    /// so sums of them with the file size cannot overflow.
    private static let largestCount = 1 << 53

    /// A JSON number that is an integer in 0..<2^53 (where every integer has an exact Double), or nil.
    private static func count(_ value: JSONValue) -> Int? {
        guard case .number(let double, _) = value, double >= 0, double < Double(largestCount),
            double == double.rounded()
        else { return nil }
        return Int(double)
    }

    private static func parseEntry(name: String, value: JSONValue, dataStart: Int, path: String) throws -> TensorInfo {
        func bad(_ reason: String) -> SafetensorsError {
            .badHeader(path: path, reason: "tensor '\(name)': \(reason)")
        }
        guard case .object(let entry) = value else { throw bad("entry is not an object") }
        guard let dtypeName = entry["dtype"]?.stringValue else { throw bad("missing dtype") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafetensorsError.unsupportedDType(path: path, name: name, dtype: dtypeName)
        }
        guard let offsetValues = entry["data_offsets"]?.arrayValue, offsetValues.count == 2 else {
            throw bad("data_offsets is not a pair")
        }
        guard let begin = count(offsetValues[0]), let end = count(offsetValues[1]) else {
            throw bad("data_offsets \(JSONValue.array(offsetValues)) are not integers in 0..<2^53")
        }
        guard begin <= end else { throw bad("data_offsets [\(begin), \(end)) are not a range") }
        guard let shapeValues = entry["shape"]?.arrayValue else { throw bad("missing shape") }
        let dimensions = shapeValues.compactMap(count)
        guard dimensions.count == shapeValues.count else {
            throw bad("shape \(JSONValue.array(shapeValues)) is not a list of integers in 0..<2^53")
        }
        var bytes = dtype.byteCount
        for dimension in dimensions {
            let product = bytes.multipliedReportingOverflow(by: dimension)
            guard !product.overflow else { throw bad("shape \(dimensions) of \(dtypeName) overflows a byte count") }
            bytes = product.partialValue
        }
        guard bytes == end - begin else {
            throw bad(
                "shape \(dimensions) of \(dtypeName) needs \(bytes) bytes, data_offsets [\(begin), \(end)) hold \(end - begin)"
            )
        }
        return TensorInfo(name: name, dtype: dtype, shape: dimensions, fileOffset: dataStart + begin, byteCount: bytes)
    }
}

/// IEEE 754 binary16 to binary32, including subnormals, infinities and NaN.
func halfToFloat(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = Int(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:
        // Subnormal (or zero): mantissa × 2^-24, exact in Float.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign == 0 ? magnitude : -magnitude
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }
}
