#!/usr/bin/env bash
# Measures forge-record against the ring's own rate (README, "Recording and
# replay"): the ring alone, --consume recordings to tmpfs and to disk in
# each compression, and what a --tap recorder costs the producer, in
# alternating runs. Release build; prints one line per run and the medians.
#
#   record/measure.sh                 # N=5000000 frames, RUNS=3
#   N=2000000 RUNS=5 SIZE=64 record/measure.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5000000}
RUNS=${RUNS:-3}
SIZE=${SIZE:-128}
B=target/release
SEG=/forge_measure_$$
TMPFS=/dev/shm/forge_measure_files_$$
DISK=$(pwd)/target/measure_$$
mkdir -p "$TMPFS" "$DISK"
LOG=$(mktemp -d)

cleanup() {
    jobs -p | xargs -r kill -9 2>/dev/null || true
    rm -rf "$TMPFS" "$DISK" "$LOG"
    rm -f "/dev/shm$SEG"
}
trap cleanup EXIT

cargo build --release -q -p forge-demo -p forge-record --bins

field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
median() { python3 -c "import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f'{statistics.median(v):.4g}')" "$@"; }
fresh() { "$B/forge-init" --force --segment "$SEG" >/dev/null; }

# The ring alone: forge-stream -> forge-core, both spinning.
ring() {
    fresh
    "$B/forge-core" --segment "$SEG" --count "$N" --core 0 --report json >"$LOG/core.json" 2>/dev/null &
    local c=$!
    sleep 0.3
    "$B/forge-stream" --segment "$SEG" --count "$N" --size "$SIZE" --core 1 >/dev/null 2>&1
    wait $c
    field "$LOG/core.json" frames_per_s
}

# forge-record --consume in place of forge-core.
record() { # compression dir
    fresh
    rm -f "$2"/rec*.mcap
    "$B/forge-record" --segment "$SEG" --consume --count "$N" --wait spin --core 0 \
        --compression "$1" --out "$2/rec.mcap" --report json >"$LOG/rec.json" 2>/dev/null &
    local r=$!
    sleep 0.3
    "$B/forge-stream" --segment "$SEG" --count "$N" --size "$SIZE" --core 1 >/dev/null 2>&1
    wait $r
    local fps bps file
    fps=$(field "$LOG/rec.json" frames_per_s)
    bps=$(field "$LOG/rec.json" payload_bytes_per_s)
    file=$(field "$LOG/rec.json" file_bytes)
    local dur
    dur=$(field "$LOG/rec.json" duration_s)
    echo "$fps $bps $(python3 -c "print($file/$dur)") $(python3 -c "print($(field "$LOG/rec.json" payload_bytes)/$file)")"
}

# The producer's rate with forge-core consuming, with or without a tap.
producer() { # with_tap
    fresh
    "$B/forge-core" --segment "$SEG" --count "$N" --core 0 >/dev/null 2>&1 &
    local c=$! t=""
    if [ "$1" = yes ]; then
        "$B/forge-record" --segment "$SEG" --tap --wait park --out "$TMPFS/tap.mcap" \
            --report json >"$LOG/tap.json" 2>/dev/null &
        t=$!
    fi
    sleep 0.3
    "$B/forge-stream" --segment "$SEG" --count "$N" --size "$SIZE" --core 1 >"$LOG/stream.txt" 2>&1
    wait $c
    local rate
    rate=$(sed -n 's/.* s: \([0-9.]*\) \([kM]\)frames\/s.*/\1 \2/p' "$LOG/stream.txt" |
        awk '{ print ($2 == "M") ? $1 * 1e6 : $1 * 1e3 }')
    if [ -n "$t" ]; then
        kill -INT $t
        wait $t || true
        echo "$rate $(field "$LOG/tap.json" frames) $(field "$LOG/tap.json" missed_frames)"
    else
        echo "$rate"
    fi
}

echo "machine: $(nproc) cores, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg); N=$N frames of $SIZE B, $RUNS runs"
declare -a R
for i in $(seq "$RUNS"); do R+=("$(ring)"); echo "ring alone run $i: ${R[-1]} frames/s"; done
echo "ring alone: median $(median "${R[@]}") frames/s"

for where in tmpfs disk; do
    dir=$TMPFS
    [ $where = disk ] && dir=$DISK
    for comp in zstd lz4 none; do
        F=() M=() W=() X=()
        for i in $(seq "$RUNS"); do
            read -r fps bps wps ratio < <(record $comp "$dir")
            F+=("$fps") M+=("$bps") W+=("$wps") X+=("$ratio")
            echo "record --consume $comp to $where run $i: $fps frames/s, $bps payload B/s, $wps file B/s, ratio $ratio"
        done
        echo "record --consume $comp to $where: median $(median "${F[@]}") frames/s, $(median "${M[@]}") payload B/s, $(median "${W[@]}") file B/s, compression $(median "${X[@]}")x"
    done
done

WITHOUT=() WITH=()
for i in $(seq "$RUNS"); do
    WITHOUT+=("$(producer no)")
    echo "producer without tap run $i: ${WITHOUT[-1]} frames/s"
    read -r rate frames missed < <(producer yes)
    WITH+=("$rate")
    echo "producer with tap run $i: $rate frames/s; tap recorded $frames, missed $missed"
done
a=$(median "${WITHOUT[@]}")
b=$(median "${WITH[@]}")
echo "tap cost: producer median $a frames/s without, $b with: ratio $(python3 -c "print(f'{$b/$a:.3f}')")"
