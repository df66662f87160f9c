#!/usr/bin/env python3
"""Measures what half-open HTTP requests cost chatd in memory (issue 13): a measurement, not a test.

  half_open_rss.py --chatd PATH [--count N] [--scenario NAME ...]

For each scenario a fresh `chatd --dev` (temporary state directory, request_head_timeout 120 s so the
held connections stay for the measurement) is started; the script reads its VmRSS, opens N TCP
connections from several 127.x source addresses (under the per-address cap), sends each the scenario's
bytes, waits 3 s, reads VmRSS again and counts what chatd answered. Prints one JSON line per scenario.

Scenarios:
  silent    connect, send nothing
  half-14k  half a request head: GET /socket.io/ handshake line and a 14 KB Authorization header, no
            blank line (under the 16 KiB head cap: chatd holds it until request_head_timeout)
  half-60k  the same with a 60 KB Authorization header (the attack measured in issue 13: +115 MB for 2,000)
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

SCENARIOS = {
    "silent": b"",
    "half-14k": b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + b"a" * 14_000 + b"\r\n",
    "half-60k": b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + b"a" * 60_000 + b"\r\n",
}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_chatd(path, directory):
    config = os.path.join(directory, "chatd.toml")
    with open(config, "w") as f:
        f.write('[server]\nrequest_head_timeout = "120s"\n')
    environment = dict(os.environ, CHATD_STATE_DIR=directory, CHATD_STORE=f"sqlite://{directory}/chatd.sqlite",
                       CHATD_CONTROL_SOCKET=f"{directory}/chatd.sock", CHATD_CONFIG=config,
                       CHAT3_API_URL="http://127.0.0.1:9/api", LOG_LEVEL="notice")
    log = open(os.path.join(directory, "chatd.log"), "w+")
    process = subprocess.Popen([path, "--dev", "--host", "127.0.0.1", "--port", "0"], env=environment,
                               stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        log.seek(0)
        found = re.search(r"chatd ready http\.port=(\d+)", log.read())
        if found:
            return process, int(found.group(1))
        time.sleep(0.1)
    process.kill()
    sys.exit("chatd did not start; see " + log.name)


def measure(chatd, name, count):
    with tempfile.TemporaryDirectory(prefix="half-open-") as directory:
        process, port = start_chatd(chatd, directory)
        time.sleep(2)  # let startup allocations settle
        before = rss_kb(process.pid)
        sockets = []
        for index in range(count):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.bind((f"127.0.{3 + index // 200}.{1 + index % 200}", 0))
            client.connect(("127.0.0.1", port))
            if SCENARIOS[name]:
                client.sendall(SCENARIOS[name])
            sockets.append(client)
        time.sleep(3)
        after = rss_kb(process.pid)
        # What chatd answered: read until every connection answered or 10 s without news.
        answers, closed, pending = {}, 0, list(sockets)
        for client in pending:
            client.setblocking(False)
        quiet_since = time.time()
        while pending and time.time() - quiet_since < 10:
            still = []
            for client in pending:
                try:
                    data = client.recv(65536)
                except BlockingIOError:
                    still.append(client)  # nothing answered, still open
                    continue
                except OSError:
                    data = b""
                if data:
                    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
                    answers[status] = answers.get(status, 0) + 1
                else:
                    closed += 1
            if len(still) < len(pending):
                quiet_since = time.time()
            pending = still
            time.sleep(0.2)
        for client in sockets:
            client.close()
        process.terminate()
        process.wait(timeout=30)
        delta = after - before
        return {"scenario": name, "connections": count, "rss_before_kb": before, "rss_after_kb": after,
                "rss_delta_kb": delta, "bytes_per_connection": round(delta * 1024 / count),
                "answered": answers, "closed_silently": closed, "open_unanswered": len(pending)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chatd", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    for name in args.scenario or ["silent", "half-14k", "half-60k"]:
        print(json.dumps(measure(args.chatd, name, args.count)), flush=True)


if __name__ == "__main__":
    main()
