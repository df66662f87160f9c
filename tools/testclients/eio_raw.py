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
            for packet in self.get():
                if packet == "2":
                    self.post(["3"])
                elif predicate(packet):
                    return packet
                elif packet.startswith("44"):
                    fail("CONNECT_ERROR " + packet)
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

    def add(self, packet):
        mid = message_id(packet)
        if mid is None:
            return False
        if mid in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(mid)
            self.ids.append(mid)
        return True

    def report(self):
        say("RECEIVED", len(self.seen))
        say("DUPLICATES", self.duplicates)
        say("IDS", ",".join(self.ids))


def ws_connect(host, port, token, auth_extra=None, rcvbuf=None):
    options = {}
    if rcvbuf:
        options["sockopt"] = ((socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf),)
    ws = websocket.create_connection("ws://%s:%d/socket.io/?EIO=4&transport=websocket" % (host, port),
                                     timeout=60, **options)
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
        last = time.time()
        if packet == "2":
            ws.send("3")
            continue
        if receiver.add(packet) and on_event:
            on_event(packet)
        if expect and not done_at and len(receiver.seen) >= expect:
            done_at = time.time() + linger


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
    parser.add_argument("mode", choices=["stall-poll", "close-poll", "ws", "recover"])
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
    args = parser.parse_args()

    if args.mode in ("stall-poll", "close-poll"):
        polling = Polling(args.host, args.port)
        polling.open(args.token)
        if args.dialog:
            polling.post(['421' + json.dumps(["dialog:join", {"dialogId": args.dialog}])])
            polling.wait_for(lambda p: p.startswith("431"))
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
