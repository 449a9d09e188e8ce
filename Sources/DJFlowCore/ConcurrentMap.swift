// An order-keeping map over all cores, for independent pieces of work (targets lowering workflows).

import Dispatch

extension Array where Element: Sendable {
    /// `map` with the calls spread over all cores; the results keep the order of the elements, so output
    /// built from them is the same on every run. `transform` must not depend on the order of the calls.
    public func concurrentMap<T>(_ transform: @Sendable (Element) -> T) -> [T] {
        guard count > 1 else { return map(transform) }
        var results = [T?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { slots in
            let slots = ResultSlots(base: slots.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: count) { index in
                slots.base[index] = transform(self[index])
            }
        }
        return results.map { $0! }
    }
}

/// Each slot is written by exactly one iteration of `concurrentPerform`, and read after it returns.
private struct ResultSlots<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T?>
}
