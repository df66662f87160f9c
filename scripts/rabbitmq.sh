#!/usr/bin/env bash
# Starts a local RabbitMQ if none answers, and stops it again only if this script started it.
#   scripts/rabbitmq.sh start STATEFILE   → writes "started" to STATEFILE when it started the broker
#   scripts/rabbitmq.sh stop STATEFILE
set -euo pipefail
action=${1:?start or stop}
state=${2:?state file}

answers() { timeout 10 rabbitmqctl -q await_startup >/dev/null 2>&1; }
# The management API answering means a running broker, found without starting an Erlang CLI (which takes
# seconds, and far longer on a loaded machine).
management_answers() { curl -fsS -m 5 -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1; }

case "$action" in
start)
    if management_answers || answers; then
        echo "external" > "$state"
    else
        echo "rabbitmq: starting" >&2
        rabbitmq-server -detached >/dev/null 2>&1 || true
        for _ in $(seq 1 60); do answers && break; sleep 1; done
        answers || { echo "rabbitmq: did not start" >&2; exit 1; }
        echo "started" > "$state"
    fi
    # The management API backs `chatctl queue` and its tests.
    management_answers || rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 && break; sleep 1; done
    ;;
stop)
    if [ -f "$state" ] && [ "$(cat "$state")" = "started" ]; then
        echo "rabbitmq: stopping" >&2
        rabbitmqctl -q stop >/dev/null 2>&1 || true
    fi
    rm -f "$state"
    ;;
esac
