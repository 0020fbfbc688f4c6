import BlobStore

/// One HTTP response as its bytes arrive on a raw connection: the head until it is whole, then
/// the body's length and SHA-256, and the body itself when `keepsBody`. Content-Length bodies
/// only. The downloaders subclass it with their connection. Not thread-safe.
class ArrivingReply {
    let keepsBody: Bool
    private(set) var headBytes: [UInt8] = []
    private(set) var head: Curl.Reply?
    private(set) var expected = 0
    private(set) var received = 0
    private(set) var body: [UInt8] = []
    let hasher = StreamingHasher(.sha256)
    /// The body is whole, or the connection ended.
    var hasEnded = false

    init(keepsBody: Bool) {
        self.keepsBody = keepsBody
    }

    /// The head arrived and then the whole announced body.
    var isComplete: Bool { head != nil && received == expected }

    func take(_ bytes: ArraySlice<UInt8>) throws {
        guard head == nil else { return consume(bytes) }
        headBytes += bytes
        guard let end = firstIndex(of: Array("\r\n\r\n".utf8), in: headBytes) else { return }
        let reply = try Curl.parse(head: String(decoding: headBytes[..<end], as: UTF8.self), body: [])
        head = reply
        expected = reply.header("Content-Length").flatMap { Int($0) } ?? 0
        consume(headBytes[(end + 4)...])
        if expected == 0 { hasEnded = true }
    }

    private func consume(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { hasher.update($0) }
        if keepsBody { body += bytes }
        received += bytes.count
        if received >= expected { hasEnded = true }
    }
}
