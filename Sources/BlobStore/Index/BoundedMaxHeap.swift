/// Keeps the `limit` smallest elements offered, in O(limit) memory and O(log limit) per
/// offer: a max-heap whose root is the largest element kept, the first to give way.
/// A plain value, owned by its caller.
struct BoundedMaxHeap<Element: Comparable> {
    let limit: Int
    private var storage: [Element] = []

    /// An empty heap with room reserved for `min(limit, expected)` elements.
    init(limit: Int, expected: Int) {
        precondition(limit >= 0, "BoundedMaxHeap: negative limit")
        self.limit = limit
        storage.reserveCapacity(min(limit, expected))
    }

    /// Keeps `element` if it is among the `limit` smallest offered so far.
    mutating func offer(_ element: Element) {
        if storage.count < limit {
            storage.append(element)
            siftUp(storage.count - 1)
        } else if limit > 0, element < storage[0] {
            storage[0] = element
            siftDown(0)
        }
    }

    /// The elements kept, smallest first.
    consuming func ascending() -> [Element] {
        storage.sort()
        return storage
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[parent] < storage[child] else { return }
            storage.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < storage.count else { return }
            let right = left + 1
            let larger = right < storage.count && storage[left] < storage[right] ? right : left
            guard storage[parent] < storage[larger] else { return }
            storage.swapAt(parent, larger)
            parent = larger
        }
    }
}
