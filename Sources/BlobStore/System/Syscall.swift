import CBlobSys
import Glibc

/// Runs a system call that returns -1 on failure, retrying EINTR, and throws a `SystemError`
/// that names the call and the path. errno is read right after the call, in this frame.
@inline(never)
@discardableResult
package func syscall<Result: FixedWidthInteger>(
    _ call: StaticString, path: @autoclosure () -> String = "", _ body: () -> Result
) throws(SystemError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = cbs_errno()
        if code == EINTR { continue }
        throw SystemError(call: "\(call)", path: path(), errno: code)
    }
}

/// Like `syscall`, for calls that return an error number instead of setting errno
/// (posix_fadvise, posix_fallocate).
@inline(never)
package func syscallReturningError(
    _ call: StaticString, path: @autoclosure () -> String = "", _ body: () -> Int32
) throws(SystemError) {
    while true {
        let code = body()
        if code == 0 { return }
        if code == EINTR { continue }
        throw SystemError(call: "\(call)", path: path(), errno: code)
    }
}
