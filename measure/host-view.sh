#!/usr/bin/env bash
# Measures forge-top's host view (docs/forge-top.md, "Every ring of the
# host"): N rings in /dev/shm (most idle, PACED of them with a paced, parked
# forge-stream and forge-core), forge-top --all live in a real terminal
# (tmux, 220x60) sampling every second, then:
#   - its CPU share of one core over DUR seconds (utime + stime from
#     /proc/PID/stat), and its RSS (VmRSS, and the peak VmHWM);
#   - the time of one sample of every ring, as forge-top measures it
#     (`--all --once --format json`'s sample_took_ns), RUNS times: median,
#     min, max.
# Release build. Every ring, daemon and the tmux session are removed on exit.
#
#   measure/host-view.sh                 # N=200 rings, DUR=60 s, RUNS=9
#   N=200 DUR=30 PACED=4 measure/host-view.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
DUR=${DUR:-60}
PACED=${PACED:-4}
RUNS=${RUNS:-9}
B=target/release
P=/forge_measure_host_$$_
SESSION=forge_measure_host_$$

cleanup() {
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
    sleep 0.3
    jobs -p | xargs -r kill -9 2>/dev/null || true
    rm -f /dev/shm"${P}"*
}
trap cleanup EXIT

cargo build --release -q -p forge-top -p forge-demo --bins

for i in $(seq 0 $((N - 1))); do
    if [ "$i" -lt "$PACED" ]; then
        "$B/forge-init" --segment "$P$i" --slots 64 --payload-capacity 256 >/dev/null
        "$B/forge-stream" --segment "$P$i" --rate $((250 * (i + 1))) --size 64 --wait park >/dev/null 2>&1 &
        "$B/forge-core" --segment "$P$i" --wait park >/dev/null 2>&1 &
    else
        "$B/forge-init" --segment "$P$i" --slots 8 --payload-capacity 64 >/dev/null
    fi
done
objects=$(find /dev/shm -maxdepth 1 -type f | wc -l)
echo "rings made: $N ($PACED paced); objects in /dev/shm now: $objects (other rings of the host are sampled too)"

tmux new-session -d -s "$SESSION" -x 220 -y 60 "exec env -u FORGE_SEGMENT $B/forge-top --all --refresh 1s"
sleep 1
pid=$(tmux list-panes -t "$SESSION" -F '#{pane_pid}')
tck=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 5 # past the first samples
t0=$(date +%s.%N)
c0=$(ticks "$pid")
sleep "$DUR"
c1=$(ticks "$pid")
t1=$(date +%s.%N)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
python3 - "$c0" "$c1" "$tck" "$t0" "$t1" "$rss" "$hwm" <<'EOF'
import sys
c0, c1, tck, t0, t1, rss, hwm = sys.argv[1:]
cpu = (float(c1) - float(c0)) / float(tck) / (float(t1) - float(t0)) * 100
print(f"host view, 1 Hz, {float(t1) - float(t0):.1f} s: cpu {cpu:.2f} % of one core, "
      f"rss {int(rss) / 1024:.1f} MiB (peak {int(hwm) / 1024:.1f} MiB)")
EOF
tmux capture-pane -p -t "$SESSION" | sed -n 1,3p

took=()
for _ in $(seq 1 "$RUNS"); do
    took+=("$(env -u FORGE_SEGMENT "$B/forge-top" --all --once --format json --after 100ms \
        | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["sample_took_ns"], len(v["rings"]))')")
done
printf '%s\n' "${took[@]}" | python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
ns = [int(r[0]) for r in rows]
print(f"one sample of {rows[0][1]} rings: median {statistics.median(ns)/1e6:.2f} ms, "
      f"min {min(ns)/1e6:.2f} ms, max {max(ns)/1e6:.2f} ms over {len(ns)} runs")'
