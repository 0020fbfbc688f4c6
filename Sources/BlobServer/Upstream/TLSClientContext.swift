import COpenSSL
import Synchronization

/// An OpenSSL client context (`SSL_CTX`), shared by every connection of every `UpstreamClient`
/// with the same CA file and verification setting (see `shared`): TLS 1.2 or later, the
/// system's CA bundle plus an optional CA file, and peer verification unless switched off.
///
/// Memory: the CA bundle is parsed into the context's certificate store once, about 840 KiB
/// for Debian's ~140 roots. Sharing keeps that to one copy however many upstreams a mirror
/// has (a `*=https://{ns}` template makes a client per registry).
///
/// Thread-safe: the context is configured in `init` and only read afterwards (OpenSSL allows
/// `SSL_new` on a shared context from any thread); freed when the value goes away, after the
/// last connection, which holds a reference.
final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    let verifiesPeer: Bool

    private struct Key: Hashable {
        let caFile: String?
        let verifyPeer: Bool
    }

    private struct Entry {
        weak var context: TLSClientContext?
    }

    /// Contexts alive now, by setting. Weak: a context goes with its last client, so a CA file
    /// rewritten later is read afresh by the next client.
    private static let live = Mutex<[Key: Entry]>([:])

    /// The context for these settings: the one clients already share, or a new one.
    static func shared(caFile: String?, verifyPeer: Bool) throws(UpstreamConfigurationError) -> TLSClientContext {
        let key = Key(caFile: caFile, verifyPeer: verifyPeer)
        return try live.withLock { (live) throws(UpstreamConfigurationError) -> TLSClientContext in
            if let existing = live[key]?.context { return existing }
            live = live.filter { $0.value.context != nil }
            let context = try TLSClientContext(caFile: caFile, verifyPeer: verifyPeer)
            live[key] = Entry(context: context)
            return context
        }
    }

    /// Builds a context. Throws naming `caFile` when that file cannot be loaded.
    init(caFile: String?, verifyPeer: Bool) throws(UpstreamConfigurationError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw UpstreamConfigurationError(field: "tls", reason: "SSL_CTX_new failed: \(TLSClientContext.openSSLErrors())")
        }
        self.context = context
        verifiesPeer = verifyPeer
        guard shim_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw UpstreamConfigurationError(field: "tls", reason: "cannot require TLS 1.2: \(TLSClientContext.openSSLErrors())")
        }
        shim_SSL_CTX_release_buffers(context)
        // A close-delimited body ends at EOF whether or not the server sent close_notify, as
        // in browsers; lengths and chunked framing still catch truncation.
        shim_SSL_CTX_ignore_unexpected_eof(context)
        // A missing system bundle is not fatal: the CA file may be all the trust needed.
        SSL_CTX_set_default_verify_paths(context)
        if let caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw UpstreamConfigurationError(
                    field: "caFile", reason: "cannot load CA certificates from '\(caFile)': \(TLSClientContext.openSSLErrors())")
            }
        }
        SSL_CTX_set_verify(context, verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        ERR_clear_error()
    }

    deinit { SSL_CTX_free(context) }

    /// The OpenSSL errors queued on this thread, oldest first, and the queue cleared.
    static func openSSLErrors() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            messages.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "no detail from OpenSSL" : messages.joined(separator: "; ")
    }
}
