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
}
