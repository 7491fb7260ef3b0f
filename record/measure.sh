#!/usr/bin/env bash
# Measures forge-record against the ring's own rate (docs/recording.md, "Recording and
# replay"): the ring alone, --consume recordings to tmpfs and to disk in
# each compression, and what a --tap recorder costs the producer, in
# alternating runs. Release build; prints one line per run and the medians.
#
#   record/measure.sh                 # N=5000000 frames, RUNS=3
#   N=2000000 RUNS=5 SIZE=64 record/measure.sh
#   ONLY=tap RUNS=7 record/measure.sh   # one part: ring, record, tap or paced
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5000000}
ONLY=${ONLY:-all}
want() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }
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

# The producer's rate with forge-core consuming (both spinning), without a
# tap, with one at normal priority, or with one at SCHED_IDLE (--idle).
producer() { # none|normal|idle
    fresh
    "$B/forge-core" --segment "$SEG" --count "$N" --core 0 >/dev/null 2>&1 &
    local c=$! t=""
    if [ "$1" != none ]; then
        local idle=""
        [ "$1" = idle ] && idle=--idle
        "$B/forge-record" --segment "$SEG" --tap $idle --wait park --out "$TMPFS/tap.mcap" \
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
        echo "$rate 0 0"
    fi
}

# A tap on a paced stream (everything parked): what share it records.
paced() { # rate
    fresh
    "$B/forge-core" --segment "$SEG" --wait park --core 0 >/dev/null 2>&1 &
    local c=$!
    "$B/forge-record" --segment "$SEG" --tap --wait park --out "$TMPFS/tap.mcap" \
        --report json >"$LOG/tap.json" 2>/dev/null &
    local t=$!
    sleep 0.3
    "$B/forge-stream" --segment "$SEG" --rate "$1" --count "$((2 * $1))" --size "$SIZE" \
        --wait park --core 1 >/dev/null 2>&1
    sleep 0.2
    kill -INT $t $c
    wait $t $c || true
    echo "$(field "$LOG/tap.json" frames) $(field "$LOG/tap.json" missed_frames)"
}

echo "machine: $(nproc) cores, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg); N=$N frames of $SIZE B, $RUNS runs"
if want ring; then
declare -a R
for i in $(seq "$RUNS"); do R+=("$(ring)"); echo "ring alone run $i: ${R[-1]} frames/s"; done
echo "ring alone: median $(median "${R[@]}") frames/s"
fi

want record && for where in tmpfs disk; do
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

if want tap; then
for variant in none normal idle; do declare -a "P_$variant=()"; done
for i in $(seq "$RUNS"); do
    for variant in none normal idle; do
        read -r rate frames missed < <(producer $variant)
        eval "P_$variant+=(\"\$rate\")"
        echo "producer with tap=$variant run $i: $rate frames/s; tap recorded $frames, missed $missed"
    done
done
a=$(median "${P_none[@]}")
for variant in normal idle; do
    eval "b=\$(median \"\${P_$variant[@]}\")"
    echo "tap cost ($variant priority): producer median $a frames/s without a tap, $b with: ratio $(python3 -c "print(f'{$b/$a:.3f}')")"
done
fi

want paced && for rate in 10000 100000 1000000; do
    for i in $(seq "$RUNS"); do
        read -r frames missed < <(paced "$rate")
        echo "tap on a stream paced at $rate frames/s, run $i: recorded $frames, missed $missed"
    done
done
