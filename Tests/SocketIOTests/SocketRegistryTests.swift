import Testing
@testable import SocketIO

@Suite("Socket registry")
struct SocketRegistryTests {
    let one = SocketID(rawValue: "one")
    let two = SocketID(rawValue: "two")
    let three = SocketID(rawValue: "three")

    @Test("the first socket of a user is reported first and the last one last")
    func firstAndLast() {
        var registry = SocketRegistry()
        let firsts = [
            registry.add(one, user: Fixtures.alice, sessionID: "s1"),
            registry.add(two, user: Fixtures.alice, sessionID: "s2"),
            registry.add(three, user: Fixtures.bob, sessionID: "s3"),
        ]
        #expect(firsts == [true, false, true])
        #expect(registry.sockets(of: Fixtures.alice.id) == [one, two])
        let removals = [registry.remove(one)?.wasLast, registry.remove(two)?.wasLast, registry.remove(two)?.wasLast]
        #expect(removals == [false, true, nil])
        #expect(registry.connectedUsers == [Fixtures.bob.id])
    }

    @Test("rooms list their members, forget empty rooms and lose removed sockets")
    func rooms() {
        var registry = SocketRegistry()
        registry.add(one, user: Fixtures.alice, sessionID: "s1")
        registry.add(two, user: Fixtures.bob, sessionID: "s2")
        let joins = ["one", "two", "three"].map { registry.join(SocketID(rawValue: $0), room: "dialog:1") }
        #expect(joins == [true, true, false])
        #expect(registry.sockets(in: "dialog:1") == [one, two])
        #expect(registry.rooms(of: one) == ["dialog:1"])
        registry.leave(one, room: "dialog:1")
        #expect(registry.sockets(in: "dialog:1") == [two])
        registry.remove(two)
        #expect(registry.sockets(in: "dialog:1") == [])
        #expect(registry.rooms(of: two) == [])
    }

    @Test("targets resolve to sockets, a room emit skipping the excluded sender")
    func resolve() {
        var registry = SocketRegistry()
        registry.add(one, user: Fixtures.alice, sessionID: "s1")
        registry.add(two, user: Fixtures.alice, sessionID: "s2")
        registry.add(three, user: Fixtures.bob, sessionID: "s3")
        for socket in [one, two, three] { registry.join(socket, room: "r") }
        #expect(Set(registry.resolve(.user(Fixtures.alice.id))) == [one, two])
        #expect(Set(registry.resolve(.room("r", excluding: one))) == [two, three])
        #expect(Set(registry.resolve(.room("r"))) == [one, two, three])
        #expect(registry.resolve(.socket(SocketID(rawValue: "gone"))) == [])
    }
}
