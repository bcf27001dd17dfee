// Register-tiled GEMM micro-kernels: C[rows × columns] (= or +=) A[rows × kCount] · B[kCount × columns].
// A rows are `lda` apart (one scalar per row per k, broadcast). B is read in 16-column halves: row k of a half is
// 16 elements at `b + k·ldb`, fp32 or bf16 (widened on load), and for up to 32 columns the high half starts `high`
// elements after the low one. Packed weights keep each half contiguous (ldb = 16, high = K·16), so a pass over a
// half streams whole cache lines in order; attention's K/V panels interleave the halves (ldb = 32, high = 16).
// Each kernel has one body, generic over its row count (`TileRows`), so every tile height is its own specialization
// in which the unused accumulator rows compile away.
//
// This file is compiled once per CPU variant (Kernels = portable; KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16
// link to it).

import CPrefetch

typealias Vector = SIMD16<Float>

/// How many bytes ahead of the B row it reads a prefetching tile asks for B. A short query's weights come from memory
/// once, in storage order; with this look-ahead a single pass over them reads at the machine's full bandwidth. Ten
/// rows through the model's 24 layers of GEMMs on two threads (Emerald Rapids, AVX-512): no software prefetch
/// 19.5 GB/s, 512 B ahead 22, 1 KB 24, 2 KB 25, 4 KB 24.5 (a plain read loop: 25).
let prefetchDistance = 2048

/// Asks for the cache line `prefetchDistance` bytes past `row`. A prefetch never faults, so past the end is harmless.
@inline(__always)
func prefetchAhead<B>(_ row: UnsafePointer<B>) {
    prefetchForRead(UnsafeRawPointer(row) + prefetchDistance)
}

/// The addresses a prefetching tile asks for: `start` at its first k step and `step` bytes further at each next one
/// (a 12×32 tile also asks `high` elements on, in the high half). The first tile over a panel or half streams its own
/// rows `prefetchDistance` ahead; the later ones each fetch a slice of what the task reads next (see `tileBlock`).
struct PrefetchStream {
    let start: UnsafeRawPointer
    let step: Int

    /// A tile's own B rows, `rowBytes` apart, `prefetchDistance` ahead of its reads.
    static func ahead<B>(of b: UnsafePointer<B>, rowBytes: Int) -> PrefetchStream {
        PrefetchStream(start: UnsafeRawPointer(b) + prefetchDistance, step: rowBytes)
    }

    /// Slice `index` of `count` even slices of the `kCount` rows (`rowBytes` each) from `rows`, at a steady pace
    /// over a tile's `kCount` k steps.
    static func slice<B>(
        _ index: Int, of count: Int, rows: UnsafePointer<B>, kCount: Int,
        rowBytes: Int
    ) -> PrefetchStream {
        let sliceBytes = kCount * rowBytes / count
        return PrefetchStream(start: UnsafeRawPointer(rows) + index * sliceBytes, step: sliceBytes / kCount)
    }
}

/// Whether a tile prefetches: its own B rows ahead of its reads, or (a later row tile) the task's next panel. A type
/// rather than a Bool: each mode is its own specialization, so the loop has no per-k-step test. (With a Bool the
/// optimizer outlined the tile and kept the test in the loop.)
protocol PrefetchMode {
    static var enabled: Bool { get }
}

enum PrefetchAhead: PrefetchMode {
    static var enabled: Bool { true }
}

enum NoPrefetch: PrefetchMode {
    static var enabled: Bool { false }
}

/// A tile's row count as a type. With `rows: Int` and a literal at each call site the optimizer inlined one height
/// and sent the other eleven to one shared copy that tested the row count at every k step; a type parameter makes
/// each height its own specialization, with its constant folded in.
protocol TileRows {
    static var count: Int { get }
}

