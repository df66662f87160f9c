#!/usr/bin/env bash
# `make run`: RabbitMQ (if none answers), chat3-sim and chatd with the embedded SQLite store under
# ./.run, then the URL, the control socket and a demo token. Ctrl-C stops what this started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build --show-bin-path)"
run_dir="$PWD/.run"
mkdir -p "$run_dir"
port=${PORT:-3001}
sim_port=${CHAT3_SIM_PORT:-3000}

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    scripts/rabbitmq.sh stop "$run_dir/rabbitmq.run-state"
    echo "stopped"
}
trap cleanup INT TERM EXIT

scripts/rabbitmq.sh start "$run_dir/rabbitmq.run-state"

# A local Chat3 key, generated once like Chat3's own (chat3_ + 64 hex).
key_file="$run_dir/chat3-api-key"
[ -f "$key_file" ] || { umask 077; echo "chat3_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$key_file"; }

"$bin/chat3-sim" --port "$sim_port" --api-key "$(cat "$key_file")" > "$run_dir/chat3-sim.log" 2>&1 &
pids+=($!)

export CHATD_STATE_DIR="$run_dir" CHATD_STORE="sqlite://$run_dir/chatd.sqlite" CHATD_CONTROL_SOCKET="$run_dir/chatd.sock"
export CHAT3_API_URL="http://127.0.0.1:$sim_port/api" CHAT3_API_KEY_FILE="$key_file" CORS_ORIGINS="${CORS_ORIGINS:-*}"
"$bin/chatd" --dev --host 127.0.0.1 --port "$port" 2> >(tee -a "$run_dir/chatd.log" >&2) &
pids+=($!)

for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "chatd did not start; see $run_dir/chatd.log" >&2; exit 1; }

demo_phone=79990000001
"$bin/chatctl" user show "$demo_phone" >/dev/null 2>&1 || "$bin/chatctl" user create --phone "$demo_phone" --name "Demo User" >/dev/null
demo_user=$("$bin/chatctl" user show "$demo_phone" --json | sed -n 's/.*"userId" : "\(usr_[a-z0-9]*\)".*/\1/p')
token=$("$bin/chatctl" token mint --user "$demo_user")

cat <<INFO

chatd is running
  URL:            http://127.0.0.1:$port   (Socket.IO at /socket.io/)
  control socket: $run_dir/chatd.sock
  chat3-sim:      http://127.0.0.1:$sim_port/api
  demo user:      $demo_user ($demo_phone)
  demo token:     $token

  try: curl -H "Authorization: Bearer $token" http://127.0.0.1:$port/api/auth/me
  Ctrl-C stops everything started here.
INFO
wait "${pids[1]}"
