// swift-tools-version:6.0
import PackageDescription

// The math kernels are compiled with optimisation in every configuration: a debug build of a SIMD loop
// is hundreds of times slower, and the real-model tests must stay fast. On x86-64 they also need the
// vector ISA named at compile time (SIMD16<Float> without it is split into SSE2 pieces: 1 GFLOP/s instead of
// 200). EMBED_TARGET_CPU overrides the default; the binary checks at start-up that the CPU has it.
#if arch(x86_64)
let targetCPU = Context.environment["EMBED_TARGET_CPU"] ?? "native"
let cpuFlags = ["-target-cpu", targetCPU]
#else
let cpuFlags: [String] = []
#endif
// Whole-module optimisation for the kernel modules in every configuration too: a debug build otherwise compiles file
// by file, and a generic tile called from another file of the module runs unspecialised, with a protocol call per
// FMA (the real-model and kernel tests: 96 s → 39 s in a debug build). `-num-threads` keeps one object file per
// source, as SwiftPM's index store expects; the driver's remark that incremental builds are off is this.
let kernelFlags = ["-Ounchecked", "-wmo", "-num-threads", "1"]
// Modules that read model files keep their bounds and overflow checks (-O, not -Ounchecked): the files are untrusted.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"] + cpuFlags)]

// Kernels itself is built for the baseline ISA (its copy of the SIMD code is the portable variant); the same SIMD
// sources are compiled again, once per instruction set, into KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16, and
// Kernels picks one at start-up from the CPU's features (EMBED_KERNELS forces one). So one binary runs near peak on
// any x86-64.
#if arch(x86_64)
let avx2Flags = ["-target-cpu", "haswell"]
let avx512Flags = ["-target-cpu", "skylake-avx512"]
// Cooper Lake is Skylake-AVX512 plus VNNI and BF16: what vdpbf16ps needs in the caller to inline.
let avx512BF16Flags = ["-target-cpu", "cooperlake"]
// Sapphire Rapids adds AMX, whose tile instructions the CAMX wrappers inline into KernelsAMX.
let amxFlags = ["-target-cpu", "sapphirerapids"]
#else
let avx2Flags: [String] = []
let avx512Flags: [String] = []
let avx512BF16Flags: [String] = []
let amxFlags: [String] = []
#endif

