#!/usr/bin/env python3
"""A python-socketio client driven line by line on stdin, reporting on stdout as JSON lines.

Used by chatd's end-to-end tests to prove compatibility with a real third-party client.
  usage: scripted_client.py URL TOKEN [--transports websocket,polling]
stdin commands (one JSON object per line):
  {"emit": "dialog:join", "data": "dlg_…", "ack": true}
  {"disconnect": true}
stdout lines:
  {"connected": true, "transport": "websocket"}   {"connect_error": {...}}
  {"event": "message:new", "data": {...}}         {"ack": "dialog:join", "data": {...}}
  {"disconnected": true}
"""
import json
import signal
import sys
import threading

import socketio

# Started from a test runner that may block SIGTERM; make it work again.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

url, token = sys.argv[1], sys.argv[2]
transports = ["polling", "websocket"]
if "--transports" in sys.argv:
    transports = sys.argv[sys.argv.index("--transports") + 1].split(",")

lock = threading.Lock()


def report(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


client = socketio.Client(reconnection=False)


@client.event
def connect():
    report({"connected": True, "transport": client.transport()})


@client.event
def connect_error(data):
    report({"connect_error": data})


@client.event
def disconnect(*args):
    report({"disconnected": True})


@client.on("*")
def any_event(event, *args):
    report({"event": event, "data": args[0] if args else None})


try:
    # socket.io-client's connect timeout: a CONNECT waits up to rabbitmq.subscribe_wait (10 s) for the queue.
    client.connect(url, auth={"token": token}, transports=transports, wait_timeout=20)
except Exception as error:  # the connect_error handler has reported the reason
    report({"connect_failed": str(error)})
    sys.exit(0)

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    command = json.loads(line)
    if command.get("disconnect"):
        client.disconnect()
        break
    if "emit" in command:
        name = command["emit"]
        if command.get("ack"):
            result = client.call(name, command.get("data"), timeout=10)
            report({"ack": name, "data": result})
        else:
            client.emit(name, command.get("data"))
client.sleep(0.2)
