import Testing
@testable import BlobStore

private let MiB = ByteSize.mebibyte

@Suite struct MemoryBudgetTests {
    @Test func theDefaultIs128MiB() {
        #expect(MemoryBudget.defaultTotal == 128 * MiB)
    }

    @Test func splitsTheDefaultBudgetIntoItsFixedShares() {
        let budget = MemoryBudget(total: 128 * MiB)
        #expect(budget.connectionBufferBytes == 32 * MiB)
        #expect(budget.indexBytes == 16 * MiB)
        #expect(budget.fillBufferBytes == 16 * MiB)
        #expect(budget.pageCacheBytes == 32 * MiB)
        #expect(budget.processBytes == 32 * MiB)
    }

    @Test(arguments: [UInt64(0), 1, 7, 1001, 128 * MiB + 3, .max])
    func sharesAlwaysAddUpToTheTotal(total: UInt64) {
        let budget = MemoryBudget(total: total)
        let sum = budget.connectionBufferBytes + budget.indexBytes + budget.fillBufferBytes
            + budget.pageCacheBytes + budget.processBytes
        #expect(sum == total)
    }

    static let entryCaps: [(total: UInt64, bytesPerEntry: Int, cap: Int)] = [
        (128 * MiB, 64, 262_144),
        (128 * MiB, 48, 349_525),
        (1024 * MiB, 64, 2_097_152),
        (1 * MiB, 64, 2048),
        (64 * 1024, 64, 1024),
        (0, 64, 1024),
        (.max, 1, Int(UInt64.max / 8)),
    ]

    @Test(arguments: entryCaps)
    func capsIndexEntriesByTheIndexShareButNeverBelow1024(total: UInt64, bytesPerEntry: Int, cap: Int) {
        #expect(MemoryBudget(total: total).indexEntryCap(bytesPerEntry: bytesPerEntry) == cap)
    }

    struct Resolution: Sendable, CustomTestStringConvertible {
        let name: String
        let configured: UInt64?
        let cgroupLimit: UInt64?
        let total: UInt64
        var testDescription: String { name }
    }

    @Test(arguments: [
        Resolution(name: "a configured budget wins over the cgroup", configured: 64 * MiB, cgroupLimit: 512 * MiB, total: 64 * MiB),
        Resolution(name: "a configured budget wins with no cgroup", configured: 256 * MiB, cgroupLimit: nil, total: 256 * MiB),
        Resolution(name: "the cgroup limit is used when nothing is configured", configured: nil, cgroupLimit: 512 * MiB, total: 512 * MiB),
        Resolution(name: "the default is used when there is neither", configured: nil, cgroupLimit: nil, total: 128 * MiB),
    ])
    func resolvesConfiguredThenCgroupThenDefault(_ example: Resolution) {
        #expect(MemoryBudget.resolve(configured: example.configured, cgroupLimit: example.cgroupLimit)
            == MemoryBudget(total: example.total))
    }
}

@Suite struct CgroupMemoryLimitTests {
    struct Files: Sendable, CustomTestStringConvertible {
        let name: String
        let v2: String?
        let v1: String?
        let limit: UInt64?
        var testDescription: String { name }
    }

    static let files: [Files] = [
        Files(name: "cgroup v2 with a limit", v2: "536870912\n", v1: nil, limit: 512 * MiB),
        Files(name: "cgroup v2 without a limit", v2: "max\n", v1: nil, limit: nil),
        Files(name: "cgroup v2 decides even when a v1 file exists", v2: "max\n", v1: "1048576\n", limit: nil),
        Files(name: "cgroup v2 with a limit and no newline", v2: "1048576", v1: nil, limit: MiB),
        Files(name: "cgroup v2 with garbage", v2: "lots\n", v1: "1048576\n", limit: nil),
        Files(name: "cgroup v2 with an empty file", v2: "", v1: nil, limit: nil),
        Files(name: "cgroup v2 with a limit of zero", v2: "0\n", v1: nil, limit: nil),
        Files(name: "cgroup v1 with a limit", v2: nil, v1: "268435456\n", limit: 256 * MiB),
        Files(name: "cgroup v1 unlimited", v2: nil, v1: "9223372036854771712\n", limit: nil),
        Files(name: "cgroup v1 at exactly 2^60 is unlimited", v2: nil, v1: "1152921504606846976\n", limit: nil),
        Files(name: "cgroup v1 just under 2^60 is a limit", v2: nil, v1: "1152921504606846975", limit: (1 << 60) - 1),
        Files(name: "cgroup v1 with garbage", v2: nil, v1: "-1\n", limit: nil),
        Files(name: "cgroup v1 with a limit of zero", v2: nil, v1: "0\n", limit: nil),
        Files(name: "no cgroup files", v2: nil, v1: nil, limit: nil),
    ]

    @Test(arguments: files)
    func parsesTheLimitFiles(_ example: Files) {
        #expect(CgroupMemoryLimit.parse(v2: example.v2, v1: example.v1) == example.limit)
    }

    static let cgroupPaths: [(procSelfCgroup: String, files: [String])] = [
        ("0::/\n", ["/sys/fs/cgroup/memory.max"]),
        (
            "0::/system.slice/blobcache.service\n",
            [
                "/sys/fs/cgroup/system.slice/blobcache.service/memory.max",
                "/sys/fs/cgroup/system.slice/memory.max",
                "/sys/fs/cgroup/memory.max",
            ]
        ),
        (
            "12:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/user.slice\n",
            ["/sys/fs/cgroup/user.slice/memory.max", "/sys/fs/cgroup/memory.max"]
        ),
        ("12:memory:/docker/abc\n", ["/sys/fs/cgroup/memory.max"]),
        ("0::/../../etc\n", ["/sys/fs/cgroup/memory.max"]),
        ("", ["/sys/fs/cgroup/memory.max"]),
    ]

    @Test(arguments: cgroupPaths)
    func findsTheLimitFilesOfItsOwnCgroupAndEveryAncestor(procSelfCgroup: String, files: [String]) {
        #expect(CgroupMemoryLimit.v2Files(procSelfCgroup: procSelfCgroup) == files)
    }

    @Test func noProcSelfCgroupMeansOnlyTheRootFile() {
        #expect(CgroupMemoryLimit.v2Files(procSelfCgroup: nil) == ["/sys/fs/cgroup/memory.max"])
    }

    @Test func readingTheLimitOfThisProcessDoesNotFail() {
        // Whatever this machine has; a limit, when there is one, is a positive number of bytes.
        if let limit = CgroupMemoryLimit.current() { #expect(limit > 0 && limit < 1 << 60) }
    }
}
