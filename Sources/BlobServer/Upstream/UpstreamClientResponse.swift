/// The answer `UpstreamClient.send` hands over: the head, and the body read through the
/// connection's receive buffer into the caller's.
///
/// The body's end puts the connection back in the pool at once (when the upstream keeps it
/// alive), so a caller that reads to the end frees it even before `finish()`. A GET body that
/// breaks (reset, early close, stall past the idle timeout, broken chunked framing) is resumed
/// inside `read` from the final URL with `Range: bytes=N-`, the request's fields and its
/// authentication, at most `maxResumes` times.
///
/// Ownership: the caller ends it with `finish()` or `abandon()`; a response dropped without
/// either closes its connection. Used by one thread at a time (the protocol's contract),
/// hence `@unchecked Sendable`.
final class UpstreamClientResponse: UpstreamResponse, @unchecked Sendable {
    let status: Int
    let head: UpstreamResponseHead
    let contentLength: UInt64?
    private let client: UpstreamClient
    /// The request at its final URL: where a resumption goes.
    private let request: OutgoingRequest
    private let resumePoint: BodyResumePoint?
    private var connection: UpstreamConnection?
    private var decoder: ResponseBodyDecoder
    private var keepsAlive: Bool
    /// Body bytes handed to the caller, over every resumption.
    private var delivered: UInt64 = 0
    /// Bytes still to drop from a resumption answered with the whole representation.
    private var toSkip: UInt64 = 0
    private var resumesLeft: Int

    init(
        client: UpstreamClient, request: OutgoingRequest, head: UpstreamResponseHead, framing: ResponseBodyDecoder.Framing,
        connection: UpstreamConnection
    ) {
        self.client = client
        self.request = request
        self.head = head
        self.connection = connection
        status = head.status
        contentLength = head.announcedContentLength
        decoder = ResponseBodyDecoder(framing: framing)
        keepsAlive = head.keepsConnectionAlive
        resumePoint = request.method == .get ? BodyResumePoint(status: head.status, contentRange: head.field("Content-Range")) : nil
        resumesLeft = client.configuration.maxResumes
        if decoder.isComplete { endBody() }
    }

    deinit {
        if let connection { client.pool.discard(connection) }
    }

