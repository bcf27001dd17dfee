#if os(Linux)
    import Synchronization

    /// A sequentially consistent Int shared between threads.
    final class AtomicCounter: Sendable {
        private let value = Atomic<Int>(0)

        func load() -> Int { value.load(ordering: .sequentiallyConsistent) }
        func store(_ newValue: Int) { value.store(newValue, ordering: .sequentiallyConsistent) }
        /// Adds `amount`; returns the value before.
        func add(_ amount: Int) -> Int { value.wrappingAdd(amount, ordering: .sequentiallyConsistent).oldValue }
        func compareExchange(expected: Int, desired: Int) -> Bool {
            value.compareExchange(expected: expected, desired: desired, ordering: .sequentiallyConsistent).exchanged
        }
    }
#else
    #if canImport(Darwin)
        import Darwin
    #endif

    /// A sequentially consistent Int shared between threads (a lock here: `Atomic` needs macOS 15, the package targets 14).
    final class AtomicCounter: @unchecked Sendable {
        // @unchecked: `value` is only touched with `lock` held.
        private var value = 0
        private let lock = NSLockLike()

        func load() -> Int { lock.withLock { value } }
        func store(_ newValue: Int) { lock.withLock { value = newValue } }
        func add(_ amount: Int) -> Int {
            lock.withLock {
                defer { value += amount }; return value
            }
        }
        func compareExchange(expected: Int, desired: Int) -> Bool {
            lock.withLock {
                guard value == expected else { return false }
                value = desired
                return true
            }
        }
    }

    /// A pthread mutex with a closure helper.
    private final class NSLockLike: @unchecked Sendable {
        // @unchecked: a pthread mutex is made for sharing; its storage never moves.
        private let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
            let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
            pthread_mutex_init(mutex, nil)
            return mutex
        }()
        deinit {
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }
        func withLock<T>(_ body: () -> T) -> T {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return body()
        }
    }
#endif
