import Glibc
import TestSupport

/// The seed of a fault test's random choices (sizes, kill moments, which blob to read), printed
/// so that a failing run can be replayed with `BLOBCACHE_FAULT_SEED=<seed>`. Blob contents come
/// from the kernel's generator: they only need to be new, and the test hashes what it sends.
enum FaultSeed {
    static func choose(for suite: String) -> UInt64 {
        let seed: UInt64
        if let text = getenv("BLOBCACHE_FAULT_SEED").map({ String(cString: $0) }), let given = UInt64(text) {
            seed = given
        } else {
            var system = SystemRandomNumberGenerator()
            seed = system.next() >> 1
        }
        print("\(suite): seed \(seed) (replay with BLOBCACHE_FAULT_SEED=\(seed))")
        return seed
    }
}

extension SplitMix64 {
    /// A size between `lower` and `upper` bytes, log-uniform: small blobs as often as large.
    mutating func size(from lower: Int, to upper: Int) -> Int {
        let low = log2(Double(lower))
        let high = log2(Double(upper))
        let unit = Double(next() >> 11) / Double(1 << 53)
        return min(upper, max(lower, Int(exp2(low + (high - low) * unit))))
    }

    /// A number in `range`.
    mutating func number(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

/// `count` fresh random bytes from the kernel (/dev/urandom).
func randomBytes(count: Int) -> [UInt8] {
    let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    precondition(fd >= 0, "cannot open /dev/urandom: errno \(errno)")
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
        let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, count - filled) }
        precondition(got > 0 || errno == EINTR, "cannot read /dev/urandom: errno \(errno)")
        if got > 0 { filled += got }
    }
    return bytes
}
