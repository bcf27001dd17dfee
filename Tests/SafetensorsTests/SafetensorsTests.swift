import Foundation
import Testing

@testable import Safetensors

/// Writes `bytes` to a fresh temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8]) throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("safetensors-\(UUID().uuidString).safetensors").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// A safetensors file image: 8-byte little-endian header length, the JSON header, then `data`.
func fileImage(header: String, data: [UInt8]) -> [UInt8] {
    let json = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
}

func bytes(ofFloats floats: [Float]) -> [UInt8] {
    floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
}

private func bytes(ofHalves halves: [UInt16]) -> [UInt8] {
    halves.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
}

/// Expects `body` to throw exactly `expected`.
private func expectError(_ expected: SafetensorsError, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected \(expected), nothing was thrown")
    } catch let error as SafetensorsError {
        #expect(error == expected)
    } catch {
        Issue.record("expected \(expected), got \(error)")
    }
}

@Suite("Safetensors")
struct SafetensorsTests {
    let matrix: [Float] = [1, -2, 3.5, 4, 5, 6]

    @Test("an F32 tensor is read with its shape, dtype and metadata")
    func readsF32() throws {
        let header = #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#
        let path = try temporaryFile(fileImage(header: header, data: bytes(ofFloats: matrix)))
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors.keys.sorted() == ["w"])
        let info = try file.info("w")
        #expect(info.dtype == .f32 && info.shape == [2, 3] && info.elementCount == 6)
        #expect(try file.floatArray("w", shape: [2, 3]) == matrix)
        #expect(try file.floatInfo("w", shape: [2, 3]) == info)
    }

    @Test("tensors are found by their offsets, not by header order, and padding after the JSON is allowed")
    func readsOffsets() throws {
        let json =
            #"{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let header = json + String(repeating: " ", count: 8 + (8 - json.utf8.count % 8) % 8)
        let path = try temporaryFile(fileImage(header: header, data: bytes(ofFloats: [1, 2, 3, 4])))
        let file = try SafetensorsFile(path: path)
        #expect(try file.floatArray("a") == [1, 2])
        #expect(try file.floatArray("b") == [3, 4])
    }

    @Test("BF16 and F16 tensors are converted to Float, and refused where F32 rows are wanted")
    func convertsHalfPrecision() throws {
        // bf16: 1.0, -2.5, 3.140625; f16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), +infinity
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x4049]
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00]
        let header =
            #"{"b":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]},"h":{"dtype":"F16","shape":[5],"data_offsets":[6,16]}}"#
        let path = try temporaryFile(fileImage(header: header, data: bytes(ofHalves: bf16) + bytes(ofHalves: f16)))
        let file = try SafetensorsFile(path: path)
        #expect(try file.floatArray("b") == [1, -2.5, 3.140625])
        #expect(
            try file.floatArray("h") == [1, -2, 65504, Float(sign: .plus, exponent: -24, significand: 1), .infinity])
        expectError(.unsupportedDType(path: path, name: "b", dtype: "BF16")) { _ = try file.floatInfo("b") }
    }

    @Test("a missing tensor is an error naming it")
    func missingTensor() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let path = try temporaryFile(fileImage(header: header, data: bytes(ofFloats: [1, 2])))
        let file = try SafetensorsFile(path: path)
        expectError(.missingTensor(path: path, name: "layers.0.q_proj.weight")) {
            _ = try file.floatArray("layers.0.q_proj.weight")
        }
        #expect("\(SafetensorsError.missingTensor(path: path, name: "x.weight"))".contains("'x.weight'"))
    }

    @Test("a shape mismatch names the expected and the actual shape")
    func shapeMismatch() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#
        let path = try temporaryFile(fileImage(header: header, data: bytes(ofFloats: matrix)))
        let file = try SafetensorsFile(path: path)
        expectError(.shapeMismatch(path: path, name: "w", expected: [3, 2], actual: [2, 3])) {
            _ = try file.floatArray("w", shape: [3, 2])
        }
        let message = "\(SafetensorsError.shapeMismatch(path: path, name: "w", expected: [3, 2], actual: [2, 3]))"
        #expect(message.contains("[2, 3]") && message.contains("expected [3, 2]"))
    }

    @Test("an integer dtype is unsupported as floats and an unknown dtype is rejected at open")
    func unsupportedDTypes() throws {
        let ints = #"{"i":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#
        let intPath = try temporaryFile(fileImage(header: ints, data: [1, 0, 0, 0]))
        let file = try SafetensorsFile(path: intPath)
        expectError(.unsupportedDType(path: intPath, name: "i", dtype: "I32")) { _ = try file.floatArray("i") }

        let unknown = #"{"q":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#
        let unknownPath = try temporaryFile(fileImage(header: unknown, data: [0]))
        expectError(.unsupportedDType(path: unknownPath, name: "q", dtype: "F8_E4M3")) {
            _ = try SafetensorsFile(path: unknownPath)
        }
    }

    @Test("a file shorter than its length prefix, its header or its data is truncated")
    func truncatedFiles() throws {
        let tiny = try temporaryFile([1, 2, 3])
        expectError(.truncated(path: tiny, neededBytes: 8, fileBytes: 3)) { _ = try SafetensorsFile(path: tiny) }

        let header = #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#
        let full = fileImage(header: header, data: bytes(ofFloats: matrix))
        let shortHeader = try temporaryFile(Array(full.prefix(20)))
        expectError(.truncated(path: shortHeader, neededBytes: 8 + header.utf8.count, fileBytes: 20)) {
            _ = try SafetensorsFile(path: shortHeader)
        }
        let shortData = try temporaryFile(Array(full.dropLast(4)))
        expectError(.truncated(path: shortData, neededBytes: full.count, fileBytes: full.count - 4)) {
            _ = try SafetensorsFile(path: shortData)
        }
    }

    @Test("malformed headers are bad-header errors")
    func badHeaders() throws {
        let cases: [(header: String, data: [UInt8])] = [
            ("{not json", []),
            (#"[1, 2]"#, []),
            (#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, [0, 0, 0, 0]),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]),
        ]
        for (header, data) in cases {
            let path = try temporaryFile(fileImage(header: header, data: data))
            #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(path: path) }
            do {
                _ = try SafetensorsFile(path: path)
            } catch let SafetensorsError.badHeader(errorPath, reason) {
                #expect(errorPath == path && !reason.isEmpty)
            } catch {
                Issue.record("header \(header): expected badHeader, got \(error)")
            }
        }
        var absurd = withUnsafeBytes(of: UInt64.max.littleEndian, Array.init)
        absurd += [0, 0]
        let absurdPath = try temporaryFile(absurd)
        #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(path: absurdPath) }
    }

    /// A file holding `matrix` as the one F32 tensor "w" of shape [2, 3].
    func matrixFile() throws -> SafetensorsFile {
        let json = #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#
        let header = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        return try SafetensorsFile(path: temporaryFile(fileImage(header: header, data: bytes(ofFloats: matrix))))
    }

    @Test("a file truncated after it was opened gives a read error, not SIGBUS")
    func truncatedAfterOpening() throws {
        let json = #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#
        let header = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        let path = try temporaryFile(fileImage(header: header, data: bytes(ofFloats: matrix)))
        let file = try SafetensorsFile(path: path)
        // As an operator's `cp` over the model, or a shrinking network mount, would while the model loads. Through a
        // memory map the read below would fault with SIGBUS and end the process.
        #expect(truncate(path, 8) == 0)
        #expect(throws: SafetensorsError.self) { _ = try file.floatArray("w") }
        var row = [Float](repeating: 0, count: 3)
        #expect(throws: SafetensorsError.self) {
            try row.withUnsafeMutableBytes { try file.copyBytes(fileOffset: 8, count: 12, into: $0.baseAddress!) }
        }
    }

    @Test("copyBytes reads any row of a tensor from the file, as the mapped view has it")
    func copyRows() throws {
        let file = try matrixFile()
        let start = try file.info("w").fileOffset
        for row in [1, 0] {
            var copied = [Float](repeating: .nan, count: 3)
            try copied.withUnsafeMutableBytes {
                try file.copyBytes(fileOffset: start + row * 12, count: 12, into: $0.baseAddress!)
            }
            #expect(copied == Array(matrix[row * 3..<row * 3 + 3]))
        }
    }

    @Test("a file that does not exist cannot be opened")
    func missingFile() {
        #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(path: "/nonexistent/model.safetensors") }
    }

    @Test("an F32 tensor at an offset that is not 4-byte aligned is read as any other")
    func misaligned() throws {
        let header =
            #"{"pad":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"w":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}"#
        // Pad the JSON so the data section itself starts 8-byte aligned; "w" then sits 2 bytes in.
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        let path = try temporaryFile(fileImage(header: padded, data: [9, 9] + bytes(ofFloats: [7, 8])))
        let file = try SafetensorsFile(path: path)
        #expect(try file.floatArray("w") == [7, 8])
    }
}
