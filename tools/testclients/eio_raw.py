#!/usr/bin/env python3
"""A raw Engine.IO 4 / Socket.IO 5 client for the delivery tests: it misbehaves the way real networks
and browsers do, which python-socketio will not.

Modes:
  stall-poll  polling: connect, then send one GET and never read it nor send another (a network that
              just stopped); stays until killed
  close-poll  polling: connect, join --dialog, hold a GET, then close the connection (a closed tab);
              prints CLOSED <unix time>
  ws          WebSocket: connect and read `message:new` events; with --stall, stop reading after
              CONNECTED until --resume-file exists (a small receive buffer makes the server
              feel it); with --recover, do Socket.IO connection-state recovery as socket.io-client does
              (see recover below); ends after --expect distinct ids (then --linger s) or --idle s of quiet
  recover     WebSocket: connect asking for recovery ({"recovery": true} in the auth), join --dialog,
              read --expect events, note pid and the last offset,
              wait for --drop-file, drop the TCP connection abruptly (RST), wait for --resume-file, reconnect with
              {pid, offset} in the CONNECT auth and report whether the server recovered the session and
              which events came
  flap        WebSocket: read `message:new` events and drop the connection after every --every new
              ids, once per entry of --closes (clean: a WebSocket closing handshake, reading what
              comes until the server's close; rst: stop reading --unread s, as a dying network does
              while the server keeps writing, then reset with SO_LINGER 0), reconnecting 0.5 s later
              (socket.io-client's shortest reconnect delay); with --recover, ask for connection-state
              recovery and resume each time with {pid, offset}. Then reads until --expect distinct ids
              (and --linger s more, for late repeats) or --idle s of quiet. Prints CYCLE <n> <mode>,
              RESUMED <true|false> per reconnect with --recover, then RECEIVED, DUPLICATES, IDS,
              REPEATED (ids with the connections they came on), SAMECONNECTION (ids twice on one
              connection), BEYONDDROPS (ids repeated more often than the drops after them), MOST
              (the highest count of one id).
Prints: CONNECTED, STALLED, RECEIVED <n distinct>, DUPLICATES <n>, IDS <comma-separated>, and for recover
RECOVERED <true|false>; FAIL <why> on errors.
"""
import argparse
import json
import select
import socket
import struct
import sys
import time
import http.client

import websocket

SEP = "\x1e"


def say(*parts):
    print(*parts, flush=True)


def fail(why):
    say("FAIL", why)
    sys.exit(1)


class DeadSession(Exception):
    """The server no longer knows the session (it closed it, e.g. at a ping timeout)."""