enum Rows1: TileRows { static var count: Int { 1 } }
enum Rows2: TileRows { static var count: Int { 2 } }
enum Rows3: TileRows { static var count: Int { 3 } }
enum Rows4: TileRows { static var count: Int { 4 } }
enum Rows5: TileRows { static var count: Int { 5 } }
enum Rows6: TileRows { static var count: Int { 6 } }
enum Rows7: TileRows { static var count: Int { 7 } }
enum Rows8: TileRows { static var count: Int { 8 } }
enum Rows9: TileRows { static var count: Int { 9 } }
enum Rows10: TileRows { static var count: Int { 10 } }
enum Rows11: TileRows { static var count: Int { 11 } }
enum Rows12: TileRows { static var count: Int { 12 } }

@inline(__always)
func load(_ pointer: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
}

@inline(__always)
func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
}

/// What a B row is made of: 16 floats, or 16 bf16 values.
protocol PanelElement {
    /// The 16 columns of the B row at `pointer`, in fp32.
    static func row(at pointer: UnsafePointer<Self>) -> Vector
    /// Rows per 12×32 tile pass with 32 registers when B is in cache (see `tileBody12x32`).
    static var wideTileRows: Int { get }
}

extension Float: PanelElement {
    @inline(__always)
    static func row(at pointer: UnsafePointer<Float>) -> Vector { load(pointer) }

    static var wideTileRows: Int { 12 }
}

/// Eight pairs of bf16 weights, one per 32-bit word: columns 0..<8 of a row in the low halves of the words and
/// columns 8..<16 in the high halves. A bf16 value is the high half of the fp32 with the same bits, so widening a
/// row is one shift and one mask, with no shuffle.
typealias BFloat16Pair = UInt32

extension BFloat16Pair: PanelElement {
    @inline(__always)
    static func row(at pointer: UnsafePointer<UInt32>) -> Vector {
        let words = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<UInt32>.self)
        return Vector(
            lowHalf: unsafeBitCast(words &<< 16, to: SIMD8<Float>.self),
            highHalf: unsafeBitCast(words & 0xFFFF_0000, to: SIMD8<Float>.self))
    }

    /// With 12 rows LLVM hoists all twelve broadcasts above the widening shuffles and spills accumulators: 20%
    /// slower than 10 rows on the bench corpus, and 10 rows was 2–3% faster than 6 or 8. This applies below
    /// `MatmulPlan.widenedFromRows` rows only; from there the panels are widened first and the fp32 tile takes 12.
    /// (A tile bound by memory also takes 12: see `tileBlock`.)
    static var wideTileRows: Int { 10 }
}

/// What a tile multiplies at each k step: a value of A broadcast to every lane, times a row of B, added into fp32
/// lanes. `Widening`: fp32 A against fp32 or widened bf16 B. The avx512bf16 variant adds bf16 pairs against bf16
/// pairs (`PairDot`, DotKernels.swift). The tiles and blocks below are generic over it, so one body serves both.
protocol TileOperands {
    associatedtype AElement
    associatedtype BElement
    /// A broadcast value of A and a row of B, as the multiply takes them.
    associatedtype Operand
    static func broadcast(_ value: AElement) -> Operand
    /// The 16 columns of the B row at `pointer`.
    static func row(at pointer: UnsafePointer<BElement>) -> Operand
    static func multiplyAdd(_ sum: Vector, _ a: Operand, _ b: Operand) -> Vector
    /// Asks for one line of a tile's prefetch stream (`PrefetchStream`).
    static func prefetch(_ address: UnsafeRawPointer)
    /// Rows per 12×32 tile pass with 32 registers when B is in cache (see `tileBody12x32`).
    static var wideTileRows: Int { get }
}

/// fp32 rows of A times B rows of fp32 or bf16 (widened on load): one FMA per row of A and 16 columns.
enum Widening<B: PanelElement>: TileOperands {
    @inline(__always)
    static func broadcast(_ value: Float) -> Vector { Vector(repeating: value) }

    @inline(__always)
    static func row(at pointer: UnsafePointer<B>) -> Vector { B.row(at: pointer) }

