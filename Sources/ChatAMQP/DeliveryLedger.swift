/// Which deliveries of one channel the application still holds, so acknowledgements can be batched
/// safely: a `multiple` ack covers every outstanding delivery up to its tag, so it may only be sent
/// for a run of the oldest deliveries that are all done. The broker numbers deliveries on a channel
/// 1, 2, 3, …, so handed-out tags arrive in ascending order.
///
/// Acks that come out of order (each socket confirms on its own round trip) can either go out alone
/// at once, or be *held* for a while (`settle(_:holdingAt:)`): a later `multiple` ack covers them once
/// the older deliveries are done too. The broker finds a single ack by walking its unacknowledged list
/// from the oldest, and a `multiple` one by taking that list's head, so held acks cost it less. What
/// waits too long, or past a count, goes out alone (`overdue`).
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
    /// Done, not acked yet: a `multiple` ack will cover them, or `overdue` sends them alone.
    private var held: Set<UInt64> = []
    /// `held` in the order it was held, with when; entries a `multiple` ack covered are skipped.
    private var heldOrder: [(tag: UInt64, at: ContinuousClock.Instant)] = []
    private var heldHead = 0

    mutating func handedOut(_ tag: UInt64) {
        outstanding.append(tag)
    }

    /// Records a delivery settled on its own (a reject, or a single ack already sent).
    mutating func settledAlone(_ tag: UInt64) {
        settledEarly.insert(tag)
    }

    /// How many acks are held.
    var heldCount: Int { held.count }

    /// Plans the acks for `tags` and records them as settled. With `holdingAt`, the ones no `multiple`
    /// ack can cover yet are held (from that instant) instead of sent alone.
    mutating func settle(_ tags: [UInt64], holdingAt now: ContinuousClock.Instant? = nil) -> Plan {
        var pending = Set(tags)
        var multipleUpTo: UInt64?
        while head < outstanding.count {
            let oldest = outstanding[head]
            if pending.remove(oldest) != nil || held.remove(oldest) != nil {
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
        if let now {
            for tag in pending.sorted() {
                held.insert(tag)
                heldOrder.append((tag, now))
            }
            return Plan(multipleUpTo: multipleUpTo, single: [])
        }
        let single = pending.sorted()
        settledEarly.formUnion(single)
        return Plan(multipleUpTo: multipleUpTo, single: single)
    }

    /// The held acks to send alone now: those held since `limit` before `now` or longer, and the oldest
    /// beyond `maxHeld`. They count as settled alone from here.
    mutating func overdue(now: ContinuousClock.Instant, limit: Duration, maxHeld: Int) -> [UInt64] {
        var due: [UInt64] = []
        while heldHead < heldOrder.count {
            let (tag, at) = heldOrder[heldHead]
            if held.contains(tag) {
                guard at + limit <= now || held.count > maxHeld else { break }
                held.remove(tag)
                settledEarly.insert(tag)
                due.append(tag)
            }
            heldHead += 1
        }
        if heldHead > 1024, heldHead * 2 > heldOrder.count {
            heldOrder.removeFirst(heldHead)
            heldHead = 0
        }
        if held.isEmpty {
            heldOrder.removeAll(keepingCapacity: true)
            heldHead = 0
        }
        return due.sorted()
    }

    /// When the oldest held ack becomes overdue (nil: none is held).
    func nextDue(limit: Duration) -> ContinuousClock.Instant? {
        guard !held.isEmpty else { return nil }
        var index = heldHead
        while index < heldOrder.count {
            if held.contains(heldOrder[index].tag) { return heldOrder[index].at + limit }
            index += 1
        }
        return nil
    }
}
