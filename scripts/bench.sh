#!/usr/bin/env bash
# The SPEC §13 benchmarks: builds release binaries, starts RabbitMQ (if none answers), chat3-sim and
# chatd on a fresh SQLite store, creates users and tokens, runs chatbench, and writes one JSON file per
# scenario to bench-results/ (see BENCHMARKS.md). Ctrl-C stops what this started.
#
#   scripts/bench.sh [scenario...]     (default: all of them)
#
# Scenarios:
#   startup         idle RSS and its parts, ready time of 3 cold starts              → startup.json
#   http            chatbench's own HTTP load generator (/api/auth/me, dialogs)     → http-*.json
#   wrk             the HTTP rows with Debian's wrk (a C generator, 1 thread): /api/auth/me vs /health and
#                   proxied /api/dialogs vs chat3-sim's own listing, each pair in one run
#                                                                                     → wrk-*.json, wrk-ratios.json
#   ceiling         bare AMQP consumer of one queue bound with #                    → amqp-ceiling.json
#   ceiling-queues  bare AMQP consumer of USERS per-user queues declared and bound as chatd does
#                   (the denominator of the peak ratio)                              → amqp-ceiling-per-user-queues.json
#   fanout          USERS clients, FANOUT_RATE updates/s for FANOUT_SECONDS         → fanout.json
#   peak            USERS clients, PEAK_COUNT updates as fast as the publishers go  → fanout-peak.json
#                   (with ceiling-queues also: peak-ratio.json)
#   storm           STORM_USERS WebSocket clients at once, held idle 10 s, RSS per connection → connect-storm.json
#   storm-polling   POLL_USERS long-polling sessions, each with a pending GET, held idle 10 s
#                                                                                     → connect-storm-polling.json
#   profile         (not in the default list) where one idle WebSocket connection's memory goes: a fresh
#                   chatd under heaptrack, PROFILE_USERS/4 and then PROFILE_USERS idle sockets held 10 s,
#                   chatd killed with the sockets still open, so heaptrack's "leaked" allocations are what
#                   the open sockets (plus idle chatd) hold; tools/measure/leak_sites.py charges the
#                   difference between the two runs to allocation sites  → profile-sites.txt, profile-N-*
#
# Knobs (environment): USERS (fan-out clients, 2000), STORM_USERS (10000), POLL_USERS (STORM_USERS),
# PROFILE_USERS (2000),
# FANOUT_RATE (2000), FANOUT_SECONDS (30), PEAK_COUNT (100000), CEILING_COUNT (100000),
# PUBLISHERS (publisher connections for ceiling, ceiling-queues, fanout and peak: 4), CONFIRMS (1: each
# publish waits for the broker's confirm; 0: not), FANOUT_WAIT (1: fanout publishes once /metrics shows
# every client's subscription; 0: right after the last CONNECT, which must then lose nothing since a
# CONNECT waits for the user's queue), HTTP_SECONDS (10), HTTP_CONNECTIONS (64),
# CHATD_TOML_EXTRA (TOML lines appended to chatd's config, for experiments),
# SKIP_BUILD=1 (use the existing release build), BIN_DIR (binaries from elsewhere, e.g. a debug build for
# trying the script; never for figures), OUT (bench-results).
set -euo pipefail
cd "$(dirname "$0")/.."

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(startup http wrk ceiling ceiling-queues fanout peak storm storm-polling)
wants() { local s; for s in "${scenarios[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

USERS=${USERS:-2000}
STORM_USERS=${STORM_USERS:-10000}
POLL_USERS=${POLL_USERS:-$STORM_USERS}
PROFILE_USERS=${PROFILE_USERS:-2000}
PUBLISHERS=${PUBLISHERS:-4}
CONFIRMS=${CONFIRMS:-1}
FANOUT_WAIT=${FANOUT_WAIT:-1}
FANOUT_RATE=${FANOUT_RATE:-2000}
FANOUT_SECONDS=${FANOUT_SECONDS:-30}
PEAK_COUNT=${PEAK_COUNT:-100000}
CEILING_COUNT=${CEILING_COUNT:-100000}
HTTP_SECONDS=${HTTP_SECONDS:-10}
HTTP_CONNECTIONS=${HTTP_CONNECTIONS:-64}
OUT=${OUT:-bench-results}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
EXCHANGE=chat3_updates

say() { echo "bench: $*" >&2; }
# libmongoc's per-process shared-memory counters (chatd reads none) warn when a killed process left one.
export MONGOC_DISABLE_SHM=1

# wrk is a benchmark tool, not a build or test dependency: scripts/deps.sh does not install it.
if wants wrk && ! command -v wrk >/dev/null; then
    say "the wrk scenario needs wrk (Debian/Ubuntu: sudo apt-get install wrk); install it or leave wrk out of the scenarios"
    exit 1
fi
if wants profile && ! command -v heaptrack >/dev/null; then
    say "the profile scenario needs heaptrack (Debian/Ubuntu: sudo apt-get install heaptrack)"
    exit 1
fi
publishing=(--publishers "$PUBLISHERS")
[ "$CONFIRMS" = 1 ] || publishing+=(--no-confirms)

if [ -n "${BIN_DIR:-}" ]; then
    bin="$BIN_DIR"
else
    if [ "${SKIP_BUILD:-}" != 1 ]; then
        say "building release binaries (several minutes on 2 cores)"
        # One product per call: `swift build` honours only the last --product it is given.
        for product in chatd chatctl chat3-sim chatbench; do swift build -c release --product "$product"; done
    fi
    bin="$(swift build -c release --show-bin-path)"
fi
for tool in chatd chatctl chat3-sim chatbench; do
    [ -x "$bin/$tool" ] || { say "missing $bin/$tool; build without SKIP_BUILD=1"; exit 1; }
done

# Every client and every chatd socket is a file descriptor.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$OUT"
work="$(mktemp -d "${TMPDIR:-/tmp}/chatd-bench.XXXXXX")"
pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 1
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    scripts/rabbitmq.sh stop "$work/rabbitmq.state"
    rm -rf "$work"
}
trap cleanup INT TERM EXIT

