#!/usr/bin/env python3
"""Opens many Engine.IO/Socket.IO WebSocket connections at once (asyncio + wsproto, one thread) and checks
that every socket receives one event.

  sio_load.py --host 127.0.0.1 --port P --tokens tokens.json --event load:ping [--timeout 60]

tokens.json is a JSON list; socket i authenticates with tokens[i % len]. Prints `CONNECTED <n>` once all
are connected (a harness then emits the event), `RECEIVED <n>` once all got it, exit 0; `FAIL <why>` and
exit 1 otherwise.

With `--expect K --key FIELD`, each socket must receive K events with distinct values of FIELD in the
event's first argument (e.g. `messageId` of `message:new`); after RECEIVED it listens `--linger S`
seconds more and prints `DUPLICATES <d>` (events whose FIELD a socket had already seen) and
`EXTRA <e>` (distinct events beyond K), so a harness can check exactly-once delivery.
"""
import argparse
import asyncio
import json
import sys
import time

from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, CloseConnection, Message, Ping, RejectConnection, Request,
                            TextMessage)


class Socket:
    def __init__(self, host, port, token, event, expect=1, key=None):
        self.host, self.port, self.token, self.event = host, port, token, event
        self.expect, self.key = expect, key
        self.seen = set()
        self.duplicates = 0
        self.connected = asyncio.Event()
        self.received = asyncio.Event()
        self.stopping = asyncio.Event()
        self.error = None
        self.buffer = ""

    async def run(self):
        reader, writer = await asyncio.open_connection(self.host, self.port)
        ws = WSConnection(ConnectionType.CLIENT)
        writer.write(ws.send(Request(host=f"{self.host}:{self.port}",
                                     target="/socket.io/?EIO=4&transport=websocket")))
        try:
            while not self.stopping.is_set():
                data = await reader.read(65536)
                if not data:
                    self.error = "connection closed"
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, AcceptConnection):
                        pass
                    elif isinstance(event, RejectConnection):
                        self.error = f"upgrade refused {event.status_code}"
                        return
                    elif isinstance(event, Ping):
                        writer.write(ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        self.error = f"closed {event.code}"
                        return
                    elif isinstance(event, TextMessage):
                        self.buffer += event.data
                        if event.message_finished:
                            reply = self.handle(self.buffer)
                            self.buffer = ""
                            if reply:
                                writer.write(ws.send(Message(data=reply)))
                await writer.drain()
        finally:
            writer.close()

    def handle(self, text):
        if text.startswith("0"):
            return "40" + json.dumps({"token": self.token})
        if text == "2":
            return "3"
        if text.startswith("40"):
            self.connected.set()
        elif text.startswith("44"):
            self.error = "connect_error " + text[2:]
        elif text.startswith("42"):
            payload = json.loads(text[2:])
            if payload and payload[0] == self.event:
                if self.key is None:
                    self.received.set()
                    return None
                value = payload[1].get(self.key) if len(payload) > 1 and isinstance(payload[1], dict) else None
                if value in self.seen:
                    self.duplicates += 1
                self.seen.add(value)
                if len(self.seen) >= self.expect:
                    self.received.set()
        return None


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--event", default="load:ping")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--expect", type=int, default=1)
    parser.add_argument("--key")
    parser.add_argument("--linger", type=float, default=0)
    args = parser.parse_args()
    with open(args.tokens) as f:
        tokens = json.load(f)
    sockets = [Socket(args.host, args.port, tokens[i % len(tokens)], args.event, args.expect, args.key)
               for i in range(args.count)]
    started = time.time()
    gate = asyncio.Semaphore(100)

    async def start(socket):
        async with gate:
            task = asyncio.create_task(socket.run())
            done, _ = await asyncio.wait({task, asyncio.create_task(socket.connected.wait())},
                                         return_when=asyncio.FIRST_COMPLETED)
            return task

    tasks = await asyncio.gather(*(start(s) for s in sockets))
    deadline = started + args.timeout

    async def wait_all(flag):
        while time.time() < deadline:
            broken = [s for s in sockets if s.error]
            if broken:
                print("FAIL", len(broken), "sockets failed, first:", broken[0].error, flush=True)
                sys.exit(1)
            if all(getattr(s, flag).is_set() for s in sockets):
                return
            await asyncio.sleep(0.05)
        missing = sum(1 for s in sockets if not getattr(s, flag).is_set())
        print("FAIL", missing, "sockets not", flag, flush=True)
        sys.exit(1)

    await wait_all("connected")
    print("CONNECTED", len(sockets), f"in {time.time() - started:.1f}s", flush=True)
    await wait_all("received")
    print("RECEIVED", len(sockets), f"in {time.time() - started:.1f}s", flush=True)
    if args.linger > 0:
        await asyncio.sleep(args.linger)
        print("DUPLICATES", sum(s.duplicates for s in sockets), flush=True)
        print("EXTRA", sum(max(0, len(s.seen) - s.expect) for s in sockets), flush=True)
    for socket in sockets:
        socket.stopping.set()
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
