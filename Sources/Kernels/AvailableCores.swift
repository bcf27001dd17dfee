import Foundation

/// How many cores this process may keep busy: the CPUs in its affinity mask, lowered to its cgroup's CPU quota
/// rounded up (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` over `cpu.cfs_period_us`), as TEI's `num_cpus` and Go's
/// runtime count them. Foundation's `activeProcessorCount` counts neither: in a pod limited to 2 CPUs on a 64-core
/// node, 64 compute threads would share 2 CPUs' worth of time slices and stall each GEMM at every barrier.
enum AvailableCores {
    /// The count for this process, read once.
    static let count: Int = {
        let affinity = affinityCount() ?? ProcessInfo.processInfo.activeProcessorCount
        let quota = cgroupQuota(cgroupFile: read("/proc/self/cgroup") ?? "", root: "/sys/fs/cgroup", read: read)
        return max(1, min(affinity, quota.map { Int($0.rounded(.up)) } ?? affinity))
    }()

    /// CPUs in the scheduler affinity mask (`Cpus_allowed_list` of /proc/self/status: Glibc's module lacks
    /// `sched_getaffinity`), or nil where it cannot be read.
    static func affinityCount() -> Int? {
        guard let status = read("/proc/self/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return parseCPUList(String(line.dropFirst("Cpus_allowed_list:".count)))
    }

    /// The number of CPUs in a list such as "0-3,8,10-11", or nil if it is not one.
    static func parseCPUList(_ text: String) -> Int? {
        var count = 0
        for range in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = range.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            switch bounds.count {
            case 1 where bounds[0] != nil: count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil };
                count += high - low + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }

    /// The smallest CPU quota (in CPUs) set on this process's cgroup or any of its ancestors, or nil for none.
    /// `cgroupFile` is `/proc/self/cgroup`; `read` returns a file's contents under `root`, or nil.
    static func cgroupQuota(cgroupFile: String, root: String, read: (String) -> String?) -> Double? {
        var quotas: [Double] = []
        for line in cgroupFile.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                for directory in ancestors(path, under: root) {
                    if let quota = read(directory + "/cpu.max").flatMap(parseCPUMax) { quotas.append(quota) }
                }
            } else if fields[1].split(separator: ",").contains("cpu") {
                for mount in ["cpu", "cpu,cpuacct", "cpuacct,cpu"] {
                    for directory in ancestors(path, under: root + "/" + mount) {
                        guard let quota = read(directory + "/cpu.cfs_quota_us").flatMap(parseInteger),
                            let period = read(directory + "/cpu.cfs_period_us").flatMap(parseInteger),
                            quota > 0, period > 0
                        else { continue }
                        quotas.append(Double(quota) / Double(period))
                    }
                }
            }
        }
        return quotas.min()
    }

    /// `root + path` and each parent up to `root`: a container's own cgroup may sit below the one with the limit.
    private static func ancestors(_ path: String, under root: String) -> [String] {
        var components = path.split(separator: "/").map(String.init)
        var directories: [String] = []
        while true {
            directories.append(([root] + components).joined(separator: "/"))
            if components.isEmpty { return directories }
            components.removeLast()
        }
    }

    /// `cpu.max`: "max 100000" (no limit) or "QUOTA PERIOD" in microseconds.
    static func parseCPUMax(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]), quota > 0, period > 0
        else { return nil }
        return Double(quota) / Double(period)
    }

    private static func parseInteger(_ text: String) -> Int? {
        Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func read(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }
}
