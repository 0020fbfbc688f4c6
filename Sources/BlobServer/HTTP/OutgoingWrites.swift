/// What a connection still has to send for its current response, in order: literal bytes
/// (the head, multipart delimiters, small bodies) and ranges of open files (blob bodies, sent
/// with sendfile). A pure value: the connection asks `next()` what to do, makes the system
/// call, and reports how many bytes went with `advance(by:)`, which handles partial writes.
///
/// File descriptors here are borrowed: the connection owns the open blob for as long as these
/// writes refer to it.
struct OutgoingWrites {
    enum Segment: Equatable {
        case bytes([UInt8], sent: Int)
        case file(descriptor: Int32, offset: UInt64, remaining: UInt64)
    }

    /// The next system call to make.
    enum Action: Equatable {
        /// writev these byte segments (consecutive literal segments are gathered).
        case write([ArraySlice<UInt8>])
        /// sendfile `count` bytes of `descriptor` from `offset`.
        case sendFile(descriptor: Int32, offset: UInt64, count: UInt64)
        case done
    }

    private var segments: [Segment] = []
    private var first = 0

    /// Bytes not yet sent.
    private(set) var pendingBytes: UInt64 = 0

    var isEmpty: Bool { first == segments.count }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        segments.append(.bytes(bytes, sent: 0))
        pendingBytes += UInt64(bytes.count)
    }

    mutating func append(file descriptor: Int32, offset: UInt64, count: UInt64) {
        guard count > 0 else { return }
        segments.append(.file(descriptor: descriptor, offset: offset, remaining: count))
        pendingBytes += count
    }

    /// The next call to make. At most `maxGather` literal segments go into one writev.
    func next(maxGather: Int = 16) -> Action {
        guard first < segments.count else { return .done }
        switch segments[first] {
        case .file(let descriptor, let offset, let remaining):
            return .sendFile(descriptor: descriptor, offset: offset, count: remaining)
        case .bytes:
            var slices: [ArraySlice<UInt8>] = []
            var index = first
            while index < segments.count, slices.count < maxGather, case .bytes(let bytes, let sent) = segments[index] {
                slices.append(bytes[sent...])
                index += 1
            }
            return .write(slices)
        }
    }

    /// Records that the last action sent `count` bytes (possibly fewer than asked).
    mutating func advance(by count: Int) {
        precondition(count >= 0 && UInt64(count) <= pendingBytes, "advanced past what was pending")
        pendingBytes -= UInt64(count)
        var left = count
        while left > 0 || (first < segments.count && Self.isFinished(segments[first])) {
            guard first < segments.count else { break }
            switch segments[first] {
            case .bytes(let bytes, let sent):
                let take = min(left, bytes.count - sent)
                left -= take
                if sent + take == bytes.count { first += 1 } else { segments[first] = .bytes(bytes, sent: sent + take) }
            case .file(let descriptor, let offset, let remaining):
                let take = min(UInt64(left), remaining)
                left -= Int(take)
                if take == remaining { first += 1 } else {
                    segments[first] = .file(descriptor: descriptor, offset: offset + take, remaining: remaining - take)
                }
            }
        }
        if first == segments.count {
            segments.removeAll(keepingCapacity: true)
            first = 0
        }
    }

    private static func isFinished(_ segment: Segment) -> Bool {
        switch segment {
        case .bytes(let bytes, let sent): sent == bytes.count
        case .file(_, _, let remaining): remaining == 0
        }
    }
}
