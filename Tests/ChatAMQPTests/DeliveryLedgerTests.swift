import Testing
@testable import ChatAMQP

@Suite("Delivery ledger (batched acks)")
struct DeliveryLedgerTests {
    @Test("acks for the oldest deliveries become one multiple ack")
    func runOfOldest() {
        var ledger = DeliveryLedger()
        for tag in 1...5 { ledger.handedOut(UInt64(tag)) }
        #expect(ledger.settle([1, 2, 3]) == .init(multipleUpTo: 3, single: []))
        #expect(ledger.settle([4, 5]) == .init(multipleUpTo: 5, single: []))
    }

    @Test("an ack past an outstanding delivery is sent alone, so the multiple ack never covers unfinished work")
    func gapStaysOutstanding() {
        var ledger = DeliveryLedger()
        for tag in 1...4 { ledger.handedOut(UInt64(tag)) }
        // 2 is still being handled: 3 and 4 must not be acked with `multiple` (that would ack 2 too).
        #expect(ledger.settle([3, 1, 4]) == .init(multipleUpTo: 1, single: [3, 4]))
        // When 2 is done, it alone is acked; 3 and 4 were settled already.
        #expect(ledger.settle([2]) == .init(multipleUpTo: 2, single: []))
        ledger.handedOut(5)
        #expect(ledger.settle([5]) == .init(multipleUpTo: 5, single: []))
    }

    @Test("rejected deliveries are stepped over, never acked")
    func rejectsAreSkipped() {
        var ledger = DeliveryLedger()
        for tag in 1...3 { ledger.handedOut(UInt64(tag)) }
        ledger.settledAlone(1)
        #expect(ledger.settle([2, 3]) == .init(multipleUpTo: 3, single: []))
        ledger.handedOut(4)
        ledger.handedOut(5)
        ledger.settledAlone(5)
        #expect(ledger.settle([4]) == .init(multipleUpTo: 4, single: []))
        ledger.handedOut(6)
        #expect(ledger.settle([6]) == .init(multipleUpTo: 6, single: []))
    }

    @Test("a long stream stays correct while the ledger compacts itself")
    func longStream() {
        var ledger = DeliveryLedger()
        var next: UInt64 = 1
        for _ in 0..<50 {
            let batch = (next..<next + 100).map { $0 }
            for tag in batch { ledger.handedOut(tag) }
            next += 100
            // Settle all but the first, then the first: the second call acks the whole batch.
            #expect(ledger.settle(Array(batch.dropFirst())) == .init(multipleUpTo: nil, single: Array(batch.dropFirst())))
            #expect(ledger.settle([batch[0]]) == .init(multipleUpTo: batch[0], single: []))
        }
    }

    @Test("held acks wait for a multiple ack to cover them, and never make it cover a delivery still out")
    func heldAcksAreCoveredByMultiple() {
        var ledger = DeliveryLedger()
        let start = ContinuousClock.now
        for tag in 1...6 { ledger.handedOut(UInt64(tag)) }
        // 1 is still out: 3, 4 and 6 are held, nothing is sent.
        #expect(ledger.settle([3, 4, 6], holdingAt: start) == .init(multipleUpTo: nil, single: []))
        #expect(ledger.heldCount == 3)
        // 1 and 2 done: one multiple ack up to 4 covers the held 3 and 4; 5 is out, so 6 waits.
        #expect(ledger.settle([2, 1], holdingAt: start) == .init(multipleUpTo: 4, single: []))
        #expect(ledger.heldCount == 1)
        #expect(ledger.nextDue(limit: .seconds(3)) == start + .seconds(3))
        #expect(ledger.settle([5], holdingAt: start) == .init(multipleUpTo: 6, single: []))
        #expect(ledger.heldCount == 0)
        #expect(ledger.nextDue(limit: .seconds(3)) == nil)
        #expect(ledger.overdue(now: start + .seconds(10), limit: .seconds(3), maxHeld: 10) == [])
    }

    @Test("a held ack that waits past its limit, or past the count, goes out alone, and a later multiple ack steps over it")
    func overdueHeldAcksGoAlone() {
        var ledger = DeliveryLedger()
        let start = ContinuousClock.now
        for tag in 1...8 { ledger.handedOut(UInt64(tag)) }
        #expect(ledger.settle([2, 3], holdingAt: start) == .init(multipleUpTo: nil, single: []))
        #expect(ledger.settle([4], holdingAt: start + .seconds(2)) == .init(multipleUpTo: nil, single: []))
        // Not yet due.
        #expect(ledger.overdue(now: start + .seconds(2), limit: .seconds(3), maxHeld: 10) == [])
        // 2 and 3 waited 3 s: alone; 4 is held on.
        #expect(ledger.overdue(now: start + .seconds(3), limit: .seconds(3), maxHeld: 10) == [2, 3])
        #expect(ledger.heldCount == 1)
        // 1 done: the multiple ack covers 1 and the held 4, stepping over the 2 and 3 already acked.
        #expect(ledger.settle([1], holdingAt: start + .seconds(3)) == .init(multipleUpTo: 4, single: []))
        // Past the count: the oldest held go at once, whatever their age.
        #expect(ledger.settle([6, 7, 8], holdingAt: start + .seconds(4)) == .init(multipleUpTo: nil, single: []))
        #expect(ledger.overdue(now: start + .seconds(4), limit: .seconds(3), maxHeld: 1) == [6, 7])
        #expect(ledger.heldCount == 1)
        // Flushing all (before a close) sends the rest.
        #expect(ledger.overdue(now: start + .seconds(4), limit: .zero, maxHeld: 0) == [8])
        #expect(ledger.settle([5]) == .init(multipleUpTo: 5, single: []))
        ledger.handedOut(9)
        #expect(ledger.settle([9]) == .init(multipleUpTo: 9, single: []))
    }
}
