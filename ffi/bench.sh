#!/usr/bin/env bash
# C producer -> forge-core against forge-stream -> forge-core, in one run:
# the same ring (one segment, re-made by forge-init before each round), the
# same frame size, the same consumer; the two producers alternate ROUNDS
# times. The rate is forge-core's own (frames from its first frame to its
# last, per second); the script prints every round, the medians, their
# ratio C / Rust, and the median of the per-round ratios (each C round
# against the Rust round just before it). A measurement, not a test: it
# asserts nothing about speed, only that no round lost or repeated a frame.
#
#   bash ffi/bench.sh                                  # 5 rounds of 5,000,000 frames of 128 bytes
#   FRAMES=20000000 SIZE=64 ROUNDS=7 bash ffi/bench.sh
#
# Both producers run on core 1 (forge-stream's default; the C producer
# through taskset), forge-core on the core it picks (0 on a 2-core machine);
# both producers yield their core while the ring is full (the C producer's
# claim; forge-stream --wait yield), forge-core spins, and checks sequence
# and length (not --verify: the consumer should not be what is measured).
set -euo pipefail
cd "$(dirname "$0")/.."

FRAMES=${FRAMES:-5000000}
SIZE=${SIZE:-128}
ROUNDS=${ROUNDS:-5}
CORE=${CORE:-1}
CC=${CC:-cc}

cargo build --release -q -p forge-ffi -p forge-demo
bin=target/release
work=$(mktemp -d)
segment="/forge_bench_ffi_$$"
core=""
cleanup() {
    # Only the consumer still running, if any: a reaped pid may be reused.
    if [ -n "$core" ]; then
        kill -KILL "$core" 2>/dev/null || true
    fi
    # The segment and its role-lock object (fabric/LAYOUT.md).
    rm -f "/dev/shm$segment" "/dev/shm$segment.roles"
    rm -rf "$work"
}
trap cleanup EXIT

"$CC" -std=c11 -O2 -Wall -Wextra -Werror -I ffi/include examples/c/producer.c \
    -o "$work/producer" "$bin/libforge_ffi.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

echo "frames per round: $FRAMES of $SIZE bytes; rounds: $ROUNDS; producers on core $CORE"
echo "round producer frames_per_s gaps duplicates"
for round in $(seq 1 "$ROUNDS"); do
    for who in rust c; do
        "$bin/forge-init" --force --segment "$segment" >/dev/null
        "$bin/forge-core" --segment "$segment" --count "$FRAMES" --report json \
            >"$work/core.json" 2>"$work/core.err" &
        core=$!
        if [ "$who" = rust ]; then
            "$bin/forge-stream" --segment "$segment" --core "$CORE" --count "$FRAMES" \
                --size "$SIZE" --wait yield >/dev/null 2>"$work/producer.err"
        else
            taskset -c "$CORE" "$work/producer" "$segment" "$FRAMES" "$SIZE" \
                2>"$work/producer.err"
        fi
        if ! wait "$core"; then
            core=""
            cat "$work/core.err" "$work/producer.err" >&2
            exit 1
        fi
        core=""
        python3 - "$round" "$who" "$work/core.json" >>"$work/rounds" <<'EOF'
import json, sys
r = json.load(open(sys.argv[3]))
if r["gaps"] or r["duplicates"] or r["corrupt"]:
    sys.exit(f"round {sys.argv[1]} ({sys.argv[2]}): {r['gaps']} gaps, {r['duplicates']} duplicates, {r['corrupt']} corrupt")
print(sys.argv[1], sys.argv[2], round(r["frames_per_s"]), r["gaps"], r["duplicates"])
EOF
        tail -1 "$work/rounds"
    done
done
python3 - "$work/rounds" <<'EOF'
import statistics, sys
rates = {"rust": [], "c": []}
for line in open(sys.argv[1]):
    _, who, fps, _, _ = line.split()
    rates[who].append(int(fps))
rust, c = statistics.median(rates["rust"]), statistics.median(rates["c"])
# Each C round against the Rust round run just before it: neighbours share
# the machine's load, which on a shared machine moves more than either
# producer does.
pairs = [cr / rr for rr, cr in zip(rates["rust"], rates["c"])]
print(f"median forge-stream -> forge-core: {rust / 1e6:.2f} M frames/s")
print(f"median C producer   -> forge-core: {c / 1e6:.2f} M frames/s")
print(f"ratio of the medians C / Rust: {c / rust:.2f}")
print(f"median of the per-round ratios C / Rust: {statistics.median(pairs):.2f} "
      f"(from {min(pairs):.2f} to {max(pairs):.2f})")
EOF
