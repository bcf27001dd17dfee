// Kernel benchmark: GFLOP/s of matmul for the model's shapes and attention times. Run via scripts/bench/bench-kernels.
import Foundation
import Kernels

/// Seconds per call: the best of several timed batches of calls after a warm-up. With BENCH_CPU_TIME=1 it
/// measures process CPU time instead of wall time (1 thread only: steadier on a machine shared with other work).
let useCPUTime = ProcessInfo.processInfo.environment["BENCH_CPU_TIME"] == "1"
func now() -> Double {
    if useCPUTime {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
    return Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

func secondsPerCall(minimumSeconds: Double = 0.15, _ body: () -> Void) -> Double {
    body()
    var calls = 1
    while true {
        let start = now()
        for _ in 0..<calls { body() }
        let elapsed = now() - start
        if elapsed >= minimumSeconds { break }
        calls = max(calls * 2, Int(Double(calls) * minimumSeconds / max(elapsed, 1e-6) * 1.2))
    }
    var best = Double.infinity
    for _ in 0..<3 {
        let start = now()
        for _ in 0..<calls { body() }
        best = min(best, (now() - start) / Double(calls))
    }
    return best
}

/// Uniform floats in [-1, 1) from a fixed-seed xorshift: fast to make and the same on every run.
func randomFloats(_ count: Int) -> [Float] {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Float(state >> 40) / Float(1 << 23) - 1
    }
}

// Arguments: thread counts (default 1 and 2), optionally `matmul`, `attention` or `stream` to run only that part.
let arguments = CommandLine.arguments.dropFirst()
let givenThreads = arguments.compactMap { Int($0) }
let threadCounts = givenThreads.isEmpty ? [1, 2] : givenThreads
let parts = Set(arguments.filter { Int($0) == nil })
let runMatmul = parts.isEmpty || parts.contains("matmul")
let runAttention = parts.isEmpty || parts.contains("attention")
let runStream = parts.isEmpty || parts.contains("stream")
let shapes: [(name: String, n: Int, k: Int)] = [
    ("q/o 768×768", 768, 768), ("k/v 256×768", 256, 768), ("qkv 1280×768", 1280, 768),
    ("gate/up 1152×768", 1152, 768), ("gate|up 2304×768", 2304, 768), ("down 768×1152", 768, 1152),
    ("dense 3072×768", 3072, 768), ("dense 768×3072", 768, 3072),
    // MiniLM-L6 (BERT, hidden 384): fused q|k|v, o, intermediate, output.
    ("bert qkv 1152×384", 1152, 384), ("bert o 384×384", 384, 384), ("bert up 1536×384", 1536, 384),
    ("bert down 384×1536", 384, 1536),
]
/// BENCH_SHAPES keeps the matmul shapes whose name contains it, e.g. `bert`.
let shownShapes =
    ProcessInfo.processInfo.environment["BENCH_SHAPES"].map { filter in
        shapes.filter { $0.name.contains(filter) }
    } ?? shapes
/// BENCH_ROWS (comma-separated) replaces the matmul table's row counts, e.g. to look at the tile heights around a query.
let rowCounts =
    ProcessInfo.processInfo.environment["BENCH_ROWS"]
    .map { $0.split(separator: ",").compactMap { Int($0) } } ?? [1, 16, 128, 512, 2048]

print("kernels: \(Kernels.activeVariant) (EMBED_KERNELS=avx512amx|avx512bf16|avx512|avx2|portable forces one)")
#if arch(x86_64)
    if KernelVariant.avx512bf16.isSupported {
        print(
            "vdpbf16ps does \(String(format: "%.2f", KernelVariant.measuredDotSpeedOverFMA()))× the FMAs' work per second here"
        )
    }
#endif
// Packed once for every thread count: packing the ~600 MB of both precisions takes seconds.
let streamWeights = runStream ? WeightPrecision.allCases.map { (precision: $0, layers: streamLayers($0)) } : []
for threads in threadCounts {
    let pool = ComputePool(threadCount: threads)
    if threads > 1 {
        let seconds = secondsPerCall { pool.parallelFor(threads) { _ in } }
        print(String(format: "\nparallelFor round trip, %d empty items: %.2f µs", threads, seconds * 1e6))
    }
    if runMatmul { benchMatmul(pool) }
    if runAttention {
        benchAttention(pool)
        benchRelativeBias(pool)
    }
    if runStream { benchStream(pool, streamWeights) }
}

/// 24 layers of EmbeddingGemma-sized random weights (q|k|v, o, gate|up, down): ~400 MB in fp32, far more than any
/// cache.
func streamLayers(_ precision: WeightPrecision) -> [[PackedMatrix]] {
    let layerShapes = [(1280, 768), (768, 768), (2304, 768), (768, 1152)]
    return (0..<24).map { _ in
        layerShapes.map { shape in
            randomFloats(shape.0 * shape.1).withUnsafeBufferPointer {
                PackedMatrix(weights: $0, outFeatures: shape.0, inFeatures: shape.1, precision: precision)
            }
        }
    }
}

/// A query's GEMMs through `streamLayers` at 40 rows (a medium query), 11 (the 11-token bench query) and 1, so this
/// measures how fast the small-M path streams weights from memory, and how much of that rate the arithmetic costs.
func benchStream(_ pool: ComputePool, _ weights: [(precision: WeightPrecision, layers: [[PackedMatrix]])]) {
    print("\nquery GEMMs (24 layers of q|k|v, o, gate|up, down), \(pool.threadCount) thread(s)")
    for (precision, layers) in weights {
        for rows in [40, 11, 1] {
            let x = randomFloats(rows * 2304)
            var y = [Float](repeating: 0, count: rows * 2304)
            let bytes = layers.joined().reduce(0) { $0 + $1.byteCount }
            let seconds = x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    secondsPerCall(minimumSeconds: 0.5) {
                        for layer in layers {
                            for w in layer {
                                matmul(
                                    xp.baseAddress!, rows: rows, rowStride: w.inFeatures, w, into: yp.baseAddress!,
                                    rowStride: w.outFeatures, pool: pool)
                            }
                        }
                    }
                }
            }
            print(
                String(
                    format: "%@, %2d row(s): %.1f ms for %.0f MB of weights (%.1f GB/s)", precision.rawValue, rows,
                    seconds * 1e3, Double(bytes) / 1e6, Double(bytes) / seconds / 1e9))
        }
    }
}