scripts/rabbitmq.sh start "$work/rabbitmq.state"

# Lines of a child's stderr, each prefixed with the nanosecond it arrived.
stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date +%s%N)" "$line"; done; }

# Waits for a line matching $2 in file $1 (up to $3 seconds); prints the matching line.
await_line() {
    local deadline=$(( $(date +%s) + ${3:-30} ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.005
    done
    return 1
}

api_key="chat3_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$bin/chat3-sim" --port 0 --api-key "$api_key" --rabbitmq-url "$AMQP_URL" --log-level warning \
    > "$work/chat3-sim.log" 2>&1 &
pids+=($!)
sim_port=$(await_line "$work/chat3-sim.log" 'listening on' 30 | sed -n 's/.*:\([0-9]*\)$/\1/p')
[ -n "$sim_port" ] || { say "chat3-sim did not start"; cat "$work/chat3-sim.log" >&2; exit 1; }
sim="http://127.0.0.1:$sim_port"

# Every client connects from loopback: lift the per-address caps (server.max_connections_per_address,
# socketio.max_sessions_per_address), which would otherwise refuse all but the first 256.
printf '[server]\nmax_connections_per_address = 1000000\nmax_connections = 1000000\n[socketio]\nmax_sessions_per_address = 1000000\nmax_sessions = 1000000\n' > "$work/chatd.toml"
# CHATD_TOML_EXTRA: more of chatd's config for an experiment, e.g. $'[realtime]\nreceipt_delay = "0s"'.
[ -z "${CHATD_TOML_EXTRA:-}" ] || printf '%s\n' "$CHATD_TOML_EXTRA" >> "$work/chatd.toml"
export CHATD_STORE="sqlite://$work/b.sqlite" CHATD_STATE_DIR="$work" CHATD_CONFIG="$work/chatd.toml"
export JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SMS_SENDER=command SMS_COMMAND=/bin/true CHAT3_API_URL="$sim/api" CHAT3_API_KEY="$api_key"
export RABBITMQ_URL="$AMQP_URL" LOG_LEVEL=warning
export CHATD_CONTROL_SOCKET="$work/chatd.sock"

chatd_pid=""
chatd_port=""
chatd_ready_ms=""
chatd_startup_ms=""
# A command chatd is started under (the profile scenario's heaptrack); empty: chatd itself.
chatd_wrap=()
chatd_wrapper_pid=""
# Starts chatd on a free port; sets chatd_pid, chatd_port and chatd_ready_ms (exec → "chatd ready").
start_chatd() {
    local log="$work/chatd.$1.log"
    local started
    started=$(date +%s%N)
    # notice, not warning: the ready line is a notice.
    LOG_LEVEL=notice "${chatd_wrap[@]}" "$bin/chatd" --host 127.0.0.1 --port 0 2> >(stamp > "$log") &
    chatd_pid=$!
    pids+=("$chatd_pid")
    local line
    line=$(await_line "$log" 'chatd ready' 120) || { say "chatd did not start"; cat "$log" >&2; exit 1; }
    if [ ${#chatd_wrap[@]} -gt 0 ]; then
        # The wrapper's child is chatd itself: that is the process to measure and stop.
        chatd_wrapper_pid=$chatd_pid
        chatd_pid=$(pgrep -P "$chatd_wrapper_pid" -x chatd | head -1)
        [ -n "$chatd_pid" ] || { say "no chatd under ${chatd_wrap[0]}"; exit 1; }
        pids+=("$chatd_pid")
    fi
    chatd_port=$(sed -n 's/.*http\.port=\([0-9]*\).*/\1/p' <<<"$line")
    chatd_startup_ms=$(sed -n 's/.*startup\.ms=\([0-9]*\).*/\1/p' <<<"$line")
    chatd_ready_ms=$(( (${line%% *} - started) / 1000000 ))
}
stop_chatd() {
    kill -TERM "$chatd_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$chatd_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$chatd_pid" 2>/dev/null; then
        say "chatd $chatd_pid did not stop within 10 s of SIGTERM; killing it"
        kill -KILL "$chatd_pid" 2>/dev/null || true
    fi
    wait "$chatd_pid" 2>/dev/null || true
}
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
# One field of /proc/PID/smaps_rollup in KiB: what RSS is made of (file-backed code vs private memory).
smaps_kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$1/smaps_rollup"; }

start_chatd main
chatd="http://127.0.0.1:$chatd_port"
say "chatd at $chatd (pid $chatd_pid), chat3-sim at $sim"

# Machine and versions, next to the results.
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
cat > "$OUT/machine.json" <<JSON
{
  "nproc": $(nproc),
  "memTotalKiB": $(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo),
  "cpuModel": "$cpu_model",
  "kernel": "$(uname -r)",
  "swift": "$(swift --version 2>/dev/null | head -1 | sed 's/"/\\"/g')",
  "rabbitmq": "$(rabbitmqctl -q version 2>/dev/null || echo unknown)",
  "loadAverageAtStart": "$(cut -d' ' -f1-3 /proc/loadavg)"
}
JSON

if wants startup; then
    sleep 2
    idle_rss=$(rss_kib "$chatd_pid")
    idle_pss=$(smaps_kib "$chatd_pid" Pss)
    idle_anon=$(smaps_kib "$chatd_pid" Anonymous)
    idle_file=$(( $(smaps_kib "$chatd_pid" Shared_Clean) + $(smaps_kib "$chatd_pid" Private_Clean) ))
    ready_runs=("$chatd_ready_ms")
    startup_runs=("$chatd_startup_ms")
    # Two more cold starts on their own stores: ready time varies run to run.
    main_pid=$chatd_pid main_port=$chatd_port
    for run in 2 3; do
        mkdir -p "$work/ready$run"
        CHATD_STORE="sqlite://$work/ready$run/b.sqlite" CHATD_STATE_DIR="$work/ready$run" \
            CHATD_CONTROL_SOCKET="$work/ready$run/chatd.sock" start_chatd "ready$run"
        ready_runs+=("$chatd_ready_ms")
        startup_runs+=("$chatd_startup_ms")
        stop_chatd
    done
    chatd_pid=$main_pid chatd_port=$main_port
    cat > "$OUT/startup.json" <<JSON
{
  "benchmark": "startup",
  "idleRssKiB": $idle_rss,
  "idlePssKiB": $idle_pss,
  "idleAnonymousKiB": $idle_anon,
  "idleCleanFileBackedKiB": $idle_file,
  "memoryMeaning": "VmRSS and its parts from /proc/PID/smaps_rollup: clean file-backed pages are the mapped code and read-only data of chatd and the Swift, Foundation and ICU libraries (shared with other processes, reclaimable); anonymous is chatd's own heap and stacks",
  "readyMs": [$(IFS=,; echo "${ready_runs[*]}")],
  "readyMsMeaning": "exec of chatd to its 'chatd ready' line, RabbitMQ and chat3-sim already answering",
  "startupMsLogged": [$(IFS=,; echo "${startup_runs[*]}")]
}
JSON
    say "startup: idle RSS ${idle_rss} KiB (anonymous ${idle_anon}, clean file-backed ${idle_file}, PSS ${idle_pss}), ready in ${ready_runs[*]} ms"
fi

# Users and tokens: one chatctl process each, two at a time.
needed=0
if wants fanout || wants peak; then needed=$USERS; fi
if wants storm && [ "$STORM_USERS" -gt "$needed" ]; then needed=$STORM_USERS; fi
if wants storm-polling && [ "$POLL_USERS" -gt "$needed" ]; then needed=$POLL_USERS; fi
if wants profile && [ "$PROFILE_USERS" -gt "$needed" ]; then needed=$PROFILE_USERS; fi
if { wants http || wants wrk; } && [ "$needed" -lt 1 ]; then needed=1; fi
tokens="$work/tokens.txt"
if [ "$needed" -gt 0 ]; then
    say "creating $needed users and tokens"
    create_user() {
        local id
        id=$("$bin/chatctl" user create --phone "7900$(printf '%07d' "$1")" --name "Bench $1" --json \
            | sed -n 's/.*"userId" *: *"\(usr_[A-Za-z0-9]*\)".*/\1/p')
        printf '%s %s\n' "$id" "$("$bin/chatctl" token mint --user "$id")"
    }
    export -f create_user
    export bin
    seq 1 "$needed" | xargs -P 2 -I{} bash -c 'create_user {}' > "$work/users.txt"
    cut -d' ' -f2 "$work/users.txt" > "$tokens"
    [ "$(wc -l < "$tokens")" -ge "$needed" ] || { say "only $(wc -l < "$tokens") tokens"; exit 1; }
fi

if wants http; then
    read -r user_id token < "$work/users.txt"
    "$bin/chatbench" http --url "$chatd/api/auth/me" --header "Authorization: Bearer $token" \
        --connections "$HTTP_CONNECTIONS" --duration "$HTTP_SECONDS" > "$OUT/http-auth-me.json"
    "$bin/chatbench" http --url "$sim/api/users/$user_id/dialogs" --header "X-API-Key: $api_key" \
        --connections "$HTTP_CONNECTIONS" --duration "$HTTP_SECONDS" > "$OUT/http-chat3-sim-dialogs.json"
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$chatd/api/dialogs" || true)
    if [ "$status" = 200 ]; then
        "$bin/chatbench" http --url "$chatd/api/dialogs" --header "Authorization: Bearer $token" \
            --connections "$HTTP_CONNECTIONS" --duration "$HTTP_SECONDS" > "$OUT/http-chatd-dialogs.json"
    else
        say "GET /api/dialogs answers $status: proxied dialogs not measured"
    fi
fi

if wants wrk; then
    read -r user_id token < "$work/users.txt"
    # wrk's done() hook writes its own summary as JSON (latencies in µs from wrk's histogram); wrk's
    # printed report is kept next to it.
    cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local function ms(us) return string.format("%.3f", us / 1000) end
    local e = summary.errors
    local f = assert(io.open(os.getenv("WRK_JSON"), "w"))
    f:write(string.format('{\n  "benchmark": "wrk",\n  "label": "%s",\n  "url": "%s",\n', os.getenv("WRK_LABEL"), os.getenv("WRK_URL")))
    f:write(string.format('  "threads": %s,\n  "connections": %s,\n  "durationSeconds": %.3f,\n', os.getenv("WRK_THREADS"), os.getenv("WRK_CONNECTIONS"), seconds))
    f:write(string.format('  "requests": %d,\n  "requestsPerSecond": %.1f,\n  "bytes": %d,\n', summary.requests, summary.requests / seconds, summary.bytes))
    f:write(string.format('  "non2xx3xx": %d,\n  "socketErrors": {"connect": %d, "read": %d, "write": %d, "timeout": %d},\n', e.status, e.connect, e.read, e.write, e.timeout))
    f:write(string.format('  "latencyMs": {"p50": %s, "p75": %s, "p90": %s, "p99": %s, "p999": %s, "max": %s, "mean": %s, "stdev": %s}\n}\n',
        ms(latency:percentile(50)), ms(latency:percentile(75)), ms(latency:percentile(90)), ms(latency:percentile(99)),
        ms(latency:percentile(99.9)), ms(latency.max), ms(latency.mean), ms(latency.stdev)))
    f:close()
end
LUA
    # One measured wrk run (after a 1 s warm-up on fresh connections); prints requests/s.
    run_wrk() {
        local label=$1 url=$2; shift 2
        wrk -t1 -c"$HTTP_CONNECTIONS" -d1s "$@" "$url" > /dev/null
        WRK_JSON="$OUT/wrk-$label.json" WRK_LABEL="$label" WRK_URL="$url" WRK_THREADS=1 \
            WRK_CONNECTIONS="$HTTP_CONNECTIONS" wrk -t1 -c"$HTTP_CONNECTIONS" -d"${HTTP_SECONDS}s" --latency \
            -s "$work/report.lua" "$@" "$url" > "$OUT/wrk-$label.txt"
        local rps non2xx
        rps=$(sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' "$OUT/wrk-$label.txt")
        non2xx=$(sed -n 's/.*"non2xx3xx": \([0-9]*\).*/\1/p' "$OUT/wrk-$label.json")
        [ "${non2xx:-0}" = 0 ] || say "wrk $label: $non2xx responses were not 2xx/3xx: this rate is not the route's"
        say "wrk $label: $rps req/s (p99 $(sed -n 's/.*"p99": \([0-9.]*\).*/\1/p' "$OUT/wrk-$label.json") ms)"
        echo "$rps"
    }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "null" }'; }
    health_rps=$(run_wrk health "$chatd/health")
    me_rps=$(run_wrk auth-me "$chatd/api/auth/me" -H "Authorization: Bearer $token")
    sim_rps=$(run_wrk chat3-sim-dialogs "$sim/api/users/$user_id/dialogs" -H "X-API-Key: $api_key")
    dialogs_rps=null
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$chatd/api/dialogs" || true)
    if [ "$status" = 200 ]; then
        dialogs_rps=$(run_wrk chatd-dialogs "$chatd/api/dialogs" -H "Authorization: Bearer $token")
    else
        say "GET /api/dialogs answers $status: proxied dialogs not measured"
    fi
    cat > "$OUT/wrk-ratios.json" <<JSON
{
  "benchmark": "wrk-ratios",
  "threads": 1,
  "connections": $HTTP_CONNECTIONS,
  "durationSeconds": $HTTP_SECONDS,
  "healthRequestsPerSecond": $health_rps,
  "authMeRequestsPerSecond": $me_rps,
  "authMeOverHealth": $(ratio "$me_rps" "$health_rps"),
  "authMeOverHealthTarget": 0.9,
  "chat3SimDialogsRequestsPerSecond": $sim_rps,
  "chatdDialogsRequestsPerSecond": $dialogs_rps,
  "chatdDialogsOverChat3Sim": $( [ "$dialogs_rps" = null ] && echo null || ratio "$dialogs_rps" "$sim_rps"),
  "chatdDialogsOverChat3SimTarget": 0.45,
  "loadAverageAtEnd": "$(cut -d' ' -f1-3 /proc/loadavg)"
}
JSON
    say "wrk: /api/auth/me / /health = $(ratio "$me_rps" "$health_rps"); proxied dialogs / chat3-sim = $( [ "$dialogs_rps" = null ] && echo n/a || ratio "$dialogs_rps" "$sim_rps")"
fi

if wants ceiling; then
    "$bin/chatbench" amqp-ceiling --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" --count "$CEILING_COUNT" \
        "${publishing[@]}" > "$OUT/amqp-ceiling.json"
fi

if wants ceiling-queues; then
    # The same queue naming, bindings, x-expires and prefetch as the chatd under test (its config file),
    # the same users count and updates count as the peak run.
    "$bin/chatbench" amqp-ceiling --per-user-queues --config "$CHATD_CONFIG" --users "$USERS" \
        --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" --count "$PEAK_COUNT" "${publishing[@]}" \
        > "$OUT/amqp-ceiling-per-user-queues.json"
fi

socketio_answers() {
    curl -s "$chatd/socket.io/?EIO=4&transport=polling" 2>/dev/null | grep -q '^0{'
}
if wants fanout || wants peak || wants storm || wants storm-polling || wants profile; then
    socketio_answers || { say "chatd does not answer Socket.IO at /socket.io/: fanout, peak and storm not measured"; exit 0; }
fi

if wants fanout; then
    "$bin/chatbench" fanout --chatd "$chatd" --tokens "$tokens" --clients "$USERS" --amqp-url "$AMQP_URL" \
        --exchange "$EXCHANGE" --rate "$FANOUT_RATE" --duration "$FANOUT_SECONDS" "${publishing[@]}" \
        $( [ "$FANOUT_WAIT" = 1 ] || echo --no-wait-for-subscriptions) > "$OUT/fanout.json"
fi

if wants peak; then
    "$bin/chatbench" fanout --chatd "$chatd" --tokens "$tokens" --clients "$USERS" --amqp-url "$AMQP_URL" \
        --exchange "$EXCHANGE" --rate 0 --count "$PEAK_COUNT" "${publishing[@]}" > "$OUT/fanout-peak.json"
    if wants ceiling-queues; then
        json_number() { sed -n "s/^  \"$2\" : \([0-9.]*\).*/\1/p" "$1" | head -1; }
        peak_rate=$(json_number "$OUT/fanout-peak.json" deliveredPerSecond)
        bare_rate=$(json_number "$OUT/amqp-ceiling-per-user-queues.json" deliveredPerSecond)
        cat > "$OUT/peak-ratio.json" <<JSON
{
  "benchmark": "peak-ratio",
  "users": $USERS,
  "count": $PEAK_COUNT,
  "publishers": $PUBLISHERS,
  "confirms": $( [ "$CONFIRMS" = 1 ] && echo true || echo false),
  "chatdDeliveredPerSecond": ${peak_rate:-null},
  "bareConsumerPerUserQueuesDeliveredPerSecond": ${bare_rate:-null},
  "ratio": $(awk -v a="${peak_rate:-0}" -v b="${bare_rate:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "null" }'),
  "target": 0.8
}
JSON
        say "peak: chatd ${peak_rate:-?}/s vs bare consumer of the same per-user queues ${bare_rate:-?}/s"
    fi
fi

if wants storm; then
    # A fresh chatd, so RSS per connection is not mixed with what earlier scenarios left behind.
    stop_chatd
    start_chatd storm
    chatd="http://127.0.0.1:$chatd_port"
    sleep 2
    "$bin/chatbench" connect-storm --chatd "$chatd" --tokens "$tokens" --clients "$STORM_USERS" \
        --chatd-pid "$chatd_pid" --hold 10 > "$OUT/connect-storm.json"
fi

if wants storm-polling; then
    # A fresh chatd again: idle long-polling sessions, each client keeping one GET pending.
    stop_chatd
    start_chatd storm-polling
    chatd="http://127.0.0.1:$chatd_port"
    sleep 2
    "$bin/chatbench" connect-storm --transport polling --chatd "$chatd" --tokens "$tokens" --clients "$POLL_USERS" \
        --chatd-pid "$chatd_pid" --hold 10 > "$OUT/connect-storm-polling.json"
fi

if wants profile; then
    # Swift symbols demangled when the toolchain's demangler is there.
    demangle() { if swift demangle --help >/dev/null 2>&1; then swift demangle --simplified; else cat; fi; }
    # One profiled chatd with $1 idle sockets; files $OUT/profile-$1-*.
    profile_run() {
        local count=$1 prefix="$OUT/profile-$1"
        stop_chatd
        rm -f "$prefix"-*
        chatd_wrap=(heaptrack -o "$prefix-heaptrack")
        start_chatd "profile-$count"
        chatd_wrap=()
        chatd="http://127.0.0.1:$chatd_port"
        sleep 2
        cat "/proc/$chatd_pid/smaps_rollup" > "$prefix-smaps-before.txt"
        # The clients stay connected (a long hold); chatd is killed while they are idle, so what heaptrack
        # sees still allocated at the end is what the open connections hold (and idle chatd).
        "$bin/chatbench" connect-storm --chatd "$chatd" --tokens "$tokens" --clients "$count" \
            --chatd-pid "$chatd_pid" --hold 600 > "$work/profile-storm.json" 2> "$work/profile-storm-$count.log" &
        local storm_pid=$!
        pids+=("$storm_pid")
        await_line "$work/profile-storm-$count.log" 'holding for' 600 >/dev/null \
            || { say "profile: clients did not connect"; cat "$work/profile-storm-$count.log" >&2; exit 1; }
        sleep 10
        cat "/proc/$chatd_pid/smaps_rollup" > "$prefix-smaps-after.txt"
        cat > "$prefix-connections.json" <<JSON
{
  "benchmark": "profile",
  "connections": $count,
  "connected": $(sed -n 's/.*connect-storm: \([0-9]*\) connected.*/\1/p' "$work/profile-storm-$count.log" | tail -1),
  "subscriptions": "$(sed -n 's/.*subscriptions \(.*\)$/\1/p' "$work/profile-storm-$count.log" | tail -1)",
  "rssBeforeKiB": $(sed -n 's/^Rss:[[:space:]]*\([0-9]*\).*/\1/p' "$prefix-smaps-before.txt"),
  "rssAfterKiB": $(sed -n 's/^Rss:[[:space:]]*\([0-9]*\).*/\1/p' "$prefix-smaps-after.txt"),
  "anonymousBeforeKiB": $(sed -n 's/^Anonymous:[[:space:]]*\([0-9]*\).*/\1/p' "$prefix-smaps-before.txt"),
  "anonymousAfterKiB": $(sed -n 's/^Anonymous:[[:space:]]*\([0-9]*\).*/\1/p' "$prefix-smaps-after.txt"),
  "note": "chatd ran under heaptrack (its bookkeeping is in these figures); per-connection costs: profile-sites.txt"
}
JSON
        kill -KILL "$chatd_pid" 2>/dev/null || true
        kill -TERM "$storm_pid" 2>/dev/null || true
        wait "$chatd_wrapper_pid" 2>/dev/null || true
        wait "$storm_pid" 2>/dev/null || true
        local data
        data=$(ls "$prefix"-heaptrack.* 2>/dev/null | head -1)
        [ -n "$data" ] || { say "profile: heaptrack wrote no data"; exit 1; }
        heaptrack_print -f "$data" --print-leaks 1 --print-peaks 0 --print-allocators 0 --print-temporary 0 \
            | demangle > "$prefix-heaptrack.txt"
        heaptrack_print -f "$data" --print-leaks 0 --print-peaks 0 --print-allocators 0 --print-temporary 0 \
            --flamegraph-cost-type leaked -F "$work/leaked.stacks" >/dev/null
        demangle < "$work/leaked.stacks" > "$prefix-leaked-stacks.txt"
        # chatd must be running for the scenarios after this one.
        start_chatd "after-profile-$count"
        chatd="http://127.0.0.1:$chatd_port"
    }
    # Two sizes: the difference per site between them is what one more connection costs, without
    # idle chatd's own allocations and the first connection's one-time caches.
    profile_small=$(( PROFILE_USERS / 4 ))
    profile_run "$profile_small"
    profile_run "$PROFILE_USERS"
    python3 tools/measure/leak_sites.py "$OUT/profile-$PROFILE_USERS-leaked-stacks.txt" --connections "$PROFILE_USERS" \
        --baseline "$OUT/profile-$profile_small-leaked-stacks.txt" --baseline-connections "$profile_small" \
        > "$OUT/profile-sites.txt"
    say "profile: $profile_small and $PROFILE_USERS idle sockets under heaptrack; per-connection sites in $OUT/profile-sites.txt"
    head -30 "$OUT/profile-sites.txt" >&2
fi
say "results in $OUT/ (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