    @inline(__always)
    static func multiplyAdd(_ sum: Vector, _ a: Vector, _ b: Vector) -> Vector { sum.addingProduct(a, b) }

    /// Into L1 at the stream's address, and into L2 `prefetchDistance` further on, so twice as much of the stream
    /// is on its way from memory while the FMAs run: an 11-row pass over a query's 24 layers of fp32 weights takes
    /// 12.9–13.4 ms against 17.6–18.1 with the L1 request alone (6×16 tile, `bench-kernels 2 stream`); large
    /// batches are unchanged.
    @inline(__always)
    static func prefetch(_ address: UnsafeRawPointer) {
        prefetchForRead(address)
        prefetchToL2(address + prefetchDistance)
    }

    static var wideTileRows: Int { B.wideTileRows }
}

/// Writes (or adds) the first `columns` (≤ 16) lanes of `value` to `pointer`.
@inline(__always)
func storeLanes(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>, columns: Int, accumulate: Bool) {
    if columns >= 16 {
        store(accumulate ? load(pointer) + value : value, pointer)
    } else {
        for lane in 0..<columns { pointer[lane] = accumulate ? pointer[lane] + value[lane] : value[lane] }
    }
}

/// Writes (or adds) one row of a tile up to 32 columns wide: `low` to its first 16 columns, `upper` to the rest.
@inline(__always)
func storeRow(_ low: Vector, _ upper: Vector, _ pointer: UnsafeMutablePointer<Float>, columns: Int, accumulate: Bool) {
    storeLanes(low, pointer, columns: min(16, columns), accumulate: accumulate)
    if columns > 16 { storeLanes(upper, pointer + 16, columns: columns - 16, accumulate: accumulate) }
}

// MARK: 12 × 32 (two SIMD16 per row: 24 accumulators; for 32 vector registers, i.e. AVX-512)

