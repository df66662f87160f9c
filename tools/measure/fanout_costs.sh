#!/usr/bin/env bash
# Usage: tools/measure/fanout_costs.sh LOG OUTDIR — run beside `scripts/bench.sh fanout > LOG 2>&1`: after
# "fanout: publishing" in LOG, 20 s of CPU (per process; chatd per thread), syscall counts (perf stat) and
# the broker's channel stats (management API). Summarise with: python3 tools/measure/fanout_costs.py OUTDIR
log=$1; out=$2; mkdir -p "$out"
until grep -q "fanout: publishing" "$log" 2>/dev/null; do sleep 0.2; done
sleep 3
chatd=$(pgrep -n -x chatd); bench=$(pgrep -n -x chatbench); beam=$(pgrep -o -x beam.smp); sim=$(pgrep -n -x chat3-sim)
echo "chatd=$chatd bench=$bench beam=$beam sim=$sim" > "$out/pids"
snap() { for p in $chatd $bench $beam $sim; do echo "P $p $(cut -d' ' -f14,15 /proc/$p/stat)"; done
         for t in /proc/$chatd/task/*; do echo "T ${t##*/}:$(cat $t/comm | tr ' ' _) $(cut -d' ' -f14,15 $t/stat)"; done
         echo "ALL $(head -1 /proc/stat)"; date +%s.%N; }
ch() { curl -s -u guest:guest 'http://127.0.0.1:15672/api/channels?columns=name,prefetch_count,global_prefetch_count,messages_unacknowledged,consumer_count,message_stats' > "$1"; }
snap > "$out/before"; ch "$out/channels-before.json"
perf stat -e raw_syscalls:sys_enter --per-thread -p $chatd -o "$out/chatd-syscalls.txt" -- sleep 20 &
perf stat -e raw_syscalls:sys_enter -p $bench -o "$out/bench-syscalls.txt" -- sleep 20 &
perf stat -e raw_syscalls:sys_enter -p $beam -o "$out/beam-syscalls.txt" -- sleep 20 &
wait
snap > "$out/after"; ch "$out/channels-after.json"
curl -s -u guest:guest 'http://127.0.0.1:15672/api/consumers?columns=prefetch_count,ack_required' > "$out/consumers.json"
echo done > "$out/done"
