import BlobStore

/// The engine's sizes and timeouts. Derived from the memory budget by `init(budget:loops:)`;
/// tests shorten the timeouts.
public struct ServerLimits: Sendable, Equatable {
    /// Bytes of each pooled read buffer: a request head almost always fits.
    public var bufferBytes = 16 << 10
    /// Read buffers per loop; a connection holds one only while it has unparsed bytes.
    public var buffersPerLoop: Int
    /// Large buffers per loop, for the rare head that outgrows a regular buffer (up to the
    /// parser's 8 KiB request line plus 64 KiB of fields).
    public var largeBuffersPerLoop = 4
    /// Connections per loop; more wait in the listen backlog.
    public var connectionsPerLoop: Int
    /// Open descriptors of small blobs kept per loop.
    public var cachedDescriptorsPerLoop = 1024
    /// Threads for blocking file work.
    public var workers = 4
    /// From a request's first byte to its complete head.
    public var headerTimeoutSeconds: Double = 20
    /// A keep-alive connection with no request.
    public var idleTimeoutSeconds: Double = 60
    /// A request body making no progress.
    public var bodyTimeoutSeconds: Double = 30
    /// A response making no progress (the client stopped reading).
    public var writeTimeoutSeconds: Double = 60
    /// How long to drain a closing connection's unread input, so the close does not reset it
    /// before the client has read the answer.
    public var lingerSeconds: Double = 2
    /// Largest chunked request body.
    public var maxChunkedBodyBytes: UInt64 = 1 << 40

    /// Bytes one connection costs the process apart from buffers: its `Connection` and parser,
    /// its heap share, and its slot in the loop's tables (slot array, free list, five timeout
    /// lists: 96 bytes, paid for every slot). Measured on Linux x86-64 (release build): 0.76 KiB
    /// of RSS per idle keep-alive connection from 1,000 to 16,000 connections, 0.85 KiB per
    /// connection with 9,000 busy ones (buffers included); 1 KiB keeps the account honest.
    static let bytesPerConnection: UInt64 = 1024
    static let largeBufferBytes = HTTPRequestParser.maxRequestLineBytes + HTTPRequestParser.maxHeaderSectionBytes + 4096

    /// Limits that keep the connection share of `budget` across `loops` loops: five eighths for
    /// buffers (large ones first), three eighths for connection state. A connection holds a
    /// buffer only while it has unparsed bytes, so many more connections than buffers can be
    /// open: the default 128 MiB budget admits 12,288 connections in all, whatever the number of
    /// loops, and keeps 1,242 buffers on two loops, so 1,000 connections dribbling heads that
    /// never end (slowloris) still leave buffers for a real client.
    public init(budget: MemoryBudget, loops: Int) {
        let share = budget.connectionBufferBytes / UInt64(max(1, loops))
        let largeBytes = UInt64(largeBuffersPerLoop * Self.largeBufferBytes)
        let bufferShare = share / 8 * 5 > largeBytes ? share / 8 * 5 - largeBytes : share / 4
        buffersPerLoop = max(16, Int(bufferShare / UInt64(bufferBytes)))
        connectionsPerLoop = max(64, Int(share / 8 * 3 / Self.bytesPerConnection))
    }
}
