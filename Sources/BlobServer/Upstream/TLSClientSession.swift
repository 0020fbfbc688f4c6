import CBlobSys
import COpenSSL
import Glibc

/// One TLS session over a connected non-blocking socket: SNI and hostname (or IP address)
/// verification set before the handshake, and every read, write and handshake step bounded by
/// a deadline (SSL_ERROR_WANT_READ/WANT_WRITE become a `poll`).
///
/// Ownership: owned by one `UpstreamConnection`, which owns the socket and outlives the
/// session; the session never closes the descriptor. Used by one thread at a time.
final class TLSClientSession {
    private let ssl: OpaquePointer
    /// Keeps the shared context alive as long as the session.
    private let context: TLSClientContext
    private let descriptor: Int32
    private let peer: String

    /// Handshakes as a client of `host` (a DNS name or an IP literal, IPv6 without brackets).
    init(context: TLSClientContext, descriptor: Int32, host: String, deadline: IODeadline) throws(UpstreamConnectionFailure) {
        guard let ssl = SSL_new(context.context) else {
            throw UpstreamConnectionFailure(.tlsRejected, "SSL_new failed: \(TLSClientContext.openSSLErrors())")
        }
        self.ssl = ssl
        self.context = context
        self.descriptor = descriptor
        peer = host
        // Without the name to check, verification would accept any trusted certificate.
        let named: Bool
        if Self.isIPAddress(host) {
            // RFC 6066 forbids SNI with an address; the certificate must name it as an IP SAN.
            named = !context.verifiesPeer || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
        } else {
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            named = shim_SSL_set_tlsext_host_name(ssl, host) == 1 && (!context.verifiesPeer || SSL_set1_host(ssl, host) == 1)
        }
        guard named, SSL_set_fd(ssl, descriptor) == 1 else {
            throw UpstreamConnectionFailure(.tlsRejected, "cannot set up TLS for \(host): \(TLSClientContext.openSSLErrors())")
        }
        while true {
            ERR_clear_error()
            let result = SSL_connect(ssl)
            let number = cbs_errno()
            if result == 1 { return }
            try waitOrFail(result, errno: number, operation: "TLS handshake with \(host)", deadline: deadline, handshake: true)
        }
    }

    deinit { SSL_free(ssl) }

    /// Reads decrypted bytes into `buffer`; 0 at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: IODeadline) throws(UpstreamConnectionFailure) -> Int {
        let count = Int32(clamping: buffer.count)
        while true {
            ERR_clear_error()
            let result = SSL_read(ssl, buffer.baseAddress, count)
            let number = cbs_errno()
            if result > 0 { return Int(result) }
            if SSL_get_error(ssl, result) == SSL_ERROR_ZERO_RETURN { return 0 }
            try waitOrFail(result, errno: number, operation: "TLS read from \(peer)", deadline: deadline, handshake: false)
        }
    }

    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer, deadline: IODeadline) throws(UpstreamConnectionFailure) {
        var done = 0
        while done < bytes.count {
            ERR_clear_error()
            let result = SSL_write(ssl, bytes.baseAddress! + done, Int32(clamping: bytes.count - done))
            let number = cbs_errno()
            if result > 0 {
                done += Int(result)
                continue
            }
            try waitOrFail(result, errno: number, operation: "TLS write to \(peer)", deadline: deadline, handshake: false)
        }
    }

    /// After a failed SSL call (`number`: the errno it left): waits for the socket when OpenSSL
    /// asks to, else throws why.
    private func waitOrFail(
        _ result: Int32, errno number: Int32, operation: String, deadline: IODeadline, handshake: Bool
    ) throws(UpstreamConnectionFailure) {
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ:
            try SocketPoll.wait(descriptor, for: .readable, until: deadline, operation: operation)
        case SSL_ERROR_WANT_WRITE:
            try SocketPoll.wait(descriptor, for: .writable, until: deadline, operation: operation)
        case SSL_ERROR_ZERO_RETURN:
            throw UpstreamConnectionFailure(.closed, "\(operation): the peer closed the connection")
        case SSL_ERROR_SYSCALL:
            let detail = number == 0 ? "the peer closed the connection" : String(cString: strerror(number))
            ERR_clear_error()
            throw UpstreamConnectionFailure(.closed, "\(operation): \(detail)")
        default:
            let verification = SSL_get_verify_result(ssl)
            if handshake && verification != X509_V_OK {
                ERR_clear_error()
                let reason = String(cString: X509_verify_cert_error_string(verification))
                throw UpstreamConnectionFailure(.tlsRejected, "TLS certificate verification failed for \(peer): \(reason)")
            }
            let detail = TLSClientContext.openSSLErrors()
            throw UpstreamConnectionFailure(handshake ? .tlsRejected : .closed, "\(operation): \(detail)")
        }
    }

    /// Whether `host` is an IPv4 or IPv6 literal.
    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