func benchMatmul(_ pool: ComputePool) {
    for precision in WeightPrecision.allCases {
        print("\nmatmul GFLOP/s, \(precision.rawValue) weights, \(pool.threadCount) thread(s)")
        print(
            "shape".padding(toLength: 20, withPad: " ", startingAt: 0)
                + rowCounts.map { "M=\($0)".leftPadded(9) }.joined())
        for shape in shownShapes {
            let weights = randomFloats(shape.n * shape.k)
            let packed = weights.withUnsafeBufferPointer {
                PackedMatrix(weights: $0, outFeatures: shape.n, inFeatures: shape.k, precision: precision)
            }
            var line = shape.name.padding(toLength: 20, withPad: " ", startingAt: 0)
            for m in rowCounts {
                let x = randomFloats(m * shape.k)
                var y = [Float](repeating: 0, count: m * shape.n)
                let seconds = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        secondsPerCall {
                            matmul(
                                xp.baseAddress!, rows: m, rowStride: shape.k, packed, into: yp.baseAddress!,
                                rowStride: shape.n, pool: pool)
                        }
                    }
                }
                line += String(format: "%9.1f", 2 * Double(m * shape.n * shape.k) / seconds / 1e9)
            }
            print(line)
        }
    }
}

func benchAttention(_ pool: ComputePool) {
    print("\nattention (3 query heads, 1 K/V head, head 256), \(pool.threadCount) thread(s), ms per call")
    for n in [11, 24, 128, 512, 2048] {
        let stride = 1280
        let qkv = randomFloats(n * stride)
        var out = [Float](repeating: 0, count: n * 768)
        var line = "n=\(n)".padding(toLength: 8, withPad: " ", startingAt: 0)
        for window in [AttentionWindow.full, .sliding(radius: 256)] {
            let seconds = qkv.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { o in
                    secondsPerCall {
                        attention(
                            queries: p.baseAddress!, queryRowStride: stride, keys: p.baseAddress! + 768,
                            keyRowStride: stride, values: p.baseAddress! + 1024, valueRowStride: stride,
                            output: o.baseAddress!, outputRowStride: 768, sequenceLengths: [n], queryHeads: 3,
                            kvHeads: 1, headDim: 256, scale: 0.0625, window: window, pool: pool)
                    }
                }
            }
            let visible =
                window == .full ? Double(n * n) : Double((0..<n).reduce(0) { $0 + min(n, $1 + 257) - max(0, $1 - 256) })
            let gflops = 2 * 2 * 3 * 256 * visible / seconds / 1e9
            line += String(
                format: "  %@ %8.3f ms (%5.1f GFLOP/s)", window == .full ? "full   " : "sliding", seconds * 1e3, gflops)
        }
        print(line)
    }
}

/// MPNet's shape (12 heads of 64), without and with a relative position bias: what the bias costs.
func benchRelativeBias(_ pool: ComputePool) {
    print("\nattention (12 heads of 64), \(pool.threadCount) thread(s), ms per call: none / relative position bias")
    let heads = 12, headDim = 64, width = heads * headDim, stride = 3 * width, maxLength = 512
    let table = randomFloats(heads * (2 * maxLength - 1))
    for n in [11, 24, 128, 384] {
        let qkv = randomFloats(n * stride)
        var out = [Float](repeating: 0, count: n * width)
        var line = "n=\(n)".padding(toLength: 8, withPad: " ", startingAt: 0)
        for biased in [false, true] {
            let seconds = qkv.withUnsafeBufferPointer { p in
                table.withUnsafeBufferPointer { table in
                    out.withUnsafeMutableBufferPointer { o in
                        secondsPerCall {
                            attention(
                                queries: p.baseAddress!, queryRowStride: stride, keys: p.baseAddress! + width,
                                keyRowStride: stride, values: p.baseAddress! + 2 * width, valueRowStride: stride,
                                output: o.baseAddress!, outputRowStride: width, sequenceLengths: [n],
                                queryHeads: heads, kvHeads: heads, headDim: headDim, scale: 0.125, window: .full,
                                relativeBias: biased
                                    ? RelativePositionBias(table: table.baseAddress!, maxLength: maxLength) : nil,
                                pool: pool)
                        }
                    }
                }
            }
            line += String(format: "  %8.3f ms", seconds * 1e3)
        }
        print(line)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
