// libFuzzer target for what the upstream client reads: response heads (1xx interim answers
// skipped, as the client does), the body framing they announce, and the body decoder over the
// bytes after the head. The input fed whole, one byte at a time and in strides must give the
// same log; no event may point outside the bytes it was given; the headers the client reads
// from a head (Content-Range for resumption, Retry-After) must make sense.
// Built by Fuzz/build.sh.
@testable import BlobServer

/// What a client sees on one connection.
enum ResponseEvent: Equatable {
    /// Status, minor version and fields as parsed; where the head ended in the input.
    case head(status: Int, minorVersion: Int, fields: [String], endsAt: Int)
    case headError(String)
    case framing(ResponseBodyDecoder.Framing)
    case bodyBroken(String)
    /// The whole body, and where in the input it ended (nil: at the connection's close).
    case body([UInt8], endsAt: Int?)
    /// The input ended before the head or body did.
    case closedEarly
}

/// Plays the client's reading of `input`, which arrives in pieces ending at each of `ends`.
func connectionLog(_ input: UnsafeRawBufferPointer, piecesEndingAt ends: some Sequence<Int>) -> [ResponseEvent] {
    var log: [ResponseEvent] = []
    var decoder: ResponseBodyDecoder?
    var body: [UInt8] = []
    var start = 0
    for end in ends {
        pieces: while true {
            let piece = UnsafeRawBufferPointer(rebasing: input[start..<end])
            guard var reading = decoder else {
                let parsed: (head: UpstreamResponseHead, consumed: Int)?
                do {
                    parsed = try UpstreamResponseHead.parse(piece)
                } catch {
                    precondition(error.kind == .malformed, "a head failed as \(error.kind), not malformed")
                    log.append(.headError(error.message))
                    return log
                }
                guard let (head, consumed) = parsed else { break pieces }
                precondition(consumed >= 4 && consumed <= piece.count, "a head claimed bytes it was not given")
                check(head)
                start += consumed
                log.append(.head(status: head.status, minorVersion: head.minorVersion, fields: head.fields.map { "\($0.name): \($0.value)" }, endsAt: start))
                if head.status == 101 {
                    log.append(.headError("switched protocols unasked"))
                    return log
                }
                if (100..<200).contains(head.status) { continue }
                do {
                    let framing = try head.framing(for: .get)
                    log.append(.framing(framing))
                    decoder = ResponseBodyDecoder(framing: framing)
                } catch {
                    log.append(.headError(error.message))
                    return log
                }
                if decoder!.isComplete {
                    log.append(.body([], endsAt: start))
                    return log
                }
                continue
            }
            let event = reading.decode(piece)
            decoder = reading
            switch event {
            case .data(let range):
                precondition(!range.isEmpty && range.lowerBound >= 0 && range.upperBound <= piece.count, "data outside the input")
                body += piece[range]
                start += range.upperBound
                if reading.isComplete {
                    precondition(reading.framing == .length(UInt64(body.count)), "a body ended at \(body.count) bytes, framed \(reading.framing)")
                    log.append(.body(body, endsAt: start))
                    return log
                }
            case .needMore:
                start = end
                break pieces
            case .end(let consumed):
                precondition(consumed >= 0 && consumed <= piece.count, "a body claimed bytes it was not given")
                precondition(reading.isComplete, "a body ended without being complete")
                start += consumed
                log.append(.body(body, endsAt: start))
                return log
            case .broken(let reason):
                precondition(reading.framing == .chunked, "only chunked framing can break")
                log.append(.bodyBroken(reason))
                return log
            }
        }
    }
    if let decoder, decoder.endsAtClose {
        if case .length(let length) = decoder.framing { precondition(UInt64(body.count) == length, "a length body miscounted") }
        log.append(.body(body, endsAt: nil))
    } else {
        log.append(.closedEarly)
    }
    return log
}

/// What the client reads from a head besides the framing.
func check(_ head: UpstreamResponseHead) {
    precondition((100...999).contains(head.status) && (0...9).contains(head.minorVersion), "status line out of range")
    for field in head.fields {
        precondition(!field.name.isEmpty && field.name.utf8.allSatisfy(HTTPParseSyntax.isTokenChar), "bad field name")
        precondition(!field.value.utf8.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }, "control byte in a field value")
        precondition(field.value.trimmingASCIIWhitespace == field.value, "a field value kept its OWS")
    }
    precondition((try? head.framing(for: .head)) == ResponseBodyDecoder.Framing.none, "a HEAD response has a body")
    if let length = head.announcedContentLength, let framing = try? head.framing(for: .get), framing != .none {
        precondition(framing == .length(length), "announced length \(length) but framing \(framing)")
    }
    _ = head.keepsConnectionAlive
    if let retryAfter = head.field("Retry-After"), let seconds = RetryAfter.seconds(retryAfter, now: 1_700_000_000) {
        precondition(seconds >= 0, "a negative Retry-After")
    }
    // Resumption asks for the rest with a Range the server's own parser must read back, and an
    // answer carrying the same Content-Range must continue the body.
    if let point = BodyResumePoint(status: head.status, contentRange: head.field("Content-Range")) {
        let expected: RangeSpec = point.last.map { .closed(first: point.first, last: $0) } ?? .from(first: point.first)
        precondition(RangeHeader(parsing: point.rangeField(delivered: 0)) == .single(expected), "resumption Range unreadable")
        if head.status == 206 {
            let acceptance = point.accept(status: 206, contentRange: head.field("Content-Range"), delivered: 0)
            precondition(acceptance == .follows, "a 206 does not continue itself: \(acceptance)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let whole = connectionLog(input, piecesEndingAt: [size])
    let bytewise = connectionLog(input, piecesEndingAt: 0...size)
    precondition(whole == bytewise, "byte-at-a-time read differs:\n\(whole)\n\(bytewise)")
    let stride = size == 0 ? 1 : Int(data[size - 1] % 13) + 2
    let strided = connectionLog(input, piecesEndingAt: Array(Swift.stride(from: stride, to: size, by: stride)) + [size])
    precondition(whole == strided, "read in strides of \(stride) differs:\n\(whole)\n\(strided)")
    return 0
}
