import KernelsInterface

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if arch(x86_64)
    import KernelsAVX2
    import KernelsAVX512
    import KernelsAVX512BF16
#endif
#if arch(x86_64) && os(Linux)
    import KernelsAMX
#endif

/// A compiled copy of the SIMD kernels: the same source built for one instruction set.
package enum KernelVariant: String, CaseIterable, Sendable {
    /// AVX-512 with BF16 and AMX: the avx512bf16 kernels, with the bf16 weight GEMM on AMX tiles (Sapphire Rapids
    /// and later, on Linux). Only when forced (see `isStartupChoice`).
    case avx512amx
    /// AVX-512 with BF16 (and VNNI): the avx512 kernels, and for bf16 weights a GEMM on vdpbf16ps, which multiplies
    /// two K rows per instruction with x rounded to bf16 (built for `cooperlake`).
    case avx512bf16
    /// AVX-512 (F, BW, DQ, VL) with FMA: 12×32 tiles in 32 zmm registers (built for `skylake-avx512`).
    case avx512
    /// AVX2 with FMA: 6×16 tiles in 16 ymm registers (built for `haswell`).
    case avx2
    /// Whatever the build's baseline offers (SSE2 on x86-64, NEON on arm64).
    case portable

    /// The variant this process runs: `EMBED_KERNELS` if set (it must be supported), else the best supported one
    /// that start-up may choose by itself.
    package static let active: KernelVariant = {
        guard let forced = getenv("EMBED_KERNELS").map({ String(cString: $0) }), !forced.isEmpty else {
            // The start-up choice first: asking whether avx512amx is supported requests the AMX tile state from
            // Linux, which a process that never runs AMX should not hold.
            return allCases.first { $0.isStartupChoice && $0.isSupported }!
        }
        guard let variant = KernelVariant(rawValue: forced) else {
            fatalError(
                "EMBED_KERNELS=\(forced) is not a kernel variant; use one of: \(allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard variant.isSupported else {
            fatalError(
                "EMBED_KERNELS=\(forced), but this CPU cannot run it; supported here: \(supported.map(\.rawValue).joined(separator: ", "))"
            )
        }
        return variant
    }()

    /// Whether bf16 weights are multiplied in bf16 pairs (x rounded to bf16 as well) rather than widened to fp32.
    package var multipliesBFloat16Pairs: Bool { table.bfloat16Dot != nil }

    /// The variants this CPU can run, best first.
    package static var supported: [KernelVariant] { allCases.filter(\.isSupported) }

    /// Whether the CPU (and OS) offer every instruction set the variant was compiled for.
    package var isSupported: Bool {
        switch self {
        case .portable: return true
        #if arch(x86_64)
            case .avx2: return CPUFeatures.current.isSuperset(of: CPUFeatures.haswell)
            case .avx512: return CPUFeatures.current.isSuperset(of: CPUFeatures.skylakeAVX512)
            case .avx512bf16: return CPUFeatures.current.isSuperset(of: CPUFeatures.cooperLake)
        #endif
        #if arch(x86_64) && os(Linux)
            case .avx512amx: return CPUFeatures.current.isSuperset(of: CPUFeatures.sapphireRapids) && amxPermitted
        #elseif arch(x86_64)
            case .avx512amx: return false
        #else
            case .avx2, .avx512, .avx512bf16, .avx512amx: return false
        #endif
        }
    }

    /// Whether start-up picks this variant when the CPU supports it.
    /// - avx512amx: never by itself. x rounded to bf16 costs the same parity as on avx512bf16, but on the golden
    ///   texts one 24-token case lands at cosine 0.99984 to the reference, under the 0.9999 that bf16 promises (the
    ///   avx512bf16 GEMM's worst is 0.99994 on the same texts, a 17-token one): a summation order that rounding
    ///   x to bf16 leaves no margin for. Forcing it trades that for 2–3× the speed of the widened bf16 GEMM
    ///   (430–780 against 230–280 GFLOP/s over the model's shapes on Emerald Rapids).
    /// - avx512bf16: where vdpbf16ps outpaces the FMAs it replaces (`measuredDotSpeedOverFMA`, under a millisecond at
    ///   start-up): twice their work on Zen 4, half of it on Emerald Rapids, whose bf16 weights then run faster
    ///   widened (avx512).
    var isStartupChoice: Bool {
        switch self {
        case .avx512amx: return false
        #if arch(x86_64)
            case .avx512bf16: return Self.dotOutpacesFMA
        #endif
        default: return true
        }
    }

    #if arch(x86_64)
        /// Measured only where the CPU has the instruction.
        private static let dotOutpacesFMA: Bool = avx512bf16.isSupported && measuredDotSpeedOverFMA() > 1.2

        /// vdpbf16ps's work per second over the FMAs' on this core (needs AVX512-BF16), as start-up measures it.
        package static func measuredDotSpeedOverFMA() -> Double { KernelsAVX512BF16.measuredDotSpeedOverFMA() }
    #endif

    /// Overrides `active` for the current thread or task (tests run every supported variant this way).
    @TaskLocal static var override: KernelVariant?

    /// The variant kernels called now use.
    static var current: KernelVariant { override ?? active }

    /// The function table of this variant: the `kernelTable` its module exports.
    var table: KernelTable {
        switch self {
        #if arch(x86_64) && os(Linux)
            case .avx512amx: return KernelsAMX.kernelTable
        #elseif arch(x86_64)
            case .avx512amx: return KernelsAVX512BF16.kernelTable
        #endif
        #if arch(x86_64)
            case .avx512bf16: return KernelsAVX512BF16.kernelTable
            case .avx512: return KernelsAVX512.kernelTable
            case .avx2: return KernelsAVX2.kernelTable
        #else
            case .avx512amx, .avx512bf16, .avx512, .avx2: return Kernels.kernelTable
        #endif
        case .portable: return Kernels.kernelTable
        }
    }
}

/// The kernel variant this process runs (`avx512bf16`, `avx512`, `avx2` or `portable`), for /info and the start-up log.
package var activeVariant: String { KernelVariant.active.rawValue }

#if arch(x86_64)
    /// The x86-64 features the variants were compiled for, as the OS reports them usable.
    struct CPUFeatures: OptionSet, Sendable {
        let rawValue: Int

        static let avx = CPUFeatures(rawValue: 1 << 0)
        static let avx2 = CPUFeatures(rawValue: 1 << 1)
        static let fma = CPUFeatures(rawValue: 1 << 2)
        static let f16c = CPUFeatures(rawValue: 1 << 3)
        static let bmi1 = CPUFeatures(rawValue: 1 << 4)
        static let bmi2 = CPUFeatures(rawValue: 1 << 5)
        static let lzcnt = CPUFeatures(rawValue: 1 << 6)
        static let movbe = CPUFeatures(rawValue: 1 << 7)
        static let avx512f = CPUFeatures(rawValue: 1 << 8)
        static let avx512bw = CPUFeatures(rawValue: 1 << 9)
        static let avx512dq = CPUFeatures(rawValue: 1 << 10)
        static let avx512vl = CPUFeatures(rawValue: 1 << 11)
        static let avx512cd = CPUFeatures(rawValue: 1 << 12)
        static let avx512vnni = CPUFeatures(rawValue: 1 << 13)
        static let avx512bf16 = CPUFeatures(rawValue: 1 << 14)
        static let amxTile = CPUFeatures(rawValue: 1 << 15)
        static let amxBF16 = CPUFeatures(rawValue: 1 << 16)

        /// What `-target-cpu haswell` lets the compiler use.
        static let haswell: CPUFeatures = [.avx, .avx2, .fma, .f16c, .bmi1, .bmi2, .lzcnt, .movbe]
        /// What `-target-cpu skylake-avx512` adds on top.
        static let skylakeAVX512: CPUFeatures = haswell.union([.avx512f, .avx512bw, .avx512dq, .avx512vl, .avx512cd])
        /// What `-target-cpu cooperlake` adds on top of that.
        static let cooperLake: CPUFeatures = skylakeAVX512.union([.avx512vnni, .avx512bf16])
        /// The AMX part of what `-target-cpu sapphirerapids` lets KernelsAMX use (its Swift is plain loops and the
        /// tile wrappers).
        static let sapphireRapids: CPUFeatures = cooperLake.union([.amxTile, .amxBF16])

        /// Linux lists a feature in /proc/cpuinfo only when the kernel also saves its registers (XCR0), so a listed
        /// feature is usable; macOS answers through sysctl.
        static let current: CPUFeatures = {
            var features: CPUFeatures = []
            #if os(Linux)
                let names: [(String, CPUFeatures)] = [
                    ("avx", .avx), ("avx2", .avx2), ("fma", .fma), ("f16c", .f16c), ("bmi1", .bmi1), ("bmi2", .bmi2),
                    ("abm", .lzcnt), ("movbe", .movbe), ("avx512f", .avx512f), ("avx512bw", .avx512bw),
                    ("avx512dq", .avx512dq), ("avx512vl", .avx512vl), ("avx512cd", .avx512cd),
                    ("avx512_vnni", .avx512vnni), ("avx512_bf16", .avx512bf16), ("amx_tile", .amxTile),
                    ("amx_bf16", .amxBF16),
                ]
                guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
                defer { fclose(file) }
                var line: UnsafeMutablePointer<CChar>?
                var capacity = 0
                defer { free(line) }
                while getline(&line, &capacity, file) > 0 {
                    let text = String(cString: line!)
                    guard text.hasPrefix("flags") else { continue }
                    let flags = Set(
                        text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ":" }).map(
                            String.init))
                    for (name, feature) in names where flags.contains(name) { features.insert(feature) }
                    break
                }
            #elseif os(macOS)
                let sysctlNames: [(String, CPUFeatures)] = [
                    ("hw.optional.avx1_0", .avx), ("hw.optional.avx2_0", .avx2), ("hw.optional.fma", .fma),
                    ("hw.optional.f16c", .f16c), ("hw.optional.bmi1", .bmi1), ("hw.optional.bmi2", .bmi2),
                    ("hw.optional.lzcnt", .lzcnt), ("hw.optional.movbe", .movbe), ("hw.optional.avx512f", .avx512f),
                    ("hw.optional.avx512bw", .avx512bw), ("hw.optional.avx512dq", .avx512dq),
                    ("hw.optional.avx512vl", .avx512vl), ("hw.optional.avx512cd", .avx512cd),
                ]
                for (name, feature) in sysctlNames {
                    var value: Int32 = 0
                    var size = MemoryLayout<Int32>.size
                    if sysctlbyname(name, &value, &size, nil, 0) == 0 && value != 0 { features.insert(feature) }
                }
            #endif
            return features
        }()
    }
#endif
