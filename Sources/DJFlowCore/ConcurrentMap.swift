// Order-keeping maps over all cores, for independent pieces of work (targets lowering workflows, per-job loops).

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

/// `(0..<count).map(transform)` over all cores, in contiguous chunks of at least `grain` indices (fewer
/// run on the calling thread alone); results in index order. For the per-table and per-job loops of
/// large pipelines, where each index's work is independent and small.
public func concurrentIndices<T>(_ count: Int, grain: Int = 512, _ transform: @Sendable (Int) -> T) -> [T] {
    let chunks = Swift.min(8, count / Swift.max(grain, 1))
    guard chunks > 1 else { return (0..<count).map(transform) }
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        let slots = UninitializedSlots(base: buffer.baseAddress!)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            for index in chunkRange(chunk, of: chunks, count: count) {
                (slots.base + index).initialize(to: transform(index))
            }
        }
        initialized = count
    }
}

/// The indices of chunk `chunk` when `0..<count` is cut into `chunks` contiguous chunks of near-equal size.
public func chunkRange(_ chunk: Int, of chunks: Int, count: Int) -> Range<Int> {
    (count * chunk / chunks)..<(count * (chunk + 1) / chunks)
}

/// Each slot is initialised by exactly one iteration of `concurrentPerform`.
private struct UninitializedSlots<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}
