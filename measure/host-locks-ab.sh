#!/usr/bin/env bash
# forge-top --all --once over N rings (PACED of them with paced, parked
# daemons), two builds alternating: the time of one sample of every ring as
# forge-top reports it (sample_took_ns), RUNS times each; medians and ratio.
set -euo pipefail
BEFORE=${BEFORE:?forge-top before}; AFTER=${AFTER:?forge-top after}; B=${DAEMONS:?dir of forge-init/stream/core}
N=${N:-200}; PACED=${PACED:-4}; RUNS=${RUNS:-15}
P=/forge_measure_locks_$$_
cleanup() { jobs -p | xargs -r kill 2>/dev/null || true; sleep 0.3; jobs -p | xargs -r kill -9 2>/dev/null || true; rm -f /dev/shm"${P}"*; }
trap cleanup EXIT
for i in $(seq 0 $((N - 1))); do
    "$B/forge-init" --segment "$P$i" --slots 64 --payload-capacity 256 >/dev/null
    if [ "$i" -lt "$PACED" ]; then
        "$B/forge-stream" --segment "$P$i" --rate $((250 * (i + 1))) --size 64 --wait park >/dev/null 2>&1 &
        "$B/forge-core" --segment "$P$i" --wait park >/dev/null 2>&1 &
    fi
done
sleep 2
took() { "$1" --all --once --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["sample_took_ns"]/1e6)'; }
b=(); a=()
for r in $(seq "$RUNS"); do b+=("$(took "$BEFORE")"); a+=("$(took "$AFTER")"); done
python3 - "${b[*]}" "${a[*]}" "$(wc -l </proc/locks)" <<'PY'
import sys, statistics as st
b=list(map(float,sys.argv[1].split())); a=list(map(float,sys.argv[2].split()))
print(f"/proc/locks lines during the run: {sys.argv[3]}")
print("before ms:", " ".join(f"{x:.2f}" for x in b)); print("after  ms:", " ".join(f"{x:.2f}" for x in a))
print(f"median before {st.median(b):.2f} ms, after {st.median(a):.2f} ms, ratio {st.median(a)/st.median(b):.2f}")
PY
