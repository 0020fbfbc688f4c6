import BlobStore
import Glibc
import Synchronization
import Testing
import TestSupport
@testable import BlobServer

/// A tiny HTTP CONNECT proxy on 127.0.0.1: it records each CONNECT head, opens the tunnel (or
/// answers `refusal` instead), then relays bytes both ways until either side closes. One
/// thread per connection; `stop()` wakes and joins them all and closes every socket.
final class TunnelProxy: @unchecked Sendable {
    struct Connect: Sendable {
        let target: String
        let headers: [(name: String, value: String)]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    let port: UInt16
    private let listener: ListeningSocket
    private let refusal: String?
    private let state = Mutex<(connects: [Connect], sockets: Set<Int32>, threads: [SystemThread], stopping: Bool)>(([], [], [], false))
    private var acceptThread: SystemThread?
    /// A pipe that becomes readable when the proxy stops.
    private let wake: (read: Int32, write: Int32)

    /// `refusal`: a status line (`407 Proxy Authentication Required`) to answer every CONNECT with.
    init(refusal: String? = nil) throws {
        listener = try ListeningSocket(binding: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        port = listener.address.port
        self.refusal = refusal
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw TLSTestError("pipe failed") }
        wake = (ends[0], ends[1])
        acceptThread = SystemThread(name: "test-proxy") { [self] in acceptLoop() }
    }

    var connects: [Connect] { state.withLock { $0.connects } }

    func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        acceptThread?.join()
        let threads = state.withLock { state in
            state.stopping = true
            for socket in state.sockets { shutdown(socket, Int32(SHUT_RDWR)) }
            return state.threads
        }
        for thread in threads { thread.join() }
        close(wake.read)
        close(wake.write)
    }

    private func acceptLoop() {
        while true {
            var fds = [pollfd(fd: listener.descriptor.rawValue, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, -1)
            if fds[1].revents != 0 { return }
            let client = accept(listener.descriptor.rawValue, nil, nil)
            guard client >= 0 else { continue }
            _ = state.withLock { $0.sockets.insert(client) }
            let thread = SystemThread(name: "test-tunnel") { [self] in tunnel(client) }
            state.withLock { $0.threads.append(thread) }
        }
    }

    private func tunnel(_ client: Int32) {
        var upstream: Int32 = -1
        defer {
            state.withLock { state in
                state.sockets.remove(client)
                close(client)
                if upstream >= 0 {
                    state.sockets.remove(upstream)
                    close(upstream)
                }
            }
        }
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            var byte: UInt8 = 0
            guard recv(client, &byte, 1, 0) == 1 else { return }
            head.append(byte)
        }
        var lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        let headers = lines.map { line -> (name: String, value: String) in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        let target = String(requestLine[1])
        state.withLock { $0.connects.append(Connect(target: target, headers: headers)) }
        if let refusal {
            _ = send(client, "HTTP/1.1 \(refusal)\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 \(refusal)\r\nContent-Length: 0\r\n\r\n".utf8.count, Int32(MSG_NOSIGNAL))
            return
        }
        guard requestLine[0] == "CONNECT", let port = target.split(separator: ":").last.flatMap({ UInt16($0) }),
              let connected = try? TCPConnector.connect(host: "127.0.0.1", port: port, deadline: .after(seconds: 2))
        else { return }
        upstream = connected.take()
        // Blocking from here: the relay waits in poll.
        _ = fcntl(upstream, F_SETFL, fcntl(upstream, F_GETFL) & ~O_NONBLOCK)
        guard state.withLock({ state -> Bool in
            state.sockets.insert(upstream)
            return !state.stopping
        }) else { return }
        let established = "HTTP/1.1 200 Connection established\r\n\r\n"
        _ = send(client, established, established.utf8.count, Int32(MSG_NOSIGNAL))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, -1) > 0 else { return }
            for (from, to) in [(0, 1), (1, 0)] where fds[from].revents != 0 {
                let count = recv(fds[from].fd, &buffer, buffer.count, 0)
                guard count > 0 else { return }
                var sent = 0
                while sent < count {
                    let written = buffer[sent..<count].withUnsafeBytes { send(fds[to].fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    guard written > 0 else { return }
                    sent += written
                }
            }
        }
    }
}

@Suite struct UpstreamProxyTests {
    @Test func anHTTPUpstreamIsReachedThroughACONNECTTunnelWithProxyCredentials() throws {
        let upstream = try FakeHTTPServer { request in .text("via \(request.target)") }
        defer { upstream.stop() }
        let proxy = try TunnelProxy()
        defer { proxy.stop() }
        let client = try UpstreamTesting.client(port: upstream.port) {
            $0.environment = ["HTTP_PROXY": "http://proxy%20user:pa%3Ass@127.0.0.1:\(proxy.port)"]
        }
        for _ in 0..<2 {
            #expect(try UpstreamTesting.fetch(client).body == Array("via /v2/library/alpine/blobs/sha256:aa".utf8))
        }
        let connects = proxy.connects
        #expect(connects.count == 1, "the tunnel is kept alive and reused")
        #expect(connects.first?.target == "127.0.0.1:\(upstream.port)")
        #expect(connects.first?.header("Proxy-Authorization") == "Basic " + Base64.encode(Array("proxy user:pa:ss".utf8)))
        #expect(upstream.requests.first?.header("Proxy-Authorization") == nil, "the proxy's credentials stay with the proxy")
    }

    @Test func noProxyBypassesTheProxy() throws {
        let upstream = try FakeHTTPServer { _ in .text("direct") }
        defer { upstream.stop() }
        let proxy = try TunnelProxy()
        defer { proxy.stop() }
        let client = try UpstreamTesting.client(port: upstream.port) {
            $0.environment = ["http_proxy": "http://127.0.0.1:\(proxy.port)", "no_proxy": "localhost,127.0.0.1"]
        }
        #expect(try UpstreamTesting.fetch(client).body == Array("direct".utf8))
        #expect(proxy.connects.isEmpty)
    }

    @Test func anHTTPSUpstreamIsReachedThroughTheTunnelWithTLSEndToEnd() throws {
        let certificates = try TestCertificates()
        let content = pseudoRandomBytes(count: 100_000, seed: 5)
        try certificates.serve("blob", content)
        let server = try OpenSSLServer(certificates, certificate: "good")
        defer { server.stop() }
        let proxy = try TunnelProxy()
        defer { proxy.stop() }
        var configuration = UpstreamTesting.configuration(port: server.port, host: "localhost", scheme: "https")
        configuration.caFile = certificates.caFile
        configuration.environment = ["HTTPS_PROXY": "127.0.0.1:\(proxy.port)", "HTTP_PROXY": "http://127.0.0.1:1"]
        let client = try UpstreamClient(configuration: configuration)
        #expect(try UpstreamTesting.fetch(client, UpstreamTesting.get("/blob")).body == content)
        #expect(proxy.connects.map(\.target) == ["localhost:\(server.port)"])
    }

    @Test func aProxyThatRefusesTheTunnelMakesTheUpstreamUnreachable() throws {
        let proxy = try TunnelProxy(refusal: "407 Proxy Authentication Required")
        defer { proxy.stop() }
        let client = try UpstreamTesting.client(port: 5000) {
            $0.environment = ["HTTP_PROXY": "http://127.0.0.1:\(proxy.port)"]
            $0.maxRetries = 0
        }
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }
        #expect(error?.caseName == "unreachable")
        #expect(error?.description.contains("407") == true)
    }
}
