/// Which deliveries of one connection the application still holds, so acknowledgements can be batched
/// safely: a `multiple` ack covers every outstanding delivery up to its tag, so it may only be sent
/// for a run of the oldest deliveries that are all done. The broker numbers deliveries on a channel
/// 1, 2, 3, …, so handed-out tags arrive in ascending order.
struct DeliveryLedger {
    /// What to send: one ack with `multiple` up to a tag, then single acks.
    struct Plan: Equatable {
        var multipleUpTo: UInt64?
        var single: [UInt64]
    }

    /// Handed out and not yet known to be settled, oldest first, from `head` on.
    private var outstanding: [UInt64] = []
    private var head = 0
    /// Settled while older deliveries were still outstanding.
    private var settledEarly: Set<UInt64> = []

    mutating func handedOut(_ tag: UInt64) {
        outstanding.append(tag)
    }

    /// Records a delivery settled on its own (a reject, or a single ack already sent).
    mutating func settledAlone(_ tag: UInt64) {
        settledEarly.insert(tag)
    }

    /// Plans the acks for `tags` and records them as settled.
    mutating func settle(_ tags: [UInt64]) -> Plan {
        var pending = Set(tags)
        var multipleUpTo: UInt64?
        while head < outstanding.count {
            let oldest = outstanding[head]
            if pending.remove(oldest) != nil {
                multipleUpTo = oldest
            } else if settledEarly.remove(oldest) == nil {
                break
            }
            head += 1
        }
        if head > 1024, head * 2 > outstanding.count {
            outstanding.removeFirst(head)
            head = 0
        }
        let single = pending.sorted()
        settledEarly.formUnion(single)
        return Plan(multipleUpTo: multipleUpTo, single: single)
    }
}
