/// The `limit` smallest of the names offered to it, in ascending order, kept in O(`limit`)
/// memory however many are offered: a directory of any size can be paged through without
/// holding all of its names.
struct SmallestNames {
    let limit: Int
    private var names: [String] = []
    /// Whether a name was dropped for being past the `limit` smallest.
    private(set) var hasMore = false

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    mutating func offer(_ name: String) {
        names.append(name)
        // Trim only once the buffer doubles, so offering n names costs O(n log limit).
        if names.count > 2 * limit { trim() }
    }

    /// The smallest names, ascending.
    mutating func sorted() -> [String] {
        trim()
        return names
    }

    private mutating func trim() {
        names.sort()
        if names.count > limit {
            names.removeLast(names.count - limit)
            hasMore = true
        }
    }
}
