// A binary cache of the vocab and merge tables next to tokenizer.json. Building them is most of the load time
// (1.5 million hash lookups); reading them back is a few copies and one checking pass. The cache is keyed by a hash
// of the whole tokenizer.json, so any edit invalidates it, and every failure (missing, stale, corrupt, unwritable)
// falls back to parsing. Its content is checked as strictly as tokenizer.json's: whoever can write the directory
// can write a cache with a valid checksum and key, and the encoder indexes and probes these tables unchecked.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

enum TokenizerCache {
    /// Bumped whenever the layout below or the way the tables are built changes.
    private static let magic: UInt64 = 0x3130_4B4F_5457_5321 // "!SWTOK01" read little-endian

    /// The cache file for `tokenizerPath` inside `directory`.
    static func path(for tokenizerPath: String, in directory: String) -> String {
        let name = tokenizerPath.split(separator: "/").last.map(String.init) ?? "tokenizer.json"
        return (directory.hasSuffix("/") ? directory : directory + "/") + "." + name + ".swift-tokenizer-cache"
    }

    /// A 64-bit hash of the file content: four independent multiply-rotate lanes over 32-byte blocks (a few ms for
    /// 33 MB), then the tail and the length.
    static func contentHash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let prime: UInt64 = 0x9E37_79B9_7F4A_7C15
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (
            0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344,
            0xA409_3822_299F_31D0, 0x082E_FA98_EC4E_6C89
        )
        guard let base = bytes.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        func mix(_ lane: UInt64, _ value: UInt64) -> UInt64 {
            let x = (lane ^ value) &* prime
            return (x << 31) | (x >> 33)
        }
        while offset + 32 <= bytes.count {
            lanes.0 = mix(lanes.0, raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            lanes.1 = mix(lanes.1, raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            lanes.2 = mix(lanes.2, raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
            lanes.3 = mix(lanes.3, raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
            offset += 32
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            if shift == 64 {
                lanes.0 = mix(lanes.0, tail)
                tail = 0
                shift = 0
            }
            offset += 1
        }
        var h = mix(mix(mix(mix(lanes.0, lanes.1), lanes.2), lanes.3), tail) ^ UInt64(bytes.count)
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return h
    }

    /// What `load` found next to tokenizer.json.
    enum Lookup {
        case loaded(vocab: TokenTable, merges: PairTable)
        /// No cache file yet.
        case absent
        /// A cache file that must not be used, and why: it is rebuilt from tokenizer.json and rewritten.
        case rejected(reason: String)
    }

    /// The tables from a cache file written for a tokenizer.json with this hash, if it passes every check.
    static func load(path: String, contentHash: UInt64) -> Lookup {
        let file: [UInt8]
        do {
            guard let bytes = try readFileIfPresent(path) else { return .absent }
            file = bytes
        } catch let TokenizerError.unreadableFile(_, reason) {
            return .rejected(reason: reason)
        } catch {
            return .rejected(reason: "\(error)")
        }
        // The last word is a hash of everything before it: it catches damage, not forgery (the checks below do).
        guard file.count >= 16 else { return .rejected(reason: "the file is \(file.count) bytes long") }
        let payloadCount = file.count - 8
        let stored = file.withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: payloadCount, as: UInt64.self))
        }
        guard
            file.withUnsafeBufferPointer({
                TokenizerCache.contentHash(UnsafeBufferPointer(rebasing: $0[0..<payloadCount]))
            }) == stored
        else { return .rejected(reason: "its checksum does not match (a damaged file)") }
        var reader = Reader(bytes: file, end: payloadCount)
        guard reader.word() == magic else { return .rejected(reason: "it is not in this version's cache format") }
        guard reader.word() == contentHash else {
            return .rejected(reason: "it was written for another tokenizer.json")
        }
        guard reader.word() == UInt64(MemoryLayout<TokenSlot>.stride),
            reader.word() == UInt64(MemoryLayout<PairSlot>.stride),
            let hasHashCollision = reader.word(), let shift = reader.word(), let pairCount = reader.word(),
            let storage: [UInt8] = reader.array(), let starts: [Int32] = reader.array(),
            let ids: [Int32] = reader.array(), let slots: [TokenSlot] = reader.array(),
            let pairSlots: [PairSlot] = reader.array(), reader.isAtEnd
        else { return .rejected(reason: "its layout is malformed") }
        if let problem = checkVocab(storage: storage, starts: starts, ids: ids, slots: slots)
            ?? checkMerges(pairSlots, shift: shift, count: pairCount, vocabularySize: ids.count)
        {
            return .rejected(reason: problem)
        }
        // The collision flag only steers how merges are resolved while parsing, which a cached load skips.
        let vocab = TokenTable(
            storage: storage, entryStarts: starts, entryIDs: ids, slots: slots,
            hasHashCollision: hasHashCollision != 0)
        return .loaded(vocab: vocab, merges: PairTable(slots: pairSlots, shift: shift, count: Int(pairCount)))
    }

