// libFuzzer harness for the .safetensors header parser, built by `scripts/check/fuzz safetensors` with
// Sources/Safetensors/Safetensors.swift (-O, as in the release build).
//
// Each input is a whole file image:
// 1. SafetensorsFile.parseHeader on a heap copy of exactly the input's size (so ASan sees any read past the end,
//    which a page-rounded mapping would hide). On success every tensor must lie inside the file, after the header:
//    8 + header length <= offset, offset + byte count <= file size (no overflow), byte count = elements × dtype size.
// 2. SafetensorsFile(path:) on the same bytes written to a tmpfs file: it must agree with (1) (same tensors and
//    metadata, or both fail). Then every tensor is read back: copyBytes, floatArray (F32 bit for bit, BF16 as the
//    high half, F16 against Swift's own Float16 conversion) and floatInfo must match the input bytes.

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var filePath = ""

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    filePath = makeScratchDirectory("safetensors") + "/model.safetensors"
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    var parsed: (tensors: [String: TensorInfo], metadata: [String: String])?
    if size >= 8 {  // SafetensorsFile.init checks this before parsing
        let copy = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { copy.deallocate() }
        copy.copyMemory(from: data, byteCount: size)
        parsed = try? SafetensorsFile.parseHeader(base: UnsafeRawPointer(copy), fileBytes: size, path: "fuzz")
    }
    if let parsed {
        let headerLength = Int(UInt64(littleEndian: UnsafeRawPointer(data).loadUnaligned(as: UInt64.self)))
        for (name, info) in parsed.tensors {
            fuzzCheck(info.name == name, "tensor '\(name)' is named '\(info.name)'")
            let (end, overflow) = info.fileOffset.addingReportingOverflow(info.byteCount)
            fuzzCheck(info.fileOffset >= 8 + headerLength && !overflow && end <= size && info.byteCount >= 0,
                      "tensor '\(name)' at \(info.fileOffset) + \(info.byteCount) is outside the data of a \(size)-byte file with a \(headerLength)-byte header")
            var elements = 1
            for dimension in info.shape {
                fuzzCheck(dimension >= 0, "tensor '\(name)' has shape \(info.shape)")
                let (product, over) = elements.multipliedReportingOverflow(by: dimension)
                fuzzCheck(!over, "tensor '\(name)': shape \(info.shape) overflows")
                elements = product
            }
            fuzzCheck(elements * info.dtype.byteCount == info.byteCount,
                      "tensor '\(name)': \(elements) \(info.dtype) elements in \(info.byteCount) bytes")
        }
    }

    writeFileBytes(filePath, input)
    guard let file = try? SafetensorsFile(path: filePath) else {
        fuzzCheck(parsed == nil, "parseHeader accepted the bytes but SafetensorsFile(path:) did not")
        return 0
    }
    guard let parsed else { fuzzFail("SafetensorsFile(path:) accepted bytes parseHeader rejected") }
    fuzzCheck(file.tensors == parsed.tensors && file.metadata == parsed.metadata,
              "SafetensorsFile(path:) and parseHeader disagree")
    for (name, info) in file.tensors {
        let bytes = Array(input[info.fileOffset..<(info.fileOffset + info.byteCount)])
        var copied = [UInt8](repeating: 0, count: info.byteCount)
        let read: Bool = copied.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return true }
            return (try? file.copyBytes(fileOffset: info.fileOffset, count: info.byteCount, into: base)) != nil
        }
        fuzzCheck(read && copied == bytes, "copyBytes of '\(name)' failed or differs from the file")
        checkFloats(file, info, bytes)
    }
    return 0
}

private func checkFloats(_ file: SafetensorsFile, _ info: TensorInfo, _ bytes: [UInt8]) {
    let count = info.byteCount / max(1, info.dtype.byteCount)
    func half(_ i: Int) -> UInt16 { UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8 }
    switch info.dtype {
    case .f32:
        guard let floats = try? file.floatArray(info.name) else { fuzzFail("floatArray of F32 '\(info.name)' failed") }
        let expected = (0..<count).map { i in (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 * i + $1]) << (8 * $1) } }
        fuzzCheck(floats.map(\.bitPattern) == expected, "floatArray of F32 '\(info.name)' differs from the file")
        guard (try? file.floatInfo(info.name)) == info else { fuzzFail("floatInfo of F32 '\(info.name)' failed") }
    case .bf16:
        guard let floats = try? file.floatArray(info.name) else { fuzzFail("floatArray of BF16 '\(info.name)' failed") }
        fuzzCheck(floats.map(\.bitPattern) == (0..<count).map { UInt32(half($0)) << 16 }, "BF16 '\(info.name)' converts wrongly")
    case .f16:
        guard let floats = try? file.floatArray(info.name) else { fuzzFail("floatArray of F16 '\(info.name)' failed") }
        for i in 0..<count {
            let expected = Float(Float16(bitPattern: half(i)))
            fuzzCheck(floats[i].bitPattern == expected.bitPattern || (floats[i].isNaN && expected.isNaN),
                      "F16 \(String(half(i), radix: 16)) of '\(info.name)' converts to \(floats[i]), Float16 says \(expected)")
        }
    default:
        fuzzCheck((try? file.floatArray(info.name)) == nil, "floatArray of \(info.dtype) '\(info.name)' did not throw")
    }
}
