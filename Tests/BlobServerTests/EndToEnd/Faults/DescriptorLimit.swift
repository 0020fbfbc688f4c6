import Glibc

/// The test process's limit on open descriptors (RLIMIT_NOFILE), which thousands of client
/// sockets outgrow at the usual soft limit of 1024. The server raises its own at start.
enum DescriptorLimit {
    /// Raises the soft limit to the hard one, and throws, naming both, when even the hard limit
    /// is below `needed`. Children started afterwards inherit it.
    static func raise(toAtLeast needed: Int) throws {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { throw EndToEndFailure("getrlimit(RLIMIT_NOFILE): errno \(errno)") }
        guard limit.rlim_max >= rlim_t(needed) else {
            throw EndToEndFailure(
                "this test needs \(needed) open descriptors, and RLIMIT_NOFILE's hard limit is \(limit.rlim_max) (ulimit -Hn); raise it to run the test")
        }
        guard limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(resource, &limit) == 0 else { throw EndToEndFailure("setrlimit(RLIMIT_NOFILE, \(limit.rlim_max)): errno \(errno)") }
    }
}
