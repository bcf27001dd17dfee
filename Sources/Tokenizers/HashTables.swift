// Open-addressing hash tables over flat arrays. The vocab (262,144 strings) and the merges (514,906 pairs) are loaded
// on every start, so they are built without a `String` or a heap object per entry.

/// Token strings stored as UTF-8 bytes in one buffer, found by their bytes.
struct TokenTable: Sendable {
    /// All token bytes, entry after entry.
    private(set) var storage: [UInt8] = []
    /// Entry `e` is `storage[entryStarts[e]..<entryStarts[e + 1]]`.
    private(set) var entryStarts: [Int32] = [0]
    private(set) var entryIDs: [Int32] = []
    /// Open addressing; the count is a power of two at least twice the entries.
    private var slots: [TokenSlot]
    /// Whether two entries share a 64-bit hash; only then does a lookup of a known-present key need the bytes.
    private(set) var hasHashCollision = false

    var count: Int { entryIDs.count }

    /// The raw arrays, as `TokenizerCache` stores them.
    var slotArray: [TokenSlot] { slots }

    /// A table from arrays written by `TokenizerCache` (checked there for consistent sizes).
    init(storage: [UInt8], entryStarts: [Int32], entryIDs: [Int32], slots: [TokenSlot], hasHashCollision: Bool) {
        self.storage = storage
        self.entryStarts = entryStarts
        self.entryIDs = entryIDs
        self.slots = slots
        self.hasHashCollision = hasHashCollision
    }

    init(expectedCount: Int = 0) {
        var capacity = 1 << 10
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = Array(repeating: TokenSlot.empty, count: capacity)
        entryIDs.reserveCapacity(expectedCount)
        entryStarts.reserveCapacity(expectedCount + 1)
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // FNV-1a with a final avalanche so the low bits, used as the slot index, depend on every byte.
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return h
    }

    func entryBytes(_ entry: Int) -> ArraySlice<UInt8> {
        storage[Int(entryStarts[entry])..<Int(entryStarts[entry + 1])]
    }

    /// Adds `bytes` → `id`; an existing key gets the new id (the last duplicate wins, as in a JSON map).
    mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, id: Int32) {
        let h = TokenTable.hash(bytes)
        let (existing, sameHash) = withLookup { ($0.slot(bytes, hash: h), $0.containsHash(h)) }
        if let existing {
            let entry = Int(slots[existing].entry)
            entryIDs[entry] = id
            slots[existing].id = id
            return
        }
        if sameHash { hasHashCollision = true }
        if (count + 1) * 2 > slots.count { grow() }
        let entry = count
        storage.append(contentsOf: bytes)
        entryStarts.append(Int32(storage.count))
        entryIDs.append(id)
        place(TokenSlot(hash: h, entry: Int32(entry), id: id))
    }

    private mutating func place(_ item: TokenSlot) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: item.hash) & mask
        while slots[slot].entry >= 0 { slot = (slot + 1) & mask }
        slots[slot] = item
    }

    func lookup(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        withLookup { $0.id(bytes) }
    }

    func lookup(_ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { lookup($0) }
    }

    /// Calls `body` with a lookup view valid only inside it (raw pointers: no retain or bounds check per probe).
    func withLookup<R>(_ body: (TokenLookup) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { storage in
            try entryStarts.withUnsafeBufferPointer { starts in
                try slots.withUnsafeBufferPointer { slots in
                    try body(
                        TokenLookup(storage: storage, starts: starts, slots: slots, hasHashCollision: hasHashCollision))
                }
            }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: TokenSlot.empty, count: old.count * 2)
        for item in old where item.entry >= 0 { place(item) }
    }
}

/// One slot of a `TokenTable`: the full hash, so probes rarely touch the token bytes (a cache miss).
struct TokenSlot: Sendable {
    var hash: UInt64
    /// -1 when empty.
    var entry: Int32
    var id: Int32

    static let empty = TokenSlot(hash: 0, entry: -1, id: -1)
}

/// A borrowed view of a `TokenTable`.
struct TokenLookup {
    let storage: UnsafeBufferPointer<UInt8>
    let starts: UnsafeBufferPointer<Int32>
    let slots: UnsafeBufferPointer<TokenSlot>
    let hasHashCollision: Bool

