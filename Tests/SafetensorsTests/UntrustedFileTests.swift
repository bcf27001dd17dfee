import Foundation
import Testing

@testable import Safetensors

#if canImport(Glibc)
    import Glibc
#endif

/// The header and data section of `path` come from whoever published the model: sizes, offsets and the file
/// itself may be anything.
@Suite("Safetensors from untrusted files")
struct UntrustedFileTests {
    /// Opens a file whose header is `header` over `data`, expecting a bad-header error whose reason has `phrase`.
    func expectBadHeader(
        _ header: String, data: [UInt8], _ phrase: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let path = try temporaryFile(fileImage(header: header, data: data))
        defer { unlink(path) }
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("header \(header) was accepted", sourceLocation: sourceLocation)
        } catch let SafetensorsError.badHeader(errorPath, reason) {
            #expect(errorPath == path, sourceLocation: sourceLocation)
            #expect(reason.contains(phrase), "\(reason)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("header \(header): expected badHeader, got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("offsets and sizes near or past Int.max are bad headers, not arithmetic traps")
    func hugeOffsets() throws {
        let data = [UInt8](repeating: 0, count: 8)
        try expectBadHeader(
            #"{"w":{"dtype":"U8","shape":[9223372036854775000],"data_offsets":[0,9223372036854775000]}}"#,
            data: data, "data_offsets")
        try expectBadHeader(
            #"{"w":{"dtype":"U8","shape":[0],"data_offsets":[9223372036854775800,9223372036854775800]}}"#,
            data: data, "data_offsets")
        try expectBadHeader(
            #"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}}"#,
            data: data, "shape")
        try expectBadHeader(
            #"{"w":{"dtype":"U8","shape":[8],"data_offsets":[0,18446744073709551615]}}"#,
            data: data, "data_offsets")
        try expectBadHeader(#"{"w":{"dtype":"U8","shape":[8],"data_offsets":[0,1e30]}}"#, data: data, "data_offsets")
        try expectBadHeader(#"{"w":{"dtype":"U8","shape":[1e30],"data_offsets":[0,8]}}"#, data: data, "shape")
    }

    @Test("a header nested 100,000 levels deep is a bad header, not a stack overflow")
    func deepNesting() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        try expectBadHeader(#"{"__metadata__":\#(deep)}"#, data: [], "JSON")
    }

    @Test("tensors whose byte ranges overlap are refused, naming both")
    func overlappingRanges() throws {
        let data = [UInt8](repeating: 0, count: 12)
        try expectBadHeader(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            data: data, "'b'")
        try expectBadHeader(
            #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            data: data, "overlap")
    }

    @Test("the tensors must cover the data section exactly: no hole between them, no bytes after the last")
    func holesAndTrailingBytes() throws {
        try expectBadHeader(
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            data: [UInt8](repeating: 0, count: 12), "hole")
        try expectBadHeader(
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            data: [UInt8](repeating: 0, count: 8), "hole")
        try expectBadHeader(
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            data: [UInt8](repeating: 0, count: 8), "after the last tensor")
        // Zero-sized tensors take no bytes; they sit where the previous tensor ends.
        let path = try temporaryFile(
            fileImage(
                header:
                    #"{"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#,
                data: bytes(ofFloats: [1, 2])))
        defer { unlink(path) }
        #expect(try SafetensorsFile(path: path).floatArray("a") == [1, 2])
    }

    @Test("a FIFO in place of the file is refused at once instead of blocking the open; a symlink to a file works")
    func nonRegularFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = directory + "/model.safetensors"
        #expect(mkfifo(fifo, 0o600) == 0)
        do {
            _ = try SafetensorsFile(path: fifo)
            Issue.record("a FIFO opened as a safetensors file")
        } catch {
            #expect("\(error)".contains(fifo) && "\(error)".contains("not a regular file"), "\(error)")
        }
        #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(path: directory) }

        // The Hugging Face cache's snapshot files are symlinks to blobs.
        let blob = try temporaryFile(
            fileImage(
                header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                data: bytes(ofFloats: [5])))
        defer { unlink(blob) }
        let link = directory + "/linked.safetensors"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: blob)
        #expect(try SafetensorsFile(path: link).floatArray("a") == [5])
    }

    @Test("a file truncated after it was opened makes copyBytes throw instead of faulting on the mapping")
    func truncatedWhileOpen() throws {
        let floats = (0..<1024).map(Float.init)
        let path = try temporaryFile(
            fileImage(
                header: #"{"t":{"dtype":"F32","shape":[1024],"data_offsets":[0,4096]}}"#,
                data: bytes(ofFloats: floats)))
        defer { unlink(path) }
        let file = try SafetensorsFile(path: path)
        let info = try file.info("t")
        var row = [Float](repeating: 0, count: 16)
        try row.withUnsafeMutableBytes {
            try file.copyBytes(fileOffset: info.fileOffset + 64, count: 64, into: $0.baseAddress!)
        }
        #expect(row == Array(floats[16..<32]))
        #expect(truncate(path, off_t(info.fileOffset)) == 0)
        #expect(throws: SafetensorsError.self) {
            try row.withUnsafeMutableBytes {
                try file.copyBytes(fileOffset: info.fileOffset + 2048, count: 64, into: $0.baseAddress!)
            }
        }
        do {
            try row.withUnsafeMutableBytes {
                try file.copyBytes(fileOffset: info.fileOffset, count: 64, into: $0.baseAddress!)
            }
        } catch {
            #expect("\(error)".contains(path) && "\(error)".contains("shrank"), "\(error)")
        }
    }
}
