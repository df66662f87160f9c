#!/usr/bin/env python3
"""The WebSocket protocol around Engine.IO, driven frame by frame with websocket-client: what chatd's
own WebSocket handler must do that a library client never exercises.

Prints, in order:
  PONG <payload>          the answer to a WebSocket ping carrying b"chatd"
  CONNECTED               a Socket.IO CONNECT sent in two fragments was joined and answered
  CLOSE <code>            the server's answer to our close frame with code 4001
  EOF                     then the server closed TCP
  HALFCLOSE <seconds>     a connected socket that only shuts its sending side (FIN, no close frame):
                          how long until the server closes the connection
  TOOLARGE <code>         a message of two 600 KB fragments (above Engine.IO's maxPayload): the close
                          code the server answers with
SCENARIO OK at the end; FAIL <why> and exit 1 otherwise.
"""
import argparse
import json
import socket
import sys
import time

import websocket
from websocket import ABNF


def say(*parts):
    print(*parts, flush=True)


def fail(why):
    say("FAIL", why)
    sys.exit(1)


def open_socket(port):
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    opcode, data = ws.recv_data(control_frame=True)
    if opcode != ABNF.OPCODE_TEXT or not data.startswith(b"0{"):
        fail(f"no Engine.IO open packet: {opcode} {data[:80]!r}")
    return ws


def read_text(ws):
    """The next text message, answering Engine.IO pings on the way."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == ABNF.OPCODE_TEXT:
            if data == b"2":
                ws.send("3")
                continue
            return data.decode()
        if opcode == ABNF.OPCODE_CLOSE:
            fail(f"closed while waiting for a message: {data!r}")


def read_close(ws):
    """The server's close frame's code, skipping messages before it."""
    while True:
        frame = ws.recv_frame()
        if frame.opcode == ABNF.OPCODE_CLOSE:
            return int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None


def wait_eof(sock, timeout):
    sock.settimeout(timeout)
    started = time.time()
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        fail(f"server kept the connection open {timeout} s")
    except OSError:
        pass
    return time.time() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    connect = "40" + json.dumps({"token": args.token})

    ws = open_socket(args.port)
    ws.ping(b"chatd")
    opcode, data = ws.recv_data(control_frame=True)
    if opcode != ABNF.OPCODE_PONG:
        fail(f"no pong: {opcode} {data!r}")
    say("PONG", data.decode())

    half = len(connect) // 2
    ws.send_frame(ABNF.create_frame(connect[:half], ABNF.OPCODE_TEXT, fin=0))
    ws.send_frame(ABNF.create_frame(connect[half:], ABNF.OPCODE_CONT, fin=1))
    answer = read_text(ws)
    if not answer.startswith('40{"sid"'):
        fail(f"CONNECT not answered: {answer[:120]}")
    say("CONNECTED")

    ws.send_close(status=4001)
    say("CLOSE", read_close(ws))
    wait_eof(ws.sock, 5)
    say("EOF")

    ws = open_socket(args.port)
    ws.send(connect)
    if not read_text(ws).startswith('40{"sid"'):
        fail("second CONNECT not answered")
    ws.sock.shutdown(socket.SHUT_WR)
    say("HALFCLOSE", f"{wait_eof(ws.sock, 10):.2f}")

    ws = open_socket(args.port)
    fragment = "x" * 600_000
    ws.send_frame(ABNF.create_frame("4" + fragment, ABNF.OPCODE_TEXT, fin=0))
    try:
        ws.send_frame(ABNF.create_frame(fragment, ABNF.OPCODE_CONT, fin=1))
    except OSError:
        pass  # the server may close before taking it all
    say("TOOLARGE", read_close(ws))
    say("SCENARIO OK")


if __name__ == "__main__":
    main()