    @inline(__always)
    func id(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard let slot = slot(bytes, hash: TokenTable.hash(bytes)) else { return nil }
        return slots[slot].id
    }

    /// The id of a key the caller knows is in the table (merge parts of a valid file): with no hash collision
    /// among the entries, the hash alone identifies it, so the bytes are not compared.
    @inline(__always)
    func idOfPresentKey(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int32? {
        if hasHashCollision {
            guard let slot = slot(bytes, hash: h) else { return nil }
            return slots[slot].id
        }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let item = slots[slot]
            if item.entry < 0 { return nil }
            if item.hash == h { return item.id }
            slot = (slot + 1) & mask
        }
    }

    func containsHash(_ h: UInt64) -> Bool {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while slots[slot].entry >= 0 {
            if slots[slot].hash == h { return true }
            slot = (slot + 1) & mask
        }
        return false
    }

    /// The slot holding `bytes`, if any.
    @inline(__always)
    func slot(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let item = slots[slot]
            if item.entry < 0 { return nil }
            if item.hash == h {
                let entry = Int(item.entry)
                let start = Int(starts[entry])
                let length = Int(starts[entry + 1]) - start
                if length == bytes.count && equalBytes(storage.baseAddress! + start, bytes.baseAddress, length) {
                    return slot
                }
            }
            slot = (slot + 1) & mask
        }
    }
}

@inline(__always)
private func equalBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>?, _ length: Int) -> Bool {
    guard let b else { return length == 0 }
    var i = 0
    while i < length {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Merge rules: (left id, right id) → (rank, merged id), keyed by the two ids packed in a `UInt64`.
struct PairTable: Sendable {
    private static let emptyKey = UInt64.max
    /// Key and value side by side: one cache line per probe.
    private(set) var slots: [PairSlot]
    private(set) var shift: UInt64
    private(set) var count = 0

    /// A table from arrays written by `TokenizerCache`.
    init(slots: [PairSlot], shift: UInt64, count: Int) {
        self.slots = slots
        self.shift = shift
        self.count = count
    }

    init(capacityFor expectedCount: Int) {
        var bits = 10
        while (1 << bits) * 3 < expectedCount * 4 { bits += 1 }
        slots = Array(repeating: PairSlot(key: PairTable.emptyKey, value: 0), count: 1 << bits)
        shift = UInt64(64 - bits)
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    static func home(_ key: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Sets the rule for a pair; a repeated pair keeps the last rank, as a Rust `HashMap` collected from the list does.
    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let key = PairTable.key(left, right)
        let mask = slots.count - 1
        var slot = PairTable.home(key, shift: shift)
        while slots[slot].key != PairTable.emptyKey && slots[slot].key != key { slot = (slot + 1) & mask }
        if slots[slot].key == PairTable.emptyKey { count += 1 }
        slots[slot] = PairSlot(
            key: key, value: UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged)))
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: PairSlot(key: PairTable.emptyKey, value: 0), count: old.count * 2)
        shift -= 1
        let mask = slots.count - 1
        for item in old where item.key != PairTable.emptyKey {
            var slot = PairTable.home(item.key, shift: shift)
            while slots[slot].key != PairTable.emptyKey { slot = (slot + 1) & mask }
            slots[slot] = item
        }
    }

    /// Calls `body` with a lookup function valid only inside it (no bounds checks or copies in the merge loop).
    func withLookup<R>(_ body: (PairLookup) throws -> R) rethrows -> R {
        try slots.withUnsafeBufferPointer { slots in
            try body(PairLookup(slots: slots, shift: shift))
        }
    }
}

struct PairSlot: Sendable {
    var key: UInt64
    /// `rank << 32 | merged id`.
    var value: UInt64
}

/// A borrowed view of a `PairTable` for the hot loop.
struct PairLookup {
    let slots: UnsafeBufferPointer<PairSlot>
    let shift: UInt64

    /// `rank << 32 | merged id`, or `UInt64.max` when the pair has no rule.
    @inline(__always)
    func find(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = PairTable.key(left, right)
        let mask = slots.count - 1
        var slot = PairTable.home(key, shift: shift)
        while true {
            let item = slots[slot]
            if item.key == key { return item.value }
            if item.key == UInt64.max { return UInt64.max }
            slot = (slot + 1) & mask
        }
    }
}
