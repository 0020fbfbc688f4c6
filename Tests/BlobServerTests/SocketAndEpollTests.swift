import BlobStore
import CBlobSys
import Glibc
import Testing
@testable import BlobServer

@Suite struct SocketAddressParsing {
    @Test(arguments: [
        ("127.0.0.1:5000", "127.0.0.1:5000", true),
        ("0.0.0.0:0", "0.0.0.0:0", false),
        ("127.9.9.9:80", "127.9.9.9:80", true),
        ("[::1]:5000", "[::1]:5000", true),
        ("[::]:443", "[::]:443", false),
        ("10.1.2.3:65535", "10.1.2.3:65535", false),
    ])
    func aLiteralAddressParsesAndPrintsBack(text: String, printed: String, loopback: Bool) throws {
        let address = try SocketAddress(parsing: text)
        #expect(address.description == printed)
        #expect(address.isLoopback == loopback)
    }

    @Test(arguments: ["", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80",
                      "localhost:80", "[::1]", "[::1:80", "::1:80", "300.1.1.1:80", "127.0.0.1:80x"])
    func aMalformedAddressIsRefusedNamingTheText(_ text: String) {
        #expect(throws: SocketAddress.ParseError.self) { try SocketAddress(parsing: text) }
        do { _ = try SocketAddress(parsing: text) } catch { #expect(error.description.contains("'\(text)'")) }
    }
}

/// Whether an optional descriptor is empty (Optional of a noncopyable type has no `== nil`).
func isNone(_ descriptor: consuming FileDescriptor?) -> Bool {
    switch consume descriptor {
    case .some: false
    case .none: true
    }
}

@Suite struct ListenerEpollAndWakeup {
    /// A blocking client socket connected to `address`.
    func connectClient(to address: SocketAddress) throws -> FileDescriptor {
        let raw = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        try #require(raw >= 0)
        let client = FileDescriptor(owning: raw)
        let result = address.withSockaddr { connect(raw, $0, $1) }
        try #require(result == 0, "connect failed: errno \(cbs_errno())")
        return client
    }

    @Test func aListenerOnPortZeroLearnsItsPortAndAcceptsThroughEpoll() throws {
        let listener = try ListeningSocket(binding: SocketAddress(parsing: "127.0.0.1:0"), reusePort: true)
        #expect(listener.address.port != 0)
        let epoll = try Epoll()
        try epoll.register(listener.descriptor.rawValue, token: 7, interest: .readable)
        #expect(try isNone(listener.accept()), "nothing is pending yet")

        let client = try connectClient(to: listener.address)
        var tokens: [UInt64] = []
        try epoll.wait(timeoutMilliseconds: 2000) { tokens.append($0.token) }
        #expect(tokens == [7])
        let accepted: FileDescriptor? = try listener.accept()
        let connection: FileDescriptor
        switch consume accepted {
        case .some(let descriptor): connection = descriptor
        case .none: Issue.record("the pending connection was not accepted"); return
        }
        #expect(fcntl(connection.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(try isNone(listener.accept()))

        try epoll.register(connection.rawValue, token: 42, interest: [.readable, .edgeTriggered])
        var greeting: [UInt8] = Array("hello".utf8)
        #expect(write(client.rawValue, &greeting, greeting.count) == 5)
        var events: [Epoll.Event] = []
        try epoll.wait(timeoutMilliseconds: 2000) { events.append($0) }
        #expect(events.map(\.token) == [42])
        #expect(events.first?.isReadable == true)
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(read(connection.rawValue, &buffer, 16) == 5)
        #expect(read(connection.rawValue, &buffer, 16) == -1 && cbs_errno() == EAGAIN)
    }

    @Test func twoListenersShareOnePortWithReusePort() throws {
        let first = try ListeningSocket(binding: SocketAddress(parsing: "127.0.0.1:0"), reusePort: true)
        let second = try ListeningSocket(binding: first.address, reusePort: true)
        #expect(second.address == first.address)
    }

    @Test func bindingAPortInUseWithoutReusePortNamesTheCallAndAddress() throws {
        let first = try ListeningSocket(binding: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        #expect {
            _ = try ListeningSocket(binding: first.address, reusePort: false)
        } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.call == "bind" && error.errno == EADDRINUSE && error.path == first.address.description
        }
    }

    @Test func aWakeupFromAnotherThreadEndsAnEpollWait() throws {
        let epoll = try Epoll()
        let wakeup = try Wakeup()
        try epoll.register(wakeup.descriptor.rawValue, token: 1, interest: .readable)
        let thread = SystemThread(name: "waker") {
            usleep(20_000)
            wakeup.signal()
            wakeup.signal()
        }
        var tokens: [UInt64] = []
        try epoll.wait(timeoutMilliseconds: 5000) { tokens.append($0.token) }
        thread.join()
        #expect(tokens == [1])
        wakeup.drain()
        #expect(try epoll.wait(timeoutMilliseconds: 0) { _ in } == 0, "two signals coalesce into one drained wake")
    }
}
