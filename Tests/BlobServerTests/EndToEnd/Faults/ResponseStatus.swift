/// The status of the HTTP/1.x response whose bytes `bytes` begin with (`HTTP/1.1 408 …`); nil
/// before the status line has arrived.
func responseStatus(atStartOf bytes: [UInt8]) -> Int? {
    let words = String(decoding: bytes.prefix(16), as: UTF8.self).split(separator: " ")
    guard words.count >= 2, words[0].hasPrefix("HTTP/1."), words[1].count == 3 else { return nil }
    return Int(words[1])
}
