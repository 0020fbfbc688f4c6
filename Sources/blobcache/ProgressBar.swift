import BlobStore
import Glibc

/// A one-line progress bar on stderr, for `verify` and `import` when stderr is a terminal.
/// Redraws at most ten times a second. Used from one thread.
final class ProgressBar {
    private let label: String
    /// Whether `done` and `total` are bytes (shown as 1.5GiB) or counts.
    private let countsBytes: Bool
    private var lastDraw: Double = 0

    init(label: String, countsBytes: Bool = true) {
        self.label = label
        self.countsBytes = countsBytes
    }

    func update(done: UInt64, total: UInt64, detail: String) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let seconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        guard seconds - lastDraw >= 0.1 else { return }
        lastDraw = seconds
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r\(label) [\(bar)] \(Int(fraction * 100))% \(amount(done))/\(amount(total)) \(detail)\u{1B}[K"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    private func amount(_ value: UInt64) -> String { countsBytes ? ByteSize.format(value) : String(value) }

    func finish() {
        _ = "\r\u{1B}[K".withCString { write(2, $0, strlen($0)) }
    }
}
