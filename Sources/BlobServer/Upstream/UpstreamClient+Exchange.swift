extension UpstreamClient {
    /// Sends `request` on a pooled connection (or a new one) and reads the response head,
    /// skipping 1xx interim answers. A pooled connection that the server closed while it sat
    /// idle shows as a close before any response byte; the request then goes once more on a
    /// fresh connection, which is not a retry.
    func exchange(_ request: OutgoingRequest, authorization: String?) throws(UpstreamConnectionFailure) -> UpstreamClientResponse {
        let requestHead = request.head(authorization: authorization)
        var fresh = false
        while true {
            let connection = try connection(to: request.url.origin, fresh: fresh)
            var receivedAnything = false
            do throws(UpstreamConnectionFailure) {
                try connection.send(requestHead, deadline: .after(seconds: configuration.idleTimeoutSeconds))
                let head = try readHead(from: connection, receivedAnything: &receivedAnything)
                let framing = try head.framing(for: request.method)
                return UpstreamClientResponse(client: self, request: request, head: head, framing: framing, connection: connection)
            } catch {
                pool.discard(connection)
                guard error.kind == .closed, connection.hasBeenReused, !receivedAnything, !fresh else { throw error }
                counters.transportFailed()
                logger?.debug("stale pooled connection; sending again on a new one", [
                    "origin": .string(request.url.origin.description), "error": .string(error.message),
                ])
                fresh = true
            }
        }
    }

    /// A connection to `origin`: an idle pooled one unless `fresh`, else a new one once the
    /// pool has room.
    private func connection(to origin: UpstreamOrigin, fresh: Bool) throws(UpstreamConnectionFailure) -> UpstreamConnection {
        switch try pool.acquire(origin, fresh: fresh, deadline: .after(seconds: configuration.poolWaitTimeoutSeconds)) {
        case .reused(let connection):
            return connection
        case .slot:
            do throws(UpstreamConnectionFailure) {
                return try UpstreamConnection.open(
                    to: origin, through: proxies.route(for: origin), tls: tls, sourceHost: configuration.sourceHost,
                    deadline: .after(seconds: configuration.connectTimeoutSeconds))
            } catch {
                pool.cancel(origin)
                throw error
            }
        }
    }

    /// Reads until a final response head: the first byte within the first-byte timeout, the
    /// rest without a stall longer than the idle timeout.
    private func readHead(
        from connection: UpstreamConnection, receivedAnything: inout Bool
    ) throws(UpstreamConnectionFailure) -> UpstreamResponseHead {
        let firstByteDeadline = IODeadline.after(seconds: configuration.firstByteTimeoutSeconds)
        while true {
            if let (head, consumed) = try UpstreamResponseHead.parse(connection.unread) {
                connection.consume(consumed)
                guard (100..<200).contains(head.status) else { return head }
                guard head.status != 101 else {
                    throw UpstreamConnectionFailure(.malformed, "\(connection.origin) switched protocols unasked (101)")
                }
                continue
            }
            let deadline = receivedAnything ? IODeadline.after(seconds: configuration.idleTimeoutSeconds) : firstByteDeadline
            let count: Int
            do throws(UpstreamConnectionFailure) {
                count = try connection.fill(deadline: deadline)
            } catch where error.kind == .timedOut {
                let wait = receivedAnything ? configuration.idleTimeoutSeconds : configuration.firstByteTimeoutSeconds
                throw UpstreamConnectionFailure(.timedOut, "no response head from \(connection.origin) within \(wait) s")
            }
            guard count > 0 else {
                let when = receivedAnything ? "inside the response head" : "before answering"
                throw UpstreamConnectionFailure(.closed, "\(connection.origin) closed the connection \(when)")
            }
            receivedAnything = true
        }
    }
}