/// Twelve rows rather than six: each k step's two B vectors then feed 24 FMAs instead of 12, so the loop's loads and
/// integer work take a smaller share of the issue slots. On a Xeon (Emerald Rapids) over the model's GEMM shapes with
/// M ≥ 128: 161 GFLOP/s on one core and 305 on two, against 147 and 281 with 6 rows (FMA-only peak 170 per core);
/// 8 rows fell in between. Widened bf16 panels use fewer rows (`BFloat16Pair.wideTileRows`).
@inline(__always)
private func tileBody12x32<Op: TileOperands, Mode: PrefetchMode, R: TileRows>(
    operands _: Op.Type, rows _: R.Type, mode: Mode.Type, kCount: Int, a: UnsafePointer<Op.AElement>, lda: Int,
    b: UnsafePointer<Op.BElement>, high: Int, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int,
    accumulate: Bool, prefetch: PrefetchStream
) {
    let rows = R.count
    var c00 = Vector(), c01 = Vector(), c10 = Vector(), c11 = Vector(), c20 = Vector(), c21 = Vector()
    var c30 = Vector(), c31 = Vector(), c40 = Vector(), c41 = Vector(), c50 = Vector(), c51 = Vector()
    var c60 = Vector(), c61 = Vector(), c70 = Vector(), c71 = Vector(), c80 = Vector(), c81 = Vector()
    var c90 = Vector(), c91 = Vector(), cA0 = Vector(), cA1 = Vector(), cB0 = Vector(), cB1 = Vector()
    var ap = a
    var bp = b
    var pp = prefetch.start
    let highBytes = high * MemoryLayout<Op.BElement>.stride
    for _ in 0..<kCount {
        if Mode.enabled {
            Op.prefetch(pp)
            Op.prefetch(pp + highBytes)
            pp += prefetch.step
        }
        let b0 = Op.row(at: bp), b1 = Op.row(at: bp + high)
        var s = Op.broadcast(ap[0])
        c00 = Op.multiplyAdd(c00, s, b0); c01 = Op.multiplyAdd(c01, s, b1)
        if rows > 1 {
            s = Op.broadcast(ap[lda]); c10 = Op.multiplyAdd(c10, s, b0); c11 = Op.multiplyAdd(c11, s, b1)
        }
        if rows > 2 {
            s = Op.broadcast(ap[2 * lda]); c20 = Op.multiplyAdd(c20, s, b0); c21 = Op.multiplyAdd(c21, s, b1)
        }
        if rows > 3 {
            s = Op.broadcast(ap[3 * lda]); c30 = Op.multiplyAdd(c30, s, b0); c31 = Op.multiplyAdd(c31, s, b1)
        }
        if rows > 4 {
            s = Op.broadcast(ap[4 * lda]); c40 = Op.multiplyAdd(c40, s, b0); c41 = Op.multiplyAdd(c41, s, b1)
        }
        if rows > 5 {
            s = Op.broadcast(ap[5 * lda]); c50 = Op.multiplyAdd(c50, s, b0); c51 = Op.multiplyAdd(c51, s, b1)
        }
        if rows > 6 {
            s = Op.broadcast(ap[6 * lda]); c60 = Op.multiplyAdd(c60, s, b0); c61 = Op.multiplyAdd(c61, s, b1)
        }
        if rows > 7 {
            s = Op.broadcast(ap[7 * lda]); c70 = Op.multiplyAdd(c70, s, b0); c71 = Op.multiplyAdd(c71, s, b1)
        }
        if rows > 8 {
            s = Op.broadcast(ap[8 * lda]); c80 = Op.multiplyAdd(c80, s, b0); c81 = Op.multiplyAdd(c81, s, b1)
        }
        if rows > 9 {
            s = Op.broadcast(ap[9 * lda]); c90 = Op.multiplyAdd(c90, s, b0); c91 = Op.multiplyAdd(c91, s, b1)
        }
        if rows > 10 {
            s = Op.broadcast(ap[10 * lda]); cA0 = Op.multiplyAdd(cA0, s, b0); cA1 = Op.multiplyAdd(cA1, s, b1)
        }
        if rows > 11 {
            s = Op.broadcast(ap[11 * lda]); cB0 = Op.multiplyAdd(cB0, s, b0); cB1 = Op.multiplyAdd(cB1, s, b1)
        }
        ap += 1
        bp += ldb
    }
    storeRow(c00, c01, c, columns: columns, accumulate: accumulate)
    if rows > 1 { storeRow(c10, c11, c + ldc, columns: columns, accumulate: accumulate) }
    if rows > 2 { storeRow(c20, c21, c + 2 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 3 { storeRow(c30, c31, c + 3 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 4 { storeRow(c40, c41, c + 4 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 5 { storeRow(c50, c51, c + 5 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 6 { storeRow(c60, c61, c + 6 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 7 { storeRow(c70, c71, c + 7 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 8 { storeRow(c80, c81, c + 8 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 9 { storeRow(c90, c91, c + 9 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 10 { storeRow(cA0, cA1, c + 10 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 11 { storeRow(cB0, cB1, c + 11 * ldc, columns: columns, accumulate: accumulate) }
}

/// 1…12 rows × up to 32 columns.
@inline(never)
private func tile12x32<Op: TileOperands, Mode: PrefetchMode>(
    operands: Op.Type, rows: Int, mode: Mode.Type, kCount: Int, a: UnsafePointer<Op.AElement>, lda: Int,
    b: UnsafePointer<Op.BElement>, high: Int, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int,
    accumulate: Bool, prefetch: PrefetchStream
) {
    switch rows {
    case 12:
        tileBody12x32(
            operands: operands, rows: Rows12.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 11:
        tileBody12x32(
            operands: operands, rows: Rows11.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 10:
        tileBody12x32(
            operands: operands, rows: Rows10.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 9:
        tileBody12x32(
            operands: operands, rows: Rows9.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 8:
        tileBody12x32(
            operands: operands, rows: Rows8.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 7:
        tileBody12x32(
            operands: operands, rows: Rows7.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 6:
        tileBody12x32(
            operands: operands, rows: Rows6.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 5:
        tileBody12x32(
            operands: operands, rows: Rows5.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 4:
        tileBody12x32(
            operands: operands, rows: Rows4.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 3:
        tileBody12x32(
            operands: operands, rows: Rows3.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 2:
        tileBody12x32(
            operands: operands, rows: Rows2.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    default:
        tileBody12x32(
            operands: operands, rows: Rows1.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, high: high,
            ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    }
}

// MARK: 6 × 16 (one SIMD16 per row: 6 accumulators = 12 ymm registers; for 16 vector registers, i.e. AVX2)

@inline(__always)
private func tileBody6x16<Op: TileOperands, Mode: PrefetchMode, R: TileRows>(
    operands _: Op.Type, rows _: R.Type, mode: Mode.Type, kCount: Int, a: UnsafePointer<Op.AElement>, lda: Int,
    b: UnsafePointer<Op.BElement>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int,
    accumulate: Bool, prefetch: PrefetchStream
) {
    let rows = R.count
    var c0 = Vector(), c1 = Vector(), c2 = Vector(), c3 = Vector(), c4 = Vector(), c5 = Vector()
    var ap = a
    var bp = b
    var pp = prefetch.start
    for _ in 0..<kCount {
        if Mode.enabled {
            Op.prefetch(pp)
            pp += prefetch.step
        }
        let b0 = Op.row(at: bp)
        c0 = Op.multiplyAdd(c0, Op.broadcast(ap[0]), b0)
        if rows > 1 { c1 = Op.multiplyAdd(c1, Op.broadcast(ap[lda]), b0) }
        if rows > 2 { c2 = Op.multiplyAdd(c2, Op.broadcast(ap[2 * lda]), b0) }
        if rows > 3 { c3 = Op.multiplyAdd(c3, Op.broadcast(ap[3 * lda]), b0) }
        if rows > 4 { c4 = Op.multiplyAdd(c4, Op.broadcast(ap[4 * lda]), b0) }
        if rows > 5 { c5 = Op.multiplyAdd(c5, Op.broadcast(ap[5 * lda]), b0) }
        ap += 1
        bp += ldb
    }
    storeLanes(c0, c, columns: columns, accumulate: accumulate)
    if rows > 1 { storeLanes(c1, c + ldc, columns: columns, accumulate: accumulate) }
    if rows > 2 { storeLanes(c2, c + 2 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 3 { storeLanes(c3, c + 3 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 4 { storeLanes(c4, c + 4 * ldc, columns: columns, accumulate: accumulate) }
    if rows > 5 { storeLanes(c5, c + 5 * ldc, columns: columns, accumulate: accumulate) }
}

/// 1…6 rows × up to 16 columns of one B half.
@inline(never)
private func tile6x16<Op: TileOperands, Mode: PrefetchMode>(
    operands: Op.Type, rows: Int, mode: Mode.Type, kCount: Int, a: UnsafePointer<Op.AElement>, lda: Int,
    b: UnsafePointer<Op.BElement>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int,
    accumulate: Bool, prefetch: PrefetchStream
) {
    switch rows {
    case 6:
        tileBody6x16(
            operands: operands, rows: Rows6.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, ldb: ldb, c: c,
            ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 5:
        tileBody6x16(
            operands: operands, rows: Rows5.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, ldb: ldb, c: c,
            ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 4:
        tileBody6x16(
            operands: operands, rows: Rows4.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, ldb: ldb, c: c,
            ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 3:
        tileBody6x16(
            operands: operands, rows: Rows3.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, ldb: ldb, c: c,
            ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    case 2:
        tileBody6x16(
            operands: operands, rows: Rows2.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, ldb: ldb, c: c,
            ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    default:
        tileBody6x16(
            operands: operands, rows: Rows1.self, mode: mode, kCount: kCount, a: a, lda: lda, b: b, ldb: ldb, c: c,
            ldc: ldc, columns: columns, accumulate: accumulate, prefetch: prefetch)
    }
}

// MARK: 1 × 16 or 1 × 32, K unrolled by 4 (a matrix-vector product)

/// One row of A: with one accumulator per column group the FMA latency, not throughput, would bound the loop, so
/// four k steps run on four independent accumulators and are summed at the end. `high` nil: one 16-column half;
/// otherwise both halves in one pass (8 accumulators, for 32 registers).
@inline(never)
private func tileRow<Op: TileOperands, Mode: PrefetchMode>(
    operands: Op.Type, mode: Mode.Type, kCount: Int, a: UnsafePointer<Op.AElement>, b: UnsafePointer<Op.BElement>,
    high: Int?, ldb: Int, c: UnsafeMutablePointer<Float>, columns: Int, accumulate: Bool
) {
    if let high {
        let (low, upper) = rowProduct(
            operands: operands, mode: mode, kCount: kCount, a: a, b: b, high: high,
            bothHalves: true, ldb: ldb)
        storeRow(low, upper, c, columns: columns, accumulate: accumulate)
    } else {
        let (low, _) = rowProduct(
            operands: operands, mode: mode, kCount: kCount, a: a, b: b, high: 0,
            bothHalves: false, ldb: ldb)
        storeLanes(low, c, columns: min(16, columns), accumulate: accumulate)
    }
}

/// Σ_k a[k]·B[k] for one row of A over the half at `b`, and over the one at `b + high` too if `bothHalves`.
@inline(__always)
private func rowProduct<Op: TileOperands, Mode: PrefetchMode>(
    operands _: Op.Type, mode: Mode.Type, kCount: Int, a: UnsafePointer<Op.AElement>, b: UnsafePointer<Op.BElement>,
    high: Int, bothHalves: Bool, ldb: Int
) -> (Vector, Vector) {
    var l0 = Vector(), l1 = Vector(), l2 = Vector(), l3 = Vector()
    var h0 = Vector(), h1 = Vector(), h2 = Vector(), h3 = Vector()
    var ap = a
    var bp = b
    var k = 0
    while k + 4 <= kCount {
        if Mode.enabled {
            // Four fp32 rows are four cache lines; bf16 rows ask for each line twice, which costs little.
            for step in 0..<4 {
                prefetchAhead(bp + step * ldb)
                if bothHalves { prefetchAhead(bp + high + step * ldb) }
            }
        }
        let s0 = Op.broadcast(ap[0]), s1 = Op.broadcast(ap[1])
        let s2 = Op.broadcast(ap[2]), s3 = Op.broadcast(ap[3])
        l0 = Op.multiplyAdd(l0, s0, Op.row(at: bp))
        l1 = Op.multiplyAdd(l1, s1, Op.row(at: bp + ldb))
        l2 = Op.multiplyAdd(l2, s2, Op.row(at: bp + 2 * ldb))
        l3 = Op.multiplyAdd(l3, s3, Op.row(at: bp + 3 * ldb))
        if bothHalves {
            h0 = Op.multiplyAdd(h0, s0, Op.row(at: bp + high))
            h1 = Op.multiplyAdd(h1, s1, Op.row(at: bp + high + ldb))
            h2 = Op.multiplyAdd(h2, s2, Op.row(at: bp + high + 2 * ldb))
            h3 = Op.multiplyAdd(h3, s3, Op.row(at: bp + high + 3 * ldb))
        }
        ap += 4
        bp += 4 * ldb
        k += 4
    }
    while k < kCount {
        let s0 = Op.broadcast(ap[0])
        l0 = Op.multiplyAdd(l0, s0, Op.row(at: bp))
        if bothHalves { h0 = Op.multiplyAdd(h0, s0, Op.row(at: bp + high)) }
        ap += 1
        bp += ldb
        k += 1
    }
    return ((l0 + l1) + (l2 + l3), (h0 + h1) + (h2 + h3))
}

// MARK: Blocks

/// Rows of a block's first row tile in `tileBlock`: one 12×32 tile with 32 registers, 6-row passes over each half with
/// 16. A block of more rows takes several tiles, whose later ones can prefetch the task's next panel (`MatmulPlan`).
package let firstTileRows = variantHasWideRegisterFile ? 12 : 6

/// A block's one-row tile: as its first tile it is the first to read B and prefetches in `mode`; after other tiles
/// it finds B in cache.
@inline(__always)
private func oneRowTile<Op: TileOperands, Mode: PrefetchMode>(
    operands: Op.Type, first: Bool, mode: Mode.Type, kCount: Int, a: UnsafePointer<Op.AElement>,
    b: UnsafePointer<Op.BElement>, high: Int?, ldb: Int, c: UnsafeMutablePointer<Float>, columns: Int, accumulate: Bool
) {
    if first {
        tileRow(
            operands: operands, mode: mode, kCount: kCount, a: a, b: b, high: high, ldb: ldb, c: c,
            columns: columns, accumulate: accumulate)
    } else {
        tileRow(
            operands: operands, mode: NoPrefetch.self, kCount: kCount, a: a, b: b, high: high, ldb: ldb, c: c,
            columns: columns, accumulate: accumulate)
    }
}

/// C[rows × columns] (= or +=) A · B for any rows and columns ≤ 32, on the tile that suits this variant's registers.
/// With 16 registers the two halves go in separate passes, each over all row tiles, so one half (not both) of the
/// B block has to stay in cache.
///
/// In the `PrefetchAhead` mode the first row tile, which is the first to read each B row, prefetches ahead of
/// itself; the later row tiles find B in cache. With 32 registers and a `nextPanel` (the same K rows of the panel
/// the task reads next), the later tiles also fetch that panel, each a slice of it, so memory keeps streaming while
/// they compute and the next first tile finds its rows in cache. With 16 registers the passes over each half do the
/// same for the half that comes next (see `tileHalf`); `panelPrefetched` says the previous call of the task fetched
/// this panel that way (it was that call's `nextPanel`), so its first pass need not stream its own rows.
@inline(__always)
func tileBlock<Op: TileOperands, Mode: PrefetchMode>(
    operands: Op.Type, mode: Mode.Type, rows: Int, kCount: Int, a: UnsafePointer<Op.AElement>, lda: Int,
    b: UnsafePointer<Op.BElement>, high: Int, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int,
    accumulate: Bool, nextPanel: UnsafePointer<Op.BElement>? = nil, panelPrefetched: Bool = false
) {
    if variantHasWideRegisterFile {
        // A prefetching first tile waits on memory, not on its FMAs, so it takes 12 rows even where they spill.
        let firstRows = min(Mode.enabled ? firstTileRows : Op.wideTileRows, rows)
        let laterTiles = (rows - firstRows + Op.wideTileRows - 1) / Op.wideTileRows
        let rowBytes = ldb * MemoryLayout<Op.BElement>.stride
        var row = 0, tile = 0
        while row < rows {
            let tileRows = row == 0 ? firstRows : min(Op.wideTileRows, rows - row)
            let a = a + row * lda, c = c + row * ldc
            if tileRows == 1 {
                oneRowTile(
                    operands: operands, first: row == 0, mode: mode, kCount: kCount, a: a, b: b, high: high,
                    ldb: ldb, c: c, columns: columns, accumulate: accumulate)
            } else if row == 0 {
                tile12x32(
                    operands: operands, rows: tileRows, mode: mode, kCount: kCount, a: a, lda: lda, b: b,
                    high: high, ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                    prefetch: .ahead(of: b, rowBytes: rowBytes))
            } else if Mode.enabled, let nextPanel {
                // Later tile `tile` of `laterTiles` fetches its share of the next panel's rows.
                tile12x32(
                    operands: operands, rows: tileRows, mode: PrefetchAhead.self, kCount: kCount, a: a, lda: lda,
                    b: b, high: high, ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                    prefetch: .slice(
                        tile - 1, of: laterTiles, rows: nextPanel, kCount: kCount,
                        rowBytes: rowBytes))
            } else {
                tile12x32(
                    operands: operands, rows: tileRows, mode: NoPrefetch.self, kCount: kCount, a: a, lda: lda,
                    b: b, high: high, ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                    prefetch: PrefetchStream(start: UnsafeRawPointer(b), step: 0))
            }
            row += tileRows
            tile += 1
        }
        return
    }
    // With 16 registers the halves are passes of their own. When a half takes several passes, they spread the
    // prefetch of what the task reads next over themselves (the high half, then the next panel's low half), so
    // memory streams under the arithmetic of every pass, not only under the first.
    let multiPass = Mode.enabled && rows > 6
    let lowNext = columns > 16 ? b + high : nextPanel
    tileHalf(
        operands: operands, mode: mode, rows: rows, kCount: kCount, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
        columns: min(16, columns), accumulate: accumulate, prefetched: multiPass && panelPrefetched,
        next: multiPass ? lowNext : nil)
    if columns > 16 {
        tileHalf(
            operands: operands, mode: mode, rows: rows, kCount: kCount, a: a, lda: lda, b: b + high, ldb: ldb,
            c: c + 16, ldc: ldc, columns: columns - 16, accumulate: accumulate, prefetched: multiPass,
            next: multiPass ? nextPanel : nil)
    }
}

/// C[rows × columns] (= or +=) A · B for any rows and columns ≤ 16 (one B half), in passes of up to 6 rows.
///
/// In the `PrefetchAhead` mode, unless an earlier pass already fetched this half (`prefetched`), the first pass
/// streams its own B rows ahead of itself. Then each remaining 6-row tile pass fetches an even slice of `next` (the
/// same K rows of the half the task reads after this one); a last 1-row pass (`tileRow`) takes no slice.
@inline(__always)
private func tileHalf<Op: TileOperands, Mode: PrefetchMode>(
    operands: Op.Type, mode: Mode.Type, rows: Int, kCount: Int, a: UnsafePointer<Op.AElement>, lda: Int,
    b: UnsafePointer<Op.BElement>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int, accumulate: Bool,
    prefetched: Bool, next: UnsafePointer<Op.BElement>?
) {
    let rowBytes = ldb * MemoryLayout<Op.BElement>.stride
    let tilePasses = rows / 6 + (rows % 6 > 1 ? 1 : 0)
    let firstNextPass = prefetched ? 0 : 1
    var row = 0
    while row < rows {
        let tileRows = min(6, rows - row), pass = row / 6
        let a = a + row * lda, c = c + row * ldc
        if tileRows == 1 {
            oneRowTile(
                operands: operands, first: row == 0, mode: mode, kCount: kCount, a: a, b: b, high: nil, ldb: ldb,
                c: c, columns: columns, accumulate: accumulate)
        } else if Mode.enabled && pass < firstNextPass {
            tile6x16(
                operands: operands, rows: tileRows, mode: PrefetchAhead.self, kCount: kCount, a: a, lda: lda, b: b,
                ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                prefetch: .ahead(of: b, rowBytes: rowBytes))
        } else if Mode.enabled, let next {
            tile6x16(
                operands: operands, rows: tileRows, mode: PrefetchAhead.self, kCount: kCount, a: a, lda: lda, b: b,
                ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                prefetch: .slice(
                    pass - firstNextPass, of: tilePasses - firstNextPass, rows: next, kCount: kCount,
                    rowBytes: rowBytes))
        } else {
            tile6x16(
                operands: operands, rows: tileRows, mode: NoPrefetch.self, kCount: kCount, a: a, lda: lda, b: b,
                ldb: ldb, c: c, ldc: ldc, columns: columns, accumulate: accumulate,
                prefetch: PrefetchStream(start: UnsafeRawPointer(b), step: 0))
        }
        row += tileRows
    }
}
