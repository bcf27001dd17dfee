// Swift has no prefetch intrinsic; these inline wrappers compile to one prefetcht0 (into L1) or prefetcht1 (into L2),
// with no call, in optimised Swift code.
static inline void prefetchForRead(const void *address) { __builtin_prefetch(address, 0, 3); }
static inline void prefetchToL2(const void *address) { __builtin_prefetch(address, 0, 2); }
