import Glibc

/// A failed system call: which call, on which path (when there is one), and the errno.
public struct SystemError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The C function that failed, e.g. `openat`.
    public let call: String
    /// The file the call was about, relative to the store's directory or absolute; empty when none.
    public let path: String
    /// The errno the call left.
    public let errno: Int32

    public init(call: String, path: String = "", errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return path.isEmpty ? "\(call): \(reason)" : "\(call) \(path): \(reason)"
    }

    /// True for "the device is full" and "the quota is exhausted".
    public var isOutOfSpace: Bool { errno == ENOSPC || errno == EDQUOT }
}
