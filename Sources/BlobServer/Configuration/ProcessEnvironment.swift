import Glibc

/// The process environment as a dictionary, read once per call: the configuration's
/// `BLOBCACHE_…` twins, and the upstream client's proxy variables unless a configuration
/// supplies its own.
public func processEnvironment() -> [String: String] {
    var variables: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return variables
}
