import SupervisorCore
/// Spawn orders in the order the core gave them, taken a slice per loop
/// turn: a FIFO whose `popFirst` costs O(1) (the taken prefix is dropped in
/// bulk once it outgrows what is left).
struct SpawnQueue {
    private var orders: [SpawnOrder] = []
    private var head = 0

    var isEmpty: Bool { head == orders.count }

    mutating func append(_ order: SpawnOrder) { orders.append(order) }

    mutating func popFirst() -> SpawnOrder? {
        guard head < orders.count else { return nil }
        let order = orders[head]
        head += 1
        if head == orders.count {
            orders.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64, head * 2 > orders.count {
            orders.removeFirst(head)
            head = 0
        }
        return order
    }
}
