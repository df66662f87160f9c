#!/usr/bin/env python3
"""Drives chatd's Socket.IO endpoint with the real python-socketio client and checks what SPEC §5 promises.

Prints one line per step; the last line is `SCENARIO OK` on success, `FAIL <why>` otherwise (exit 1).
A test harness may react to `WAITING <what>` lines (e.g. emit `server:question` to user A).

Scenarios:
  full        bad token refused; A (auth token) and B (Authorization header) connect; joins and refusals;
              user:online; typing relay both ways; optional server-to-client ack; clean disconnect with
              user:offline; reconnect and relay again
  basic       bad token refused; connect; an ack from the server (dialog:join, whatever the answer);
              disconnect; reconnect
  missed-pong A stops answering pings; the server closes the session; the client reconnects by itself
  sigterm     connect, print CONNECTED, wait for the server to go away; reports whether the client reconnects
"""
import argparse
import json
import sys
import threading
import time

import socketio

TRANSPORTS = {"default": ["polling", "websocket"], "websocket": ["websocket"], "polling": ["polling"]}


def say(*parts):
    print(*parts, flush=True)


def fail(why):
    say("FAIL", why)
    sys.exit(1)


class Inbox:
    """Events a client received, by name, with waiting."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def add(self, name, data):
        with self.cond:
            self.events.append((name, data))
            self.cond.notify_all()

    def wait_for(self, name, match=lambda d: True, timeout=15.0):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i, (n, d) in enumerate(self.events):
                    if n == name and match(d):
                        del self.events[i]
                        return d
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def count(self, name):
        with self.cond:
            return sum(1 for n, _ in self.events if n == name)


class Peer:
    def __init__(self, label, args):
        self.label = label
        self.args = args
        self.inbox = Inbox()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5,
                                   randomization_factor=0)
        self.connect_errors = []
        self.disconnect_reasons = []
        self.connects = 0
        inbox = self.inbox

        @self.sio.event
        def connect():
            self.connects += 1
            inbox.add("connect", self.connects)

        @self.sio.event
        def connect_error(data):
            self.connect_errors.append(data)
            inbox.add("connect_error", data)

        @self.sio.event
        def disconnect(reason=None):
            self.disconnect_reasons.append(str(reason))
            inbox.add("disconnect", str(reason))

        for name in ("user:online", "user:offline", "typing:start", "typing:stop", "typing:update"):
            self.sio.on(name, (lambda n: lambda data: inbox.add(n, data))(name))

        @self.sio.on("server:question")
        def question(data):
            inbox.add("server:question", data)
            return {"answer": data.get("q") if isinstance(data, dict) else data, "from": label}

    def connect(self, token=None, header_token=None):
        headers = {"Authorization": "Bearer " + header_token} if header_token else {}
        auth = {"token": token} if token else None
        # 20 s, socket.io-client's connect timeout: a CONNECT waits for the user's queue (up to
        # rabbitmq.subscribe_wait, 10 s) and a loaded machine takes a while.
        self.sio.connect(self.args.url, headers=headers, auth=auth, transports=TRANSPORTS[self.args.mode],
                         wait_timeout=20)
        if self.args.mode == "default":
            deadline = time.time() + 10
            while self.sio.transport() != "websocket" and time.time() < deadline:
                time.sleep(0.05)
            if self.sio.transport() != "websocket":
                fail(f"{self.label} did not upgrade to websocket (transport {self.sio.transport()})")
        expected = TRANSPORTS[self.args.mode][-1]
        if self.sio.transport() != expected:
            fail(f"{self.label} uses {self.sio.transport()}, expected {expected}")
        say("connected", self.label, self.sio.transport(), self.sio.get_sid())

    def call(self, event, data):
        return self.sio.call(event, data, timeout=5)


def join_member(peer, dialog):
    """dialog:join by a member. chatd asks Chat3 about membership, and on a loaded machine that answer
    can time out: chatd refuses with chat3_unavailable, and a client tries again."""
    reply = peer.call("dialog:join", dialog)
    for _ in range(3):
        if not (isinstance(reply, dict) and reply.get("code") == "chat3_unavailable"):
            break
        time.sleep(0.5)
        reply = peer.call("dialog:join", dialog)
    return reply


def expect(condition, why):
    if not condition:
        fail(why)


def refused_bad_token(args):
    peer = Peer("bad", args)
    try:
        peer.sio.connect(args.url, auth={"token": args.bad_token}, transports=TRANSPORTS[args.mode], wait_timeout=20)
    except socketio.exceptions.ConnectionError:
        pass
    else:
        fail("a bad token connected")
    data = peer.inbox.wait_for("connect_error", timeout=5)
    expect(data == {"message": "Authentication failed"}, f"connect_error data {data!r}")
    say("bad token refused", json.dumps(data))
    peer.sio.disconnect()


def full(args):
    refused_bad_token(args)
    a, b = Peer("A", args), Peer("B", args)
    a.connect(token=args.token_a)
    b.connect(header_token=args.token_b)

    # Joins: invalid id, not a member, then the shared dialog (acks client -> server).
    reply = a.call("dialog:join", "not-a-dialog")
    expect(reply == {"ok": False, "code": "bad_request"}, f"invalid dialog id answered {reply!r}")
    reply = a.call("dialog:join", args.denied_dialog)
    expect(reply == {"ok": False, "code": "forbidden"}, f"foreign dialog answered {reply!r}")
    reply = a.call("typing:start", {"dialogId": args.dialog})
    expect(reply == {"ok": False, "code": "forbidden"}, f"typing before join answered {reply!r}")
    reply = a.call("dialog:join", args.dialog)
    expect(reply == {"ok": True, "online": []}, f"join answered {reply!r}")
    reply = b.call("dialog:join", {"dialogId": args.dialog})
    expect(reply == {"ok": True, "online": [args.user_a]}, f"B's join answered {reply!r}")
    online = a.inbox.wait_for("user:online")
    expect(online == {"userId": args.user_b, "userName": args.name_b}, f"user:online {online!r}")
    say("joined; presence", json.dumps(online))

    # Typing relay, excluding the sender.
    a.sio.emit("typing:start", {"dialogId": args.dialog})
    got = b.inbox.wait_for("typing:start")
    expect(got == {"userId": args.user_a, "userName": args.name_a, "dialogId": args.dialog}, f"typing:start {got!r}")
    update = b.inbox.wait_for("typing:update")
    expect(update is not None and update.get("expiresInMs") == 5000 and update.get("userId") == args.user_a,
           f"typing:update {update!r}")
    b.sio.emit("typing:stop", {"dialogId": args.dialog})
    got = a.inbox.wait_for("typing:stop")
    expect(got == {"userId": args.user_b, "dialogId": args.dialog}, f"typing:stop {got!r}")
    time.sleep(0.3)
    expect(a.inbox.count("typing:start") == 0 and b.inbox.count("typing:stop") == 0, "the sender got its own relay")
    say("typing relayed")

    if args.server_ack:
        say("WAITING server:question", args.user_a)
        question = a.inbox.wait_for("server:question", timeout=15)
        expect(question is not None, "no server:question arrived")
        say("answered server:question", json.dumps(question))

    # Leave, then a clean disconnect: B learns A went offline.
    expect(a.call("dialog:leave", args.dialog) == {"ok": True}, "leave")
    rejoined = join_member(a, args.dialog)
    expect(rejoined == {"ok": True, "online": [args.user_b]}, f"re-join {rejoined!r}")
    a.sio.disconnect()
    offline = b.inbox.wait_for("user:offline")
    expect(offline == {"userId": args.user_a}, f"user:offline {offline!r}")
    expect(a.disconnect_reasons[-1:] == ["client disconnect"], f"disconnect reasons {a.disconnect_reasons}")
    say("disconnected cleanly")

    # Reconnect with the same client object and relay again.
    a.connect(token=args.token_a)
    rejoined = join_member(a, args.dialog)
    expect(rejoined == {"ok": True, "online": [args.user_b]}, f"join after reconnect {rejoined!r}")
    a.sio.emit("typing:start", {"dialogId": args.dialog})
    got = b.inbox.wait_for("typing:start")
    expect(got is not None and got["userId"] == args.user_a, f"typing after reconnect {got!r}")
    say("reconnected")
    a.sio.disconnect()
    b.sio.disconnect()


def basic(args):
    refused_bad_token(args)
    a = Peer("A", args)
    a.connect(token=args.token_a)
    reply = a.call("dialog:join", args.dialog)
    expect(isinstance(reply, dict) and "ok" in reply, f"join ack {reply!r}")
    say("join answered", json.dumps(reply, sort_keys=True))
    a.sio.disconnect()
    expect(a.disconnect_reasons[-1:] == ["client disconnect"], f"disconnect reasons {a.disconnect_reasons}")
    a.connect(token=args.token_a)
    reply = a.call("dialog:join", args.dialog)
    expect(isinstance(reply, dict) and "ok" in reply, f"join ack after reconnect {reply!r}")
    say("reconnected")
    a.sio.disconnect()


def missed_pong(args):
    import engineio.packet as eio_packet
    a = Peer("A", args)
    a.connect(token=args.token_a)
    first_sid = a.sio.get_sid()
    eio = a.sio.eio
    original = eio._send_packet
    dropping = threading.Event()

    def send_packet(pkt):
        if dropping.is_set() and pkt.packet_type == eio_packet.PONG:
            return
        original(pkt)

    eio._send_packet = send_packet
    dropping.set()
    say("dropping pongs")
    reason = a.inbox.wait_for("disconnect", timeout=args.timeout)
    expect(reason is not None, "the server kept a session that stopped answering pings")
    say("server closed the session:", reason)
    dropping.clear()
    reconnected = a.inbox.wait_for("connect", match=lambda count: count > 1, timeout=args.timeout)
    expect(reconnected is not None, f"the client did not reconnect; events {a.inbox.events}")
    expect(a.sio.get_sid() != first_sid, "same socket id after reconnect")
    reply = a.call("dialog:join", args.dialog)
    expect(isinstance(reply, dict) and "ok" in reply, f"join ack after reconnect {reply!r}")
    say("reconnected", a.sio.get_sid())
    a.sio.disconnect()


def sigterm(args):
    a = Peer("A", args)
    a.connect(token=args.token_a)
    say("CONNECTED")
    reason = a.inbox.wait_for("disconnect", timeout=args.timeout)
    expect(reason is not None, "no disconnect after the server stopped")
    say("disconnect reason:", reason)
    deadline = time.time() + 3
    while a.sio._reconnect_task is None and time.time() < deadline:
        time.sleep(0.05)
    say("reconnecting:", "yes" if a.sio._reconnect_task is not None else "no")
    a.sio.reconnection = False
    a.sio.disconnect()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["full", "basic", "missed-pong", "sigterm"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=list(TRANSPORTS), default="default")
    parser.add_argument("--token-a")
    parser.add_argument("--token-b")
    parser.add_argument("--user-a")
    parser.add_argument("--user-b")
    parser.add_argument("--name-a")
    parser.add_argument("--name-b")
    parser.add_argument("--bad-token", default="not.a.token")
    parser.add_argument("--dialog", default="dlg_" + "a" * 20)
    parser.add_argument("--denied-dialog", default="dlg_" + "b" * 20)
    parser.add_argument("--server-ack", action="store_true")
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    {"full": full, "basic": basic, "missed-pong": missed_pong, "sigterm": sigterm}[args.scenario](args)
    say("SCENARIO OK")


if __name__ == "__main__":
    main()
