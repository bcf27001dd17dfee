import Synchronization

/// TEI's Prometheus metrics: counters, histograms and the queue-size gauge, under TEI's names.
///
/// As in TEI, a metric appears in `/metrics` only once something has been recorded in it.
package final class Metrics: Sendable {
    private struct Histogram {
        var bounds: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0

        init(bounds: [Double]) {
            self.bounds = bounds
            counts = Array(repeating: 0, count: bounds.count)
        }

        mutating func observe(_ value: Double) {
            for index in bounds.indices where value <= bounds[index] { counts[index] += 1 }
            sum += value
            count += 1
        }
    }

    private struct State {
        // name → label text (`{method="single"}` or empty) → value
        var counters: [String: [String: UInt64]] = [:]
        var histograms: [String: Histogram] = [:]
        var gauges: [String: Double] = [:]
    }

    private let state = Mutex(State())
    private let maxInputLength: Int

    /// TEI's duration buckets: 1.5e-5 s × 1.5^k, 35 of them.
    static let durationBuckets: [Double] = (0..<35).map { 1.5e-5 * pow15($0) }

    private static func pow15(_ exponent: Int) -> Double {
        (0..<exponent).reduce(1.0) { result, _ in result * 1.5 }
    }

    private static func powersOfTwo(upTo exponent: Int) -> [Double] {
        (0...exponent).map { Double(1 << $0) }
    }

    /// Creates an empty registry; input-length buckets stop at `maxInputLength`.
    package init(maxInputLength: Int) {
        self.maxInputLength = maxInputLength
    }

    /// Adds `amount` to a counter, with an optional label (`method`, `err`).
    package func increment(_ name: String, label: (String, String)? = nil, by amount: UInt64 = 1) {
        let labelText = label.map { "{\($0.0)=\"\($0.1)\"}" } ?? ""
        state.withLock { $0.counters[name, default: [:]][labelText, default: 0] += amount }
    }

    /// Records one observation in a histogram; the buckets follow from the metric's name as in TEI.
    package func observe(_ name: String, _ value: Double) {
        let bounds = buckets(for: name)
        state.withLock { state in
            state.histograms[name, default: Histogram(bounds: bounds)].observe(value)
        }
    }

    /// Sets a gauge.
    package func set(_ name: String, _ value: Double) {
        state.withLock { $0.gauges[name] = value }
    }

    private func buckets(for name: String) -> [Double] {
        switch name {
        case "te_request_input_length":
            let powers = Self.powersOfTwo(upTo: 19).filter { $0 < Double(maxInputLength) }
            return powers + [Double(maxInputLength)]
        case "te_batch_next_size": return Self.powersOfTwo(upTo: 12)
        case "te_batch_next_tokens": return Self.powersOfTwo(upTo: 20)
        default: return Self.durationBuckets
        }
    }

    /// The Prometheus text exposition of everything recorded so far.
    package func render() -> String {
        let snapshot = state.withLock { $0 }
        var text = ""
        for name in snapshot.counters.keys.sorted() {
            text += "# TYPE \(name) counter\n"
            for (labels, value) in snapshot.counters[name]!.sorted(by: { $0.key < $1.key }) {
                text += "\(name)\(labels) \(value)\n"
            }
        }
        for name in snapshot.gauges.keys.sorted() {
            text += "# TYPE \(name) gauge\n\(name) \(format(snapshot.gauges[name]!))\n"
        }
        for name in snapshot.histograms.keys.sorted() {
            let histogram = snapshot.histograms[name]!
            text += "# TYPE \(name) histogram\n"
            for (bound, count) in zip(histogram.bounds, histogram.counts) {
                text += "\(name)_bucket{le=\"\(format(bound))\"} \(count)\n"
            }
            text += "\(name)_bucket{le=\"+Inf\"} \(histogram.count)\n"
            text += "\(name)_sum \(format(histogram.sum))\n"
            text += "\(name)_count \(histogram.count)\n"
        }
        return text
    }

    private func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
