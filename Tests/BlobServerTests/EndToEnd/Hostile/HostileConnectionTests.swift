import Testing

extension EndToEnd {
    /// Connections used against the server rather than for requests: fifty requests in one
    /// send, and two hundred connections that stall at every stage of a request. The first are
    /// answered in order; the second neither block a normal client nor grow the server's memory.
    @Suite("EndToEnd: hostile connections", .serialized)
    struct HostileConnectionTests {
        @Test func fiftyPipelinedRequestsAreAnsweredInOrder() throws {
            let fixture = try HostileServer()
            let client = try fixture.server.client()
            var requests = ""
            for index in 0..<50 {
                switch index % 5 {
                case 4: requests += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                case 3: requests += "HEAD /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\n\r\n"
                default: requests += "GET /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\nRange: bytes=\(index * 10)-\(index * 10 + 9)\r\n\r\n"
                }
            }
            try client.send(requests)  // one send: all fifty heads arrive together
            for index in 0..<50 {
                switch index % 5 {
                case 4:
                    let reply = try client.readReply()
                    #expect(reply.status == 200 && reply.text == "ok\n", "response \(index): \(reply.status) \(reply.text)")
                case 3:
                    let reply = try client.readReply(isHead: true)
                    #expect(reply.status == 200 && reply.header("Content-Length") == "4096", "response \(index)")
                default:
                    let reply = try client.readReply()
                    #expect(reply.status == 206, "response \(index)")
                    #expect(reply.header("Content-Range") == "bytes \(index * 10)-\(index * 10 + 9)/4096", "response \(index)")
                    #expect(reply.body == Array(fixture.bytes[(index * 10)..<(index * 10 + 10)]), "response \(index)")
                }
            }
            // And the connection is still usable.
            try client.send("GET /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(try client.readReply().body == fixture.bytes)
            #expect(client.readsEOF())
        }

        @Test func twoHundredStalledConnectionsNeitherBlockAClientNorGrowMemory() throws {
            let fixture = try HostileServer()
            fixture.expectStillServing(after: "the start")  // warm: the first request's allocations are made
            pause(seconds: 0.2)
            guard let before = fixture.server.residentKiB else { throw EndToEndFailure("no VmRSS for the server") }
            var stalled: [RawClient] = []
            for index in 0..<200 {
                let client = try fixture.server.client(timeoutSeconds: 5)
                switch index % 4 {
                case 0: break  // connected, says nothing
                case 1: try client.send("GET /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\n")  // head never ends
                case 2: try client.send("G")
                default:
                    // A body promised and never sent.
                    try client.send("PUT /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\nabc")
                }
                stalled.append(client)
            }
            pause(seconds: 0.3)

            for attempt in 0..<5 {
                let start = monotonicSeconds()
                fixture.expectStillServing(after: "a normal GET \(attempt) with 200 stalled connections")
                let elapsed = monotonicSeconds() - start
                #expect(elapsed < 1, "a normal GET took \(elapsed) s while 200 connections stalled")
            }
            guard let after = fixture.server.residentKiB else { throw EndToEndFailure("the server is gone") }
            #expect(after - before < 8 * 1024, "VmRSS grew from \(before) KiB to \(after) KiB with 200 stalled connections")

            stalled.removeAll()
            fixture.expectStillServing(after: "the stalled connections went away")
        }
    }
}
