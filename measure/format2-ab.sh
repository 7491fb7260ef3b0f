#!/usr/bin/env bash
# forge-stream -> forge-core --verify, frame format 1 build (before) against
# format 2 build (after), alternating, ROUNDS rounds, one 128 B and one
# 1 KiB run each; prints forge-core's frames/s per run and the medians.
set -euo pipefail
BEFORE=${BEFORE:?dir of the format-1 release binaries}
AFTER=${AFTER:?dir of the format-2 release binaries}
ROUNDS=${ROUNDS:-7}
COUNT=${COUNT:-3000000}
run() { # dir size -> frames/s
    local dir=$1 size=$2 seg=/forge_ab_$$
    "$dir/forge-init" --segment $seg --force >/dev/null 2>&1 || "$dir/forge-init" --segment $seg >/dev/null
    "$dir/forge-core" --segment $seg --core 1 --count $COUNT --verify --report json --wait spin >/tmp/ab-core.json 2>/dev/null &
    local core=$!
    sleep 0.2
    "$dir/forge-stream" --segment $seg --core 0 --size $size --count $COUNT --wait spin >/dev/null 2>&1
    wait $core
    rm -f /dev/shm${seg} /dev/shm${seg}.roles
    # forge-core's own rate (first frame to last); a run with a gap or a
    # corrupt frame is not a measurement.
    python3 -c 'import json,sys;d=json.load(open("/tmp/ab-core.json"));assert d["gaps"]==0 and d["corrupt"]==0 and d["frames"]==int(sys.argv[1]),d;print("%.3f" % (d["frames_per_s"]/1e6))' $COUNT
}
for size in 128 1024; do
  b=(); a=()
  for r in $(seq $ROUNDS); do
    b+=($(run "$BEFORE" $size)); a+=($(run "$AFTER" $size))
  done
  python3 - "$size" "${b[*]}" "${a[*]}" <<'PY'
import sys, statistics as st
size, b, a = sys.argv[1], list(map(float, sys.argv[2].split())), list(map(float, sys.argv[3].split()))
print(f"{size} B  before (format 1) M frames/s: {b}")
print(f"{size} B  after  (format 2) M frames/s: {a}")
print(f"{size} B  median before {st.median(b):.3f}  after {st.median(a):.3f}  ratio {st.median(a)/st.median(b):.3f}  per-round median ratio {st.median([x/y for x,y in zip(a,b)]):.3f}")
PY
done
