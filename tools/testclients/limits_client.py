#!/usr/bin/env python3
"""Drives one chatd limit past its bound as a misbehaving client would, and prints one JSON line saying
what chatd answered.

  limits_client.py ws-flood   --url URL --token T --event NAME --arg JSON --count N
      WebSocket: CONNECT, then N events (each asking for an ack) as fast as possible; reads until the
      connection closes. {"acks": n, "limit": {...} | null, "disconnected": bool, "closed": bool}
  limits_client.py post-flood --url URL --token T --count N
      Polling: CONNECT, then one POST with N packets. {"status": s, "body": "...", "after": s2}
  limits_client.py no-connect --url URL --count N [--wait S]
      N polling handshakes that never send CONNECT; after S seconds asks each session for a poll.
      {"opened": n, "refused": [{status, body}], "open": n, "gone": m} (without --wait, no poll)
      With --close, then closes every session it opened (Engine.IO close packet) and tries one more
      handshake: "after": its status.
  limits_client.py big-event --url URL --token T --bystander-token B --size N
      python-socketio over WebSocket, two users. The offender emits typing:stop padded to N bytes, once
      asking for an ack and once not, then a small one and one padded to --under bytes; the bystander calls
      typing:stop before and after. {"big_ack": ..., "small_ack": ..., "under_ack": ..., "connected": bool,
      "bystander": [ack before, ack after], "bystander_connected": bool}
"""
import argparse
import json
import sys
import time

import requests
import websocket


def ws_url(url):
    return url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


def ws_flood(args):
    ws = websocket.create_connection(ws_url(args.url), timeout=20)
    assert ws.recv().startswith("0")
    ws.send("40" + json.dumps({"token": args.token}))
    while True:
        frame = ws.recv()
        if frame == "2":
            ws.send("3")
        elif frame.startswith("40"):
            break
        elif frame.startswith("44"):
            print(json.dumps({"connect_error": frame[2:]}), flush=True)
            return
    arg = json.loads(args.arg)
    sent = 0
    try:
        for index in range(args.count):
            ws.send("42%d%s" % (index, json.dumps([args.event, arg])))
            sent += 1
    except Exception:
        pass
    acks, limit, disconnected, closed = 0, None, False, False
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            frame = ws.recv()
        except websocket.WebSocketTimeoutException:
            break
        except Exception:
            closed = True
            break
        if not frame:
            closed = True
            break
        if frame == "2":
            ws.send("3")
        elif frame.startswith("43"):
            acks += 1
        elif frame.startswith("41"):
            disconnected = True
        elif frame.startswith("42"):
            payload = json.loads(frame[2:])
            if payload[0] == "limit:exceeded":
                limit = payload[1]
    print(json.dumps({"sent": sent, "acks": acks, "limit": limit, "disconnected": disconnected, "closed": closed}),
          flush=True)


def post_flood(args):
    base = args.url + "/socket.io/?EIO=4&transport=polling"
    opened = requests.get(base, timeout=10).text
    sid = json.loads(opened[1:])["sid"]
    session = base + "&sid=" + sid
    requests.post(session, data="40" + json.dumps({"token": args.token}), timeout=10)
    connected = requests.get(session, timeout=30).text
    assert "40" in connected, connected
    body = "\x1e".join('42["typing:stop",{"dialogId":"dlg_aaaaaaaaaaaaaaaaaaaa"}]' for _ in range(args.count))
    answer = requests.post(session, data=body, timeout=30)
    after = requests.get(session, timeout=30)
    print(json.dumps({"status": answer.status_code, "body": answer.text, "after": after.status_code,
                      "after_body": after.text}), flush=True)


def no_connect(args):
    base = args.url + "/socket.io/?EIO=4&transport=polling"
    sids, refused = [], []
    for _ in range(args.count):
        answer = requests.get(base, timeout=10)
        if answer.status_code == 200:
            sids.append(json.loads(answer.text[1:])["sid"])
        else:
            refused.append({"status": answer.status_code, "body": answer.text})
    if args.close:
        for sid in sids:
            requests.post(base + "&sid=" + sid, data="1", timeout=10)
        after = requests.get(base, timeout=10)
        if after.status_code == 200:
            requests.post(base + "&sid=" + json.loads(after.text[1:])["sid"], data="1", timeout=10)
        print(json.dumps({"opened": len(sids), "refused": refused, "after": after.status_code}), flush=True)
        return
    if args.wait <= 0:
        print(json.dumps({"opened": len(sids), "refused": refused}), flush=True)
        return
    time.sleep(args.wait)
    time.sleep(args.wait)
    gone = 0
    for sid in sids:
        answer = requests.get(base + "&sid=" + sid, timeout=30)
        # A closed session: its close packet once, then "Session ID unknown".
        if answer.status_code == 400 or answer.text.endswith("1"):
            gone += 1
    print(json.dumps({"opened": len(sids), "refused": refused, "open": len(sids) - gone, "gone": gone}), flush=True)


def big_event(args):
    import socketio

    dialog = "dlg_aaaaaaaaaaaaaaaaaaaa"

    def client(token):
        sio = socketio.Client(reconnection=False)
        sio.connect(args.url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
        return sio

    offender, bystander = client(args.token), client(args.bystander_token)
    before = bystander.call("typing:stop", {"dialogId": dialog}, timeout=20)
    big = {"dialogId": dialog, "pad": "x" * args.size}
    big_ack = offender.call("typing:stop", big, timeout=20)
    offender.emit("typing:stop", big)
    # Acks come in order: this one's answer arrives after the unacked big event was dealt with.
    small_ack = offender.call("typing:stop", {"dialogId": dialog}, timeout=20)
    under_ack = offender.call("typing:stop", {"dialogId": dialog, "pad": "x" * args.under}, timeout=20)
    after = bystander.call("typing:stop", {"dialogId": dialog}, timeout=20)
    print(json.dumps({"big_ack": big_ack, "small_ack": small_ack, "under_ack": under_ack,
                      "connected": offender.connected, "bystander": [before, after],
                      "bystander_connected": bystander.connected}), flush=True)
    offender.disconnect()
    bystander.disconnect()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["ws-flood", "post-flood", "no-connect", "big-event"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--event", default="typing:stop")
    parser.add_argument("--arg", default='{"dialogId":"dlg_aaaaaaaaaaaaaaaaaaaa"}')
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--wait", type=float, default=0)
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--bystander-token", default="")
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--under", type=int, default=1000)
    args = parser.parse_args()
    {"ws-flood": ws_flood, "post-flood": post_flood, "no-connect": no_connect, "big-event": big_event}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
