@testable import ChatDaemon
import Synchronization
import Testing

/// Which users' queues a CONNECT may trust to exist without waiting for the subscription.
@Suite("Dormant queues")
struct DormantQueuesTests {
    final class Clock: Sendable {
        let time = Mutex(ContinuousClock.now)
        func advance(_ duration: Duration) { time.withLock { $0 += duration } }
        var now: ContinuousClock.Instant { time.withLock { $0 } }
    }

    @Test("a cancelled queue counts as existing for 90 % of x-expires, until consumed again or the broker connection drops")
    func lifetime() {
        let clock = Clock()
        let dormant = DormantQueues(now: { clock.now })
        #expect(!dormant.exists("usr_a"), "never subscribed here")
        dormant.cancelled("usr_a", expiresIn: 100)
        #expect(dormant.exists("usr_a"))
        clock.advance(.seconds(89))
        #expect(dormant.exists("usr_a"))
        clock.advance(.seconds(2))
        #expect(!dormant.exists("usr_a"), "past 90 % of x-expires the broker may have deleted it")

        dormant.cancelled("usr_b", expiresIn: 100)
        dormant.consumed("usr_b")
        #expect(!dormant.exists("usr_b"))
        dormant.cancelled("usr_c", expiresIn: 100)
        dormant.forgetAll()
        #expect(!dormant.exists("usr_c"))
    }

    @Test("expired entries are pruned as the table grows, so it stays bounded by the users of one x-expires")
    func pruning() {
        let clock = Clock()
        let dormant = DormantQueues(now: { clock.now })
        for index in 0..<1000 { dormant.cancelled("usr_old\(index)", expiresIn: 10) }
        clock.advance(.seconds(60))
        for index in 0..<100 { dormant.cancelled("usr_new\(index)", expiresIn: 10) }
        #expect(dormant.count == 100, "the 1,000 expired ones were pruned when the table reached 1,024")
        #expect(dormant.exists("usr_new5"))
    }
}