    /// Why these arrays are not a vocab table as `TokenTable` builds one, or nil: entries tile the storage, ids lie
    /// inside the vocab (as `BPEModel` requires of tokenizer.json), and the slots hold each entry once, with its
    /// hash and id, where a probe from its hash's home slot finds it, with at least one slot empty (a probe for an
    /// absent key stops only there).
    private static func checkVocab(storage: [UInt8], starts: [Int32], ids: [Int32], slots: [TokenSlot]) -> String? {
        let count = ids.count
        guard starts.count == count + 1, starts.first == 0, starts.last.map(Int.init) == storage.count,
            zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 })
        else { return "its vocab entries do not tile the token bytes" }
        if let id = ids.first(where: { $0 < 0 || Int($0) >= count }) {
            return "vocab id \(id) is outside 0..<\(count)"
        }
        guard slots.count.nonzeroBitCount == 1, slots.count > count else {
            return "its vocab table has \(slots.count) slots for \(count) entries"
        }
        let mask = slots.count - 1
        var seen = [Bool](repeating: false, count: count)
        return storage.withUnsafeBufferPointer { storage -> String? in
            for (index, slot) in slots.enumerated() where slot.entry != TokenSlot.empty.entry {
                let entry = Int(slot.entry)
                guard entry >= 0, entry < count, !seen[entry] else {
                    return "vocab slot \(index) holds entry \(entry) wrongly"
                }
                seen[entry] = true
                let bytes = UnsafeBufferPointer(rebasing: storage[Int(starts[entry])..<Int(starts[entry + 1])])
                guard slot.id == ids[entry], slot.hash == TokenTable.hash(bytes) else {
                    return "vocab slot \(index) disagrees with entry \(entry)"
                }
                var probe = Int(truncatingIfNeeded: slot.hash) & mask
                while probe != index {
                    if slots[probe].entry == TokenSlot.empty.entry { return "vocab entry \(entry) cannot be found" }
                    probe = (probe + 1) & mask
                }
            }
            return seen.allSatisfy { $0 } ? nil : "its vocab table lacks some entries"
        }
    }

    /// Why these slots are not a merge table as `PairTable` builds one, or nil: a power-of-two table matching
    /// `shift`, with at least one empty slot, `count` rules over ids inside the vocab, each key once and found by a
    /// probe from its home slot.
    private static func checkMerges(_ slots: [PairSlot], shift: UInt64, count: UInt64, vocabularySize: Int) -> String? {
        guard slots.count.nonzeroBitCount == 1, shift == UInt64(64 - slots.count.trailingZeroBitCount) else {
            return "its merge table of \(slots.count) slots does not match its shift \(shift)"
        }
        let empty = UInt64.max
        let occupied = slots.reduce(0) { $1.key == empty ? $0 : $0 + 1 }
        guard UInt64(occupied) == count, occupied < slots.count else {
            return "its merge table holds \(occupied) rules in \(slots.count) slots, \(count) declared"
        }
        func isToken(_ bits: UInt64) -> Bool { UInt64(UInt32(truncatingIfNeeded: bits)) < UInt64(vocabularySize) }
        let mask = slots.count - 1
        for (index, slot) in slots.enumerated() where slot.key != empty {
            guard isToken(slot.key >> 32), isToken(slot.key), isToken(slot.value) else {
                return "merge slot \(index) names a token outside the vocab"
            }
            var probe = PairTable.home(slot.key, shift: shift)
            while probe != index {
                if slots[probe].key == empty || slots[probe].key == slot.key {
                    return "merge slot \(index) cannot be found or repeats a pair"
                }
                probe = (probe + 1) & mask
            }
        }
        return nil
    }

    /// Writes the tables; any failure leaves no cache behind and is ignored (the next load parses again).
    static func store(path: String, contentHash: UInt64, vocab: TokenTable, merges: PairTable) {
        var out: [UInt8] = []
        out.reserveCapacity(
            vocab.storage.count + vocab.count * 8 + vocab.slotArray.count * 16 + merges.slots.count * 16 + 256)
        func word(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        func array<T>(_ values: [T]) {
            word(UInt64(values.count))
            values.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        word(magic)
        word(contentHash)
        word(UInt64(MemoryLayout<TokenSlot>.stride))
        word(UInt64(MemoryLayout<PairSlot>.stride))
        word(vocab.hasHashCollision ? 1 : 0)
        word(merges.shift)
        word(UInt64(merges.count))
        array(vocab.storage)
        array(vocab.entryStarts)
        array(vocab.entryIDs)
        array(vocab.slotArray)
        array(merges.slots)
        word(out.withUnsafeBufferPointer { TokenizerCache.contentHash($0) })

        // Write to a private name, then rename: readers never see a half-written file, and concurrent writers of
        // the same content simply replace each other. `removeTemporaryFiles` knows this name's pattern.
        let temporary = path + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { return }
        var written = 0
        let complete = out.withUnsafeBytes { buffer -> Bool in
            while written < buffer.count {
                let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                written += count
            }
            return true
        }
        let closed = close(descriptor) == 0
        if !(complete && closed && rename(temporary, path) == 0) { unlink(temporary) }
    }

    /// Deletes what interrupted writes of the cache at `path` left behind: `store`'s temporary files
    /// (`<cache>.<pid>.<number>.tmp`, in the cache's directory) and nothing else. A writer that is still running
    /// loses its file too; its rename then fails and it leaves no cache, as with an unwritable directory.
    static func removeTemporaryFiles(of path: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let prefix = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let stream = opendir(directory) else { return }
        var leftovers: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(prefix + "."), name.hasSuffix(".tmp") else { continue }
            let numbers = name.dropFirst(prefix.count + 1).dropLast(4).split(
                separator: ".", omittingEmptySubsequences: false)
            if numbers.count == 2,
                numbers.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } })
            {
                leftovers.append(name)
            }
        }
        closedir(stream)
        for name in leftovers { unlink(directory + "/" + name) }
    }

    /// Reads little-endian words and length-prefixed raw arrays.
    private struct Reader {
        let bytes: [UInt8]
        /// Where the payload ends (the checksum follows).
        let end: Int
        var offset = 0

        var isAtEnd: Bool { offset == end }

        mutating func word() -> UInt64? {
            guard offset + 8 <= end else { return nil }
            let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
            offset += 8
            return UInt64(littleEndian: value)
        }

        mutating func array<T>() -> [T]? {
            guard let count = word(), count < UInt64(Int32.max) else { return nil }
            let byteCount = Int(count) * MemoryLayout<T>.stride
            guard offset + byteCount <= end else { return nil }
            let start = offset
            offset += byteCount
            return [T](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                bytes.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: source[start..<(start + byteCount)]))
                }
                initialized = Int(count)
            }
        }
    }
}

/// The whole file, read with POSIX calls into one buffer sized from `fstat` (no Foundation `Data` copy).
func readWholeFile(_ path: String) throws -> [UInt8] {
    guard let bytes = try readFileIfPresent(path) else {
        throw TokenizerError.unreadableFile(path: path, reason: String(cString: strerror(ENOENT)))
    }
    return bytes
}

/// The whole file, or nil when it does not exist. Anything but a regular file (after symlinks) is refused: reading
/// a FIFO would block until someone writes to it.
func readFileIfPresent(_ path: String) throws -> [UInt8]? {
    // O_NONBLOCK makes the open of a FIFO return at once; reads of regular files ignore it.
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
        let code = errno
        if code == ENOENT { return nil }
        throw TokenizerError.unreadableFile(path: path, reason: String(cString: strerror(code)))
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
        throw TokenizerError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
        throw TokenizerError.unreadableFile(path: path, reason: "not a regular file")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var filled = 0
    while filled < bytes.count {
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else {
            throw TokenizerError.unreadableFile(
                path: path, reason: count == 0 ? "file shrank while reading" : String(cString: strerror(errno)))
        }
        filled += count
    }
    return bytes
}
