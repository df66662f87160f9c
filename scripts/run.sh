#!/usr/bin/env bash
# `make run`: RabbitMQ (if none answers), chat3-sim and chatd with the embedded SQLite store under
# ./.run, then the URL, the control socket and a demo token. It writes .run/env, the exports a second
# terminal needs (`. .run/env`) to reach the same store, state and control socket with chatctl.
# Ctrl-C stops what this started.
#
# Overrides (the run-script test uses them to stay out of a developer's way): CHATD_RUN_DIR (default
# ./.run), PORT (3001), CHAT3_SIM_PORT (3000), CHATD_BIN_DIR (default: swift build --show-bin-path).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CHATD_BIN_DIR:-$(swift build --show-bin-path)}"
run_dir="${CHATD_RUN_DIR:-$PWD/.run}"
mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"
port=${PORT:-3001}
sim_port=${CHAT3_SIM_PORT:-3000}

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -f "$run_dir/run.pids"
    scripts/rabbitmq.sh stop "$run_dir/rabbitmq.run-state"
    echo "stopped"
}
trap cleanup INT TERM EXIT

scripts/rabbitmq.sh start "$run_dir/rabbitmq.run-state"

# A local Chat3 key, generated once like Chat3's own (chat3_ + 64 hex).
key_file="$run_dir/chat3-api-key"
[ -f "$key_file" ] || ( umask 077; echo "chat3_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$key_file" )

# One set of exports for chatd, this script's chatctl calls and the operator's second terminal, so they
# all agree on the store, the state folder (where --dev keeps its JWT secret) and the control socket.
export CHATD_DEV=1 CHATD_STATE_DIR="$run_dir" CHATD_STORE="sqlite://$run_dir/chatd.sqlite"
export CHATD_CONTROL_SOCKET="$run_dir/chatd.sock"
export CHAT3_API_URL="http://127.0.0.1:$sim_port/api" CHAT3_API_KEY_FILE="$key_file"
export CORS_ORIGINS="${CORS_ORIGINS:-*}"
# libmongoc's per-process shared-memory counters (chatd reads none) warn when a killed process left one.
export MONGOC_DISABLE_SHM=1

"$bin/chat3-sim" --port "$sim_port" --api-key "$(cat "$key_file")" > "$run_dir/chat3-sim.log" 2>&1 &
pids+=($!)

"$bin/chatd" --dev --host 127.0.0.1 --port "$port" 2> >(tee -a "$run_dir/chatd.log" >&2) &
pids+=($!)
chatd_pid=$!
printf '%s\n' "${pids[@]}" > "$run_dir/run.pids"

for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "chatd did not start; see $run_dir/chatd.log" >&2; exit 1; }

demo_phone=79990000001
"$bin/chatctl" user show "$demo_phone" >/dev/null 2>&1 || "$bin/chatctl" user create --phone "$demo_phone" --name "Demo User" >/dev/null
demo_user=$("$bin/chatctl" user show "$demo_phone" --json | sed -n 's/.*"userId" : "\(usr_[a-z0-9]*\)".*/\1/p')
[ -n "$demo_user" ] || { echo "could not find the demo user $demo_phone" >&2; exit 1; }
token=$("$bin/chatctl" token mint --user "$demo_user")

env_file="$run_dir/env"
( umask 077; cat > "$env_file" <<ENV
# Written by make run: '. $env_file' gives a second terminal chatd's store, state and control socket.
export CHATD_DEV=1
export CHATD_STATE_DIR='$run_dir'
export CHATD_STORE='sqlite://$run_dir/chatd.sqlite'
export CHATD_CONTROL_SOCKET='$run_dir/chatd.sock'
export CHAT3_API_URL='http://127.0.0.1:$sim_port/api'
export CHAT3_API_KEY_FILE='$key_file'
export CHATD_URL='http://127.0.0.1:$port'
export MONGOC_DISABLE_SHM=1
export TOKEN='$token'
export PATH='$bin':"\$PATH"
ENV
)

cat <<INFO

chatd is running
  URL:            http://127.0.0.1:$port   (Socket.IO at /socket.io/)
  control socket: $run_dir/chatd.sock
  chat3-sim:      http://127.0.0.1:$sim_port/api
  demo user:      $demo_user ($demo_phone)
  demo token:     $token

  In a second terminal:  . $env_file   (sets TOKEN, the store and the control socket; puts chatctl on PATH)
  then try:              curl -H "Authorization: Bearer \$TOKEN" \$CHATD_URL/api/auth/me
                         chatctl user list
  Ctrl-C stops everything started here.
INFO
wait "$chatd_pid"
