import Testing

@testable import Kernels

/// The compute threads' default follows the container's CPU limit, not the host's core count.
@Suite("Available cores")
struct AvailableCoresTests {
    /// A fake /sys/fs/cgroup: file path → contents.
    private func quota(_ cgroup: String, _ files: [String: String]) -> Double? {
        AvailableCores.cgroupQuota(cgroupFile: cgroup, root: "/cg") { files[$0] }
    }

    @Test("cgroup v2: cpu.max of the process's cgroup or an ancestor, the smallest one; 'max' is no limit")
    func cgroupV2() {
        #expect(quota("0::/\n", ["/cg/cpu.max": "200000 100000\n"]) == 2)
        #expect(quota("0::/\n", ["/cg/cpu.max": "max 100000\n"]) == nil)
        let nested = ["/cg/kubepods/pod1/cpu.max": "max 100000", "/cg/kubepods/cpu.max": "150000 100000"]
        #expect(quota("0::/kubepods/pod1\n", nested) == 1.5)
        #expect(quota("0::/a\n", ["/cg/a/cpu.max": "50000 100000", "/cg/cpu.max": "400000 100000"]) == 0.5)
        #expect(quota("0::/\n", [:]) == nil)
        #expect(quota("0::/\n", ["/cg/cpu.max": "garbage"]) == nil)
    }

    @Test("cgroup v1: cfs_quota_us over cfs_period_us under the cpu controller's mount; -1 is no limit")
    func cgroupV1() {
        let cgroup = "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n"
        let limited = [
            "/cg/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000\n",
            "/cg/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        ]
        #expect(quota(cgroup, limited) == 3)
        let unlimited = [
            "/cg/cpu/cpu.cfs_quota_us": "-1\n", "/cg/cpu/cpu.cfs_period_us": "100000\n",
        ]
        #expect(quota("1:cpu:/\n", unlimited) == nil)
    }

    @Test("the affinity list counts single CPUs and ranges")
    func cpuList() {
        #expect(AvailableCores.parseCPUList("0-3,8,10-11\n") == 7)
        #expect(AvailableCores.parseCPUList("0") == 1)
        #expect(AvailableCores.parseCPUList("3-1") == nil)
        #expect(AvailableCores.parseCPUList("x") == nil)
    }

    @Test("the count is at least 1 and at most the affinity mask")
    func count() {
        #expect(AvailableCores.count >= 1)
        if let affinity = AvailableCores.affinityCount() { #expect(AvailableCores.count <= affinity) }
    }
}
