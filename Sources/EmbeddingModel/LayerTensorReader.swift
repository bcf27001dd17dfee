import Safetensors

/// Reads one layer's Linear weights from the weights file into one buffer that every layer reuses in turn: packing
/// copies them, so the whole model's fp32 weights (406 MB for EmbeddingGemma) are never held twice, and the file is
/// read with pread rather than mapped (a mapped file that shrinks while it loads faults with SIGBUS).
///
/// The views `matrix` returns stay valid until the next `startLayer`.
final class LayerTensorReader {
    private let file: SafetensorsFile
    private var storage = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var used = 0

    init(file: SafetensorsFile) {
        self.file = file
    }

    deinit {
        storage.deallocate()
    }

    /// Makes room for every tensor named `prefix…` (sized from the file's header, so never more than the file holds)
    /// and starts filling the buffer from its beginning.
    func startLayer(prefix: String) {
        let needed = file.tensors.values.reduce(0) { $0 + ($1.name.hasPrefix(prefix) ? $1.elementCount : 0) }
        if needed > storage.count {
            storage.deallocate()
            storage = .allocate(capacity: needed)
        }
        used = 0
    }

    /// The F32 tensor `name` of shape `[rows, columns]`, read into the layer's buffer.
    func matrix(_ name: String, rows: Int, columns: Int) throws -> UnsafeBufferPointer<Float> {
        let info = try file.floatInfo(name, shape: [rows, columns])
        // The tensor carries the layer's prefix, so startLayer counted it: it fits unless a caller names another.
        precondition(used + info.elementCount <= storage.count, "LayerTensorReader: '\(name)' is outside the layer")
        let slice = UnsafeMutableBufferPointer(rebasing: storage[used..<used + info.elementCount])
        try file.readFloats(name, shape: [rows, columns], into: slice)
        used += info.elementCount
        return UnsafeBufferPointer(slice)
    }
}