    func header(_ name: String) -> String? { head.field(name) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(UpstreamError) -> Int {
        guard !buffer.isEmpty else { return 0 }
        while let connection {
            let unread = connection.unread
            let limit = toSkip > 0 ? Int(min(UInt64(unread.count), toSkip)) : min(unread.count, buffer.count)
            switch decoder.decode(UnsafeRawBufferPointer(rebasing: unread[..<limit])) {
            case .data(let range):
                client.counters.bodyBytesReceived(range.count)
                if toSkip > 0 {
                    toSkip -= UInt64(range.count)
                    connection.consume(range.upperBound)
                    continue
                }
                buffer.baseAddress!.copyMemory(from: unread.baseAddress! + range.lowerBound, byteCount: range.count)
                connection.consume(range.upperBound)
                delivered += UInt64(range.count)
                if decoder.isComplete { endBody() }
                return range.count
            case .needMore:
                connection.consume(limit)
                guard connection.unread.isEmpty else { continue }
                let received: Int
                do throws(UpstreamConnectionFailure) {
                    received = try connection.fill(deadline: .after(seconds: client.configuration.idleTimeoutSeconds))
                } catch {
                    try resume(after: error.message)
                    continue
                }
                if received == 0 {
                    if decoder.endsAtClose {
                        endBody()
                        return 0
                    }
                    try resume(after: "the connection closed early")
                }
            case .end(let consumed):
                connection.consume(consumed)
                endBody()
                guard toSkip == 0 else {
                    throw .bodyBroken("the resumed answer from \(request.url.redactedDescription) is shorter than the first")
                }
                return 0
            case .broken(let reason):
                try resume(after: reason)
            }
        }
        return 0
    }

    /// Ends the response after the caller read its body. What of the body's end is already
    /// buffered is decoded, so a chunked body whose last chunk came with its data still goes
    /// back to the pool; a body not known to be over closes its connection.
    func finish() {
        while let connection {
            switch decoder.decode(connection.unread) {
            case .data(let range):
                client.counters.bodyBytesReceived(range.count)
                connection.consume(range.upperBound)
            case .end(let consumed):
                connection.consume(consumed)
                endBody()
            case .needMore, .broken:
                dropConnection()
            }
        }
    }

    func abandon() {
        dropConnection()
    }

    /// Reads and drops the body of an answer the client handles itself (a redirect, a 401, a
    /// retried 5xx), so its connection can carry the next attempt; a body over 64 KiB, or
    /// slower than a second, is not worth it and closes the connection instead.
    func discardBody() {
        var budget = UpstreamConnection.receiveBufferSize
        while let connection {
            switch decoder.decode(connection.unread) {
            case .data(let range):
                client.counters.bodyBytesReceived(range.count)
                connection.consume(range.upperBound)
                budget -= range.count
                if budget < 0 { dropConnection() }
            case .end(let consumed):
                connection.consume(consumed)
                endBody()
            case .broken:
                dropConnection()
            case .needMore:
                connection.consume(connection.unread.count)
                let deadline = IODeadline.after(seconds: min(1, client.configuration.idleTimeoutSeconds))
                guard decoder.framing != .untilClose, ((try? connection.fill(deadline: deadline)) ?? 0) > 0 else {
                    dropConnection()
                    return
                }
            }
        }
    }

    /// The whole body, for small documents (a token endpoint's JSON); `.malformed` past `limit`.
    func readAll(limit: Int) throws(UpstreamError) -> [UInt8] {
        var body: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            let count = try read(into: chunk)
            if count == 0 { return body }
            body += chunk[..<count]
            guard body.count <= limit else {
                abandon()
                throw .malformed("\(request.url.redactedDescription) sent a body over \(limit) bytes")
            }
        }
    }

    /// Continues a broken body with a new request for the rest, or throws `.bodyBroken`.
    private func resume(after reason: String) throws(UpstreamError) {
        client.counters.transportFailed()
        dropConnection()
        let place = request.url.redactedDescription
        guard let point = resumePoint, resumesLeft > 0 else {
            throw .bodyBroken("\(reason) after \(delivered) body bytes from \(place)")
        }
        resumesLeft -= 1
        client.counters.resumed()
        let range = point.rangeField(delivered: delivered)
        client.logger?.warn("upstream body broke; resuming", [
            "url": .string(place), "error": .string(reason), "range": .string(range),
            "resumes_left": .int(Int64(resumesLeft)),
        ])
        let next: UpstreamClientResponse
        do throws(UpstreamError) {
            next = try client.perform(request.setting("Range", to: range), purpose: .resumption)
        } catch {
            throw .bodyBroken("\(reason) after \(delivered) body bytes from \(place); resuming failed: \(error)")
        }
        switch point.accept(status: next.status, contentRange: next.header("Content-Range"), delivered: delivered) {
        case .follows:
            toSkip = 0
        case .skip(let count):
            toSkip = count
        case .reject(let why):
            next.abandon()
            throw .bodyBroken("\(reason) after \(delivered) body bytes from \(place); resuming failed: \(why)")
        }
        (connection, decoder, keepsAlive) = next.takeBody()
    }

    /// Hands this response's body (connection and framing) to the response it continues.
    private func takeBody() -> (UpstreamConnection?, ResponseBodyDecoder, Bool) {
        defer { connection = nil }
        return (connection, decoder, keepsAlive)
    }

    /// The body is over: the connection goes back to the pool when it may carry another
    /// request (bytes after the body would be read as the next answer's: it closes then).
    private func endBody() {
        guard let connection else { return }
        self.connection = nil
        if keepsAlive && decoder.isComplete && decoder.framing != .untilClose && connection.unread.isEmpty {
            client.pool.release(connection)
        } else {
            client.pool.discard(connection)
        }
    }

    private func dropConnection() {
        guard let connection else { return }
        self.connection = nil
        client.pool.discard(connection)
    }
}
