import Foundation
import Testing

@testable import Kernels

@Suite("compute pool")
struct ComputePoolTests {
    @Test("every index runs exactly once, for many loops in a row", arguments: [1, 2, 3])
    func coversEveryIndex(threads: Int) {
        let pool = ComputePool(threadCount: threads)
        #expect(pool.threadCount == threads)
        for count in [0, 1, 2, 5, 64, 1000] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0, count: max(count, 1))
            defer { hits.deallocate() }
            // Each index writes only its own element.
            nonisolated(unsafe) let shared = hits
            pool.parallelFor(count) { shared[$0] += 1 }
            #expect((0..<count).allSatisfy { hits[$0] == 1 })
        }
    }

    /// Items sleep so that the worker takes some of them; each records the variant its kernels would use and
    /// whether it ran off the calling thread.
    @Test("bodies on worker threads see the variant the caller forced")
    func forcedVariantReachesWorkers() {
        let pool = ComputePool(threadCount: 2)
        let caller = pthread_self()
        for variant in KernelVariant.supported {
            let count = 32
            let seen = UnsafeMutablePointer<KernelVariant?>.allocate(capacity: count)
            seen.initialize(repeating: nil, count: count)
            let offCaller = UnsafeMutablePointer<Bool>.allocate(capacity: count)
            offCaller.initialize(repeating: false, count: count)
            defer { seen.deallocate(); offCaller.deallocate() }
            // Each index writes only its own elements.
            nonisolated(unsafe) let sharedSeen = seen, sharedOffCaller = offCaller
            KernelVariant.$override.withValue(variant) {
                pool.parallelFor(count) { index in
                    usleep(500)
                    sharedSeen[index] = KernelVariant.current
                    sharedOffCaller[index] = pthread_equal(pthread_self(), caller) == 0
                }
            }
            #expect((0..<count).allSatisfy { seen[$0] == variant }, "\(variant)")
            #expect((0..<count).contains { offCaller[$0] }, "no item ran on the worker")
        }
    }

    @Test("thread slots stay below threadCount and the caller's slot is 0 when it runs alone")
    func slots() {
        let pool = ComputePool(threadCount: 2)
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: 200)
        defer { slots.deallocate() }
        nonisolated(unsafe) let shared = slots
        pool.parallelFor(200) { index, slot in shared[index] = slot }
        #expect((0..<200).allSatisfy { (0..<2).contains(slots[$0]) })
        pool.parallelFor(1) { index, slot in shared[index] = slot + 10 }
        #expect(slots[0] == 10)
    }

    @Test("a loop inside a loop body runs inline instead of deadlocking")
    func nested() {
        let pool = ComputePool(threadCount: 2)
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: 40)
        hits.initialize(repeating: 0, count: 40)
        defer { hits.deallocate() }
        nonisolated(unsafe) let shared = hits
        pool.parallelFor(4) { outer in
            pool.parallelFor(10) { inner in shared[outer * 10 + inner] += 1 }
        }
        #expect((0..<40).allSatisfy { hits[$0] == 1 })
    }
}

@Suite("CPU dispatch")
struct DispatchTests {
    @Test(
        "the active variant is the best supported one start-up may choose, portable always is supported, and the name is the variant's"
    )
    func active() {
        #expect(KernelVariant.active.isSupported)
        #expect(KernelVariant.supported.contains(.portable))
        #expect(
            KernelVariant.supported.first { $0.isStartupChoice } == KernelVariant.active
                || ProcessInfo.processInfo.environment["EMBED_KERNELS"] != nil)
        #expect(Kernels.activeVariant == KernelVariant.active.rawValue)
    }

    /// Each variant module exports one table, built from the shared SIMD sources for its own register file; the
    /// avx512bf16 module adds the vdpbf16ps GEMM, and avx512amx is that table with the GEMM on AMX tiles.
    @Test("each supported variant's table has its tile height, and a bf16 dot GEMM exactly where the variant has one")
    func tables() {
        forEachVariant { variant in
            let table = KernelVariant.current.table
            let wideRegisterFile: Set<KernelVariant> = [.avx512, .avx512bf16, .avx512amx]
            #expect(table.firstTileRows == (wideRegisterFile.contains(variant) ? 12 : 6), "\(variant)")
            #expect((table.bfloat16Dot != nil) == [.avx512bf16, .avx512amx].contains(variant), "\(variant)")
        }
    }

    /// AMX is opt-in (its parity), and vdpbf16ps is chosen only where it beats the FMAs it replaces: on a CPU
    /// that has it, the measured ratio decides, and it is far from 1 on every CPU measured (0.5 or 2).
    @Test("avx512amx is never start-up's choice, and avx512bf16 is exactly where vdpbf16ps outpaces the FMAs")
    func startupChoice() {
        #expect(!KernelVariant.avx512amx.isStartupChoice)
        #expect(
            KernelVariant.avx512.isStartupChoice && KernelVariant.avx2.isStartupChoice
                && KernelVariant.portable.isStartupChoice)
        #if arch(x86_64)
            if KernelVariant.avx512bf16.isSupported {
                let ratio = KernelVariant.measuredDotSpeedOverFMA()
                #expect(ratio > 0.3 && ratio < 3, "vdpbf16ps against FMA: \(ratio)")
                if ratio < 0.8 || ratio > 1.6 { #expect(KernelVariant.avx512bf16.isStartupChoice == (ratio > 1.2)) }
            }
        #endif
    }
}