class Polling:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.sid = None

    def path(self):
        path = "/socket.io/?EIO=4&transport=polling"
        return path + ("&sid=" + self.sid if self.sid else "")

    def get(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request("GET", self.path())
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        if response.status == 400 and "Session ID unknown" in body:
            raise DeadSession()
        if response.status != 200:
            fail("GET %d %s" % (response.status, body))
        return body.split(SEP)

    def post(self, packets):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request("POST", self.path(), body=SEP.join(packets).encode(),
                     headers={"Content-Type": "text/plain;charset=UTF-8"})
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        if response.status == 400 and "Session ID unknown" in body:
            raise DeadSession()
        if response.status != 200 or body != "ok":
            fail("POST %d %s" % (response.status, body))

    def open(self, token):
        packets = self.get()
        if not packets[0].startswith("0"):
            fail("no open packet: %r" % packets)
        self.sid = json.loads(packets[0][1:])["sid"]
        self.post(['40' + json.dumps({"token": token})])
        self.wait_for(lambda p: p.startswith("40"))

    def wait_for(self, predicate, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = None
            # Every ping of the answer gets its pong, also one after the packet looked for.
            for packet in self.get():
                if packet == "2":
                    self.post(["3"])
                elif packet.startswith("44"):
                    fail("CONNECT_ERROR " + packet)
                elif found is None and predicate(packet):
                    found = packet
            if found is not None:
                return found
        fail("timed out waiting")

    def held_get(self):
        """Sends a GET on a raw socket and returns the socket, unread."""
        raw = socket.create_connection((self.host, self.port))
        request = "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (self.path(), self.host, self.port)
        raw.sendall(request.encode())
        return raw


def message_id(packet):
    """The messageId of a `42["message:new", {...}]` packet (with or without an offset), else None."""
    if not packet.startswith("42"):
        return None
    try:
        data = json.loads(packet[2:])
    except ValueError:
        return None
    if data and data[0] == "message:new" and len(data) > 1 and isinstance(data[1], dict):
        return data[1].get("messageId")
    return None


def event_offset(packet):
    """The offset socket.io appends as the last argument of an EVENT when recovery is on."""
    data = json.loads(packet[2:])
    return data[-1] if len(data) > 2 and isinstance(data[-1], str) else None


class Receiver:
    def __init__(self):
        self.ids = []
        self.seen = set()
        self.duplicates = 0
        # Engine.IO pings read between events (receipts and heartbeats).
        self.pings = 0

        self.counts = {}
        # flap: which connection each id came on, to show where repeats came from.
        self.connection = 0
        self.arrivals = {}

    def add(self, packet):
        mid = message_id(packet)
        if mid is None:
            return False
        self.counts[mid] = self.counts.get(mid, 0) + 1
        self.arrivals.setdefault(mid, []).append(self.connection)
        if mid in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(mid)
            self.ids.append(mid)
        return True

    def report(self):
        say("RECEIVED", len(self.seen))
        say("DUPLICATES", self.duplicates)
        say("PINGS", self.pings)
        say("IDS", ",".join(self.ids))


def ws_connect(host, port, token, auth_extra=None, rcvbuf=None):
    options = {}
    if rcvbuf:
        options["sockopt"] = ((socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf),)
    # websocket-client checks UTF-8 in pure Python unless told not to: milliseconds per 16 KB frame, which
    # made a reader that drains a backlog slower than the broker hands it out.
    ws = websocket.create_connection("ws://%s:%d/socket.io/?EIO=4&transport=websocket" % (host, port),
                                     timeout=60, skip_utf8_validation=True, **options)
    opened = ws.recv()
    if not opened.startswith("0"):
        fail("no open packet: %r" % opened)
    auth = {"token": token}
    auth.update(auth_extra or {})
    ws.send("40" + json.dumps(auth))
    while True:
        packet = ws.recv()
        if packet == "2":
            ws.send("3")
        elif packet.startswith("40"):
            return ws, json.loads(packet[2:] or "{}")
        elif packet.startswith("44"):
            fail("CONNECT_ERROR " + packet)


def read_events(ws, receiver, expect, idle, linger, on_event=None):
    """Reads until `expect` distinct ids (then `linger` s more), `idle` s of quiet, or the close."""
    done_at = None
    ws.settimeout(0.2)
    last = time.time()
    while True:
        now = time.time()
        if done_at and now >= done_at:
            return
        if not done_at and now - last > idle:
            return
        try:
            packet = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return
        if packet == "":
            return
        if packet == "2":
            receiver.pings += 1
            try:
                ws.send("3")
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
                pass  # the server cut us: what the kernel still holds is read all the same, then the close
            continue
        # Quiet means no events: pings come all the time and say nothing about the stream.
        last = time.time()
        if receiver.add(packet) and on_event:
            on_event(packet)
        if expect and not done_at and len(receiver.seen) >= expect:
            done_at = time.time() + linger


def read_until_closed(ws, receiver, on_event, timeout=30):
    """After our close frame: reads what the server wrote before it saw the close, until its close."""
    ws.settimeout(1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            opcode, frame = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return
        if opcode == websocket.ABNF.OPCODE_TEXT:
            packet = frame.decode()
            if receiver.add(packet):
                on_event(packet)
    fail("the server never closed after our close frame")


def flap(args):
    """Reconnects once per entry of --closes while the test publishes; see the module docstring."""
    receiver = Receiver()
    last_offset = [None]
    pid = None

    def note(packet):
        last_offset[0] = event_offset(packet) or last_offset[0]

    closes = [mode for mode in args.closes.split(",") if mode]
    for cycle in range(len(closes) + 1):
        auth = None
        if args.recover:
            auth = {"pid": pid, "offset": last_offset[0]} if pid and last_offset[0] else {"recovery": True}
        ws, connected = ws_connect(args.host, args.port, args.token, auth)
        receiver.connection = cycle
        if args.recover:
            if cycle > 0:
                say("RESUMED", "true" if connected.get("pid") == pid else "false")
            pid = connected.get("pid")
            if not pid:
                fail("the CONNECT answer has no pid: %r" % connected)
        if cycle == 0:
            say("CONNECTED")
        if cycle == len(closes):
            break
        # Drop after --every ids this connection brought for the first time.
        target = len(receiver.seen) + args.every
        ws.settimeout(0.2)
        quiet_since = time.time()
        while len(receiver.seen) < target:
            try:
                packet = ws.recv()
            except websocket.WebSocketTimeoutException:
                if time.time() - quiet_since > args.idle:
                    fail("cycle %d: no events for %s s (%d ids so far)" % (cycle, args.idle, len(receiver.seen)))
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as error:
                fail("cycle %d: connection lost: %r" % (cycle, error))
            if packet == "2":
                ws.send("3")
            elif receiver.add(packet):
                quiet_since = time.time()
                note(packet)
        mode = closes[cycle]
        if mode == "clean":
            ws.send_close()
            read_until_closed(ws, receiver, note)
            ws.shutdown()
        elif mode == "rst":
            time.sleep(args.unread)
            drop_abruptly(ws)
        else:
            fail("unknown close mode " + mode)
        say("CYCLE", cycle + 1, mode, len(receiver.seen))
        time.sleep(0.5)
    read_events(ws, receiver, args.expect, args.idle, args.linger, on_event=note)
    receiver.report()
    repeated = [mid for mid in receiver.ids if receiver.counts[mid] > 1]
    say("REPEATED", len(repeated), " ".join("%s@%s" % (mid, ",".join(map(str, receiver.arrivals[mid])))
                                            for mid in repeated[:30]))
    # A repeat is a redelivery after a drop: never two copies on one connection, never more copies
    # than one plus the drops after the first.
    same = sum(1 for arrivals in receiver.arrivals.values() if len(set(arrivals)) < len(arrivals))
    beyond = sum(1 for arrivals in receiver.arrivals.values() if len(arrivals) > 1 + len(closes) - arrivals[0])
    say("SAMECONNECTION", same)
    say("BEYONDDROPS", beyond)
    say("MOST", max(receiver.counts.values() or [0]))


def wait_resume(path, timeout=300):
    """Waits until the test creates the file `path` (its go-ahead)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            open(path).close()
            return
        except OSError:
            time.sleep(0.05)
    fail("no go-ahead at " + path)


def drop_abruptly(ws):
    """Closes the TCP connection with RST, as a dying network stack or a killed process does."""
    sock = ws.sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["stall-poll", "close-poll", "ws", "recover", "flap"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--dialog")
    parser.add_argument("--stall", action="store_true")
    parser.add_argument("--resume-file", help="go ahead (resume reading, reconnect) once this file exists")
    parser.add_argument("--drop-file", help="recover: drop the connection once this file exists")
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--idle", type=float, default=5)
    parser.add_argument("--linger", type=float, default=1)
    parser.add_argument("--closes", default="clean,rst,clean,rst,clean,rst", help="flap: how each drop closes")
    parser.add_argument("--every", type=int, default=50, help="flap: new ids per connection before its drop")
    parser.add_argument("--unread", type=float, default=0.2, help="flap: seconds unread before a reset")
    parser.add_argument("--recover", action="store_true", help="flap: use connection-state recovery")
    args = parser.parse_args()

    if args.mode == "flap":
        flap(args)
        return

    if args.mode in ("stall-poll", "close-poll"):
        # A session the server dropped while this client set it up (on a loaded machine a pong can
        # come after a short test heartbeat's timeout) is dead: open a new one, as a real client would.
        for attempt in range(5):
            try:
                polling = Polling(args.host, args.port)
                polling.open(args.token)
                if args.dialog:
                    polling.post(['421' + json.dumps(["dialog:join", {"dialogId": args.dialog}])])
                    polling.wait_for(lambda p: p.startswith("431"))
                break
            except DeadSession:
                say("REOPEN", attempt + 1)
        else:
            fail("every session died while connecting")
        say("CONNECTED")
        held = polling.held_get()
        if args.mode == "stall-poll":
            say("STALLED")
            while True:
                time.sleep(60)
        time.sleep(0.5)  # the GET is held by now
        held.close()
        say("CLOSED", "%.3f" % time.time())
        return

    if args.mode == "ws":
        ws, _ = ws_connect(args.host, args.port, args.token, rcvbuf=4096 if args.stall else None)
        say("CONNECTED")
        if args.stall:
            say("STALLED")
            wait_resume(args.resume_file)
        receiver = Receiver()
        read_events(ws, receiver, args.expect, args.idle, args.linger)
        receiver.report()
        return

    # recover: the first connection asks for recovery the way socket.io-client >= 4.6 does once the
    # server's CONNECT answer carries a pid: it remembers the pid and the offset of the last EVENT.
    ws, connected = ws_connect(args.host, args.port, args.token, {"recovery": True})
    pid = connected.get("pid")
    if not pid:
        fail("the CONNECT answer has no pid: %r" % connected)
    if args.dialog:
        ws.send('421' + json.dumps(["dialog:join", {"dialogId": args.dialog}]))
        while not ws.recv().startswith("431"):
            pass
    say("CONNECTED")
    receiver = Receiver()
    last_offset = [None]

    def note(packet):
        last_offset[0] = event_offset(packet) or last_offset[0]

    read_events(ws, receiver, args.expect, args.idle, 0, on_event=note)
    before = len(receiver.seen)
    if last_offset[0] is None:
        fail("no EVENT carried an offset")
    say("READ", before, "OFFSET", last_offset[0])
    # The test sends more now, which lands unread in this socket's buffers and dies with it.
    wait_resume(args.drop_file)
    drop_abruptly(ws)
    say("DROPPED", before)
    wait_resume(args.resume_file)
    ws, connected = ws_connect(args.host, args.port, args.token, {"pid": pid, "offset": last_offset[0]})
    # socket.io-client: socket.recovered = the CONNECT answer's pid equals the one it sent.
    say("RECOVERED", "true" if connected.get("pid") == pid else "false", "SID", connected.get("sid"))
    after = Receiver()
    read_events(ws, after, 0, args.idle, 0)
    say("RECEIVED", len(after.seen))
    say("DUPLICATES", after.duplicates + len(after.seen & receiver.seen))
    say("IDS", ",".join(after.ids))


if __name__ == "__main__":
    main()