let package = Package(
    name: "embed-server",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "embed-server", targets: ["embed-server"]),
        .executable(name: "bench-kernels", targets: ["bench-kernels"]),
        // The encoder core in process: `import Embeddings` (docs: Sources/Embeddings/Embeddings.docc).
        .library(name: "Embeddings", targets: ["Embeddings"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation --target Embeddings`: the library's DocC catalog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // SIMD math on raw buffers: packed GEMM, norms, RoPE, softmax, GELU. Knows no model.
        .target(name: "Kernels",
                dependencies: ["KernelsInterface", "KernelsAVX2", "KernelsAVX512", "KernelsAVX512BF16", "KernelsAMX",
                               "CPrefetch"],
                swiftSettings: [.unsafeFlags(kernelFlags)]),
        // The table of entry points that each compiled copy of the kernels exports (`kernelTable`) and Kernels calls,
        // with the argument structs of the long signatures.
        .target(name: "KernelsInterface"),
        // Kernels/SIMD (symlinked) compiled for AVX2+FMA, for AVX-512, and for AVX-512 with BF16, which adds the bf16
        // dot-product GEMM (its DotKernels.swift).
        .target(name: "KernelsAVX2", dependencies: ["KernelsInterface", "CPrefetch"],
                swiftSettings: [.unsafeFlags(kernelFlags + avx2Flags)]),
        .target(name: "KernelsAVX512", dependencies: ["KernelsInterface", "CPrefetch"],
                swiftSettings: [.unsafeFlags(kernelFlags + avx512Flags)]),
        .target(name: "KernelsAVX512BF16", dependencies: ["KernelsInterface", "CPrefetch", "CBF16Dot"],
                swiftSettings: [.unsafeFlags(kernelFlags + avx512BF16Flags)]),
        // The bf16 GEMM on AMX tiles (Sapphire Rapids and later): 16×16×32 multiply-adds per instruction. Its table is
        // KernelsAVX512BF16's with that GEMM in place of the vdpbf16ps one.
        .target(name: "KernelsAMX", dependencies: ["KernelsInterface", "KernelsAVX512BF16", "CAMX", "CPrefetch"],
                swiftSettings: [.unsafeFlags(kernelFlags + amxFlags)]),
        // A cache prefetch hint for the GEMM's weight stream (a C header: Swift has no prefetch intrinsic).
        .systemLibrary(name: "CPrefetch"),
        // AVX512-BF16's dot product vdpbf16ps (a C header: Swift has no intrinsic for it).
        .systemLibrary(name: "CBF16Dot"),
        // AMX's tile configuration, loads, stores and bf16 tile dot product (a C header: Swift has no intrinsics).
        .systemLibrary(name: "CAMX"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        // `scripts/bench/bench-kernels`: GEMM GFLOP/s at the model's shapes and attention times.
        .executableTarget(name: "bench-kernels", dependencies: ["Kernels"], swiftSettings: optimised),
        // The one JSON reader of untrusted bytes: a strict RFC 8259 pull reader (tokenizer.json's vocab and merges
        // stream through it) and the `JSONValue` tree built on it (API bodies, model files, the safetensors header,
        // the Hub's error bodies), errors as a reason and a byte offset. Callers word them: TEI's serde wording in
        // EmbeddingAPI, file and line/column for model files.
        .target(name: "JSON", swiftSettings: optimised),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        // .safetensors files: the header checked as untrusted input, tensors read with pread (never mapped).
        .target(name: "Safetensors", dependencies: ["JSON"]),
        // Hugging Face tokenizer.json: normalizer, pre-tokenizer, BPE, added tokens, post-processor, decoder.
        .target(name: "Tokenizers", dependencies: ["JSON"], swiftSettings: optimised),
        // EmbeddingGemma: config, weights, the Gemma3 encoder over a packed batch, pooling and Dense head.
        .target(name: "EmbeddingModel", dependencies: ["Kernels", "Safetensors", "JSON"], swiftSettings: optimised),
        // System libraries the transport links: zlib for gzip, OpenSSL for TLS.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // epoll and eventfd headers, which Swift's Glibc module leaves out.
        .systemLibrary(name: "CEpoll"),
        // HTTP/1.1 over POSIX sockets and epoll event loops. Knows nothing about embeddings.
        .target(name: "HTTPServer", dependencies: ["CZlib", "COpenSSL", "CEpoll", "JSON"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "CZlib", "TestSupport"]),
        // A trivial-handler server for scripts/bench/bench-http.
        .executableTarget(name: "bench-http-server", dependencies: ["HTTPServer"]),
        // The queue and dynamic batcher between many requests and one encoder.
        .target(name: "Batching"),
        // The library product: load a model (directory or Hub id), embed texts with prompts, dimensions and
        // truncation, tokenize; many tasks' calls packed into shared forward passes. Its public API names none of
        // the modules below.
        .target(name: "Embeddings", dependencies: ["EmbeddingModel", "Tokenizers", "ModelHub", "Batching", "Kernels"]),
        .testTarget(name: "EmbeddingsTests", dependencies: ["Embeddings", "TestSupport"]),
        // TEI and OpenAI wire types, validation, errors, routes, metrics.
        .target(
            name: "EmbeddingAPI",
            dependencies: ["HTTPServer", "Batching", "Tokenizers", "EmbeddingModel", "Embeddings", "JSON"],
            resources: [.embedInCode("Resources/tei-openapi.json")]),
        // --model-id → a local directory: the Hugging Face cache layout, downloads from the Hub over TLS.
        .target(name: "ModelHub", dependencies: ["COpenSSL", "JSON"]),
        // The executable: CLI, configuration, logging, signals, wiring.
        .executableTarget(name: "embed-server", dependencies: [
            "EmbeddingAPI", "Embeddings", "EmbeddingModel", "Tokenizers", "HTTPServer", "Batching", "ModelHub", "Kernels",
            "JSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Encoder throughput and memory on the real model, for scripts/bench/bench-encoder.
        .executableTarget(name: "bench-encoder", dependencies: [
            "EmbeddingModel", "Kernels", "Tokenizers", "JSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ModelHubTests", dependencies: ["ModelHub"], exclude: ["Fixtures"]),
        .testTarget(name: "BatchingTests", dependencies: ["Batching", "TestSupport"]),
        // scripts/bench/bench-tokenizer: load time and one-core encode throughput of the tokenizer.
        .executableTarget(name: "bench-tokenizer", dependencies: ["Tokenizers", "JSON"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "JSON"], exclude: ["Fixtures"]),
        .testTarget(name: "SafetensorsTests", dependencies: ["Safetensors"]),
        // docker/entrypoint.sh, run as the container runs it.
        .testTarget(name: "DeployTests", dependencies: ["TestSupport"]),
        .testTarget(name: "EmbeddingModelTests", dependencies: ["EmbeddingModel", "Safetensors", "Kernels", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(
            name: "EmbeddingAPITests",
            dependencies: [
                "EmbeddingAPI", "Embeddings", "HTTPServer", "EmbeddingModel", "Tokenizers", "Kernels", "TestSupport",
            ],
            exclude: ["Fixtures"]),
        .testTarget(name: "EmbedServerTests", dependencies: ["embed-server", "JSON", "TestSupport"]),
        // What several test targets share: the raw-socket HTTP client, thread and polling helpers, vector
        // comparisons, and the shared fixtures (the tiny model in Tests/Fixtures).
        .target(name: "TestSupport", dependencies: ["HTTPServer"], path: "Tests/TestSupport"),
    ]
)
