import BlobStore
import CBlobSys
import Glibc

/// The TCP fallback (RFC 1035 §4.2.2, RFC 7766): an answer too large for UDP comes back with
/// TC set, and the same query is asked again over TCP, each message framed by a two-byte
/// length. A headless Service with hundreds of peers needs this: no UDP answer holds them all.
extension DNSClient {
    /// Asks `query` over a new TCP connection, within one `timeoutMilliseconds` for the whole
    /// exchange. The socket is opened, owned and closed here; `interruptDescriptor` is borrowed.
    func lookupOverTCP(_ query: DNSQuery, interruptDescriptor: Int32?) throws(DNSError) -> DNSLookupResult {
        let deadline = Self.monotonicMilliseconds() + Int64(timeoutMilliseconds)
        let family: Int32 = if case .v6 = nameserver.host { AF_INET6 } else { AF_INET }
        let socket: FileDescriptor
        do {
            let raw = try syscall("socket", path: "\(nameserver)") {
                Glibc.socket(family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
            }
            socket = FileDescriptor(owning: raw)
        } catch {
            throw .system(error)
        }
        let raw = socket.rawValue
        let connected = nameserver.withSockaddr { pointer, length in connect(raw, pointer, length) }
        if connected != 0 {
            guard cbs_errno() == EINPROGRESS else { throw .system(SystemError(call: "connect", path: "\(nameserver)", errno: cbs_errno())) }
            try wait(for: Int16(POLLOUT), on: raw, until: deadline, interruptDescriptor: interruptDescriptor)
            var failure: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(raw, SOL_SOCKET, SO_ERROR, &failure, &size)
            if failure != 0 { throw .system(SystemError(call: "connect", path: "\(nameserver)", errno: failure)) }
        }
        let message = query.encoded
        let framed = [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        var sent = 0
        while sent < framed.count {
            let count = framed[sent...].withUnsafeBytes { Glibc.send(raw, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                sent += count
            } else if count < 0, cbs_errno() == EAGAIN || cbs_errno() == EINTR {
                try wait(for: Int16(POLLOUT), on: raw, until: deadline, interruptDescriptor: interruptDescriptor)
            } else {
                throw .system(SystemError(call: "send", path: "\(nameserver)", errno: cbs_errno()))
            }
        }
        let prefix = try receive(2, on: raw, until: deadline, interruptDescriptor: interruptDescriptor)
        let length = Int(prefix[0]) << 8 | Int(prefix[1])
        let answer = try receive(length, on: raw, until: deadline, interruptDescriptor: interruptDescriptor)
        return try DNSResponse.parse(answer, answering: query)
    }

    /// Reads exactly `count` bytes.
    private func receive(_ count: Int, on raw: Int32, until deadline: Int64, interruptDescriptor: Int32?) throws(DNSError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let read = bytes.withUnsafeMutableBytes { recv(raw, $0.baseAddress! + done, count - done, 0) }
            if read > 0 {
                done += read
            } else if read == 0 {
                throw .malformed("the nameserver closed the TCP connection after \(done) of \(count) bytes")
            } else if cbs_errno() == EAGAIN || cbs_errno() == EINTR {
                try wait(for: Int16(POLLIN), on: raw, until: deadline, interruptDescriptor: interruptDescriptor)
            } else {
                throw .system(SystemError(call: "recv", path: "\(nameserver)", errno: cbs_errno()))
            }
        }
        return bytes
    }

    /// Polls `raw` for `events` until `deadline`; `.timedOut` past it, `.cancelled` on an interrupt.
    private func wait(for events: Int16, on raw: Int32, until deadline: Int64, interruptDescriptor: Int32?) throws(DNSError) {
        while true {
            let left = deadline - Self.monotonicMilliseconds()
            guard left > 0 else { throw .timedOut(nameserver: nameserver, attempts: 1) }
            var descriptors = [pollfd(fd: raw, events: events, revents: 0)]
            if let interruptDescriptor { descriptors.append(pollfd(fd: interruptDescriptor, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(left))
            if ready < 0 {
                if cbs_errno() == EINTR { continue }
                throw .system(SystemError(call: "poll", path: "\(nameserver)", errno: cbs_errno()))
            }
            if descriptors.count > 1, descriptors[1].revents != 0 { throw .cancelled }
            if descriptors[0].revents != 0 { return }
        }
    }
}
