#!/bin/sh
# `make bench`: what a report costs the node, end to end (see BENCHMARKS.md).
#
# Builds the NIF (rebar3 compile), the loopback sink and the floor client (cargo examples of
# the engine crate) and the Erlang bench modules, starts two sinks on 127.0.0.1 as separate OS
# processes (fast: answers 204 at once; hang: never answers), then runs each phase of
# bench/msm_bench.erl in a fresh VM, the floor client, and `cargo bench` (criterion).
# Prints a summary table; raw results go to bench/results/latest.txt (one "RESULT key value"
# per measurement, plus the machine and the load).
#
# Knobs (environment): MSM_BENCH_CYCLES (default 100000) build+send cycles for the RSS check,
# MSM_BENCH_REPORTS (default 2000) reports per CPU measurement, MSM_BENCH_CRITERION=0 skips
# `cargo bench`. Only 127.0.0.1 is ever contacted.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

cycles=${MSM_BENCH_CYCLES:-100000}
reports=${MSM_BENCH_REPORTS:-2000}
criterion=${MSM_BENCH_CRITERION:-1}

results=bench/results
mkdir -p "$results"
raw="$results/latest.txt"
log="$results/latest.log"
: >"$raw"
: >"$log"
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# 5,000 sends in flight hold 5,000 sockets in the VM (and as many in the sink).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
    echo "bench: open-file limit $(ulimit -n) is below 12000; 5,000 sends in flight need more" >&2
    exit 1
fi

say() { echo "bench: $*"; }
machine() {
    echo "MACHINE date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "MACHINE cpu $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "MACHINE cores $(nproc)"
    echo "MACHINE mem_kb $(awk '/MemTotal/ {print $2}' /proc/meminfo)"
    echo "MACHINE kernel $(uname -sr)"
    echo "MACHINE otp $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')"
    echo "MACHINE erts $(erl -noshell -eval 'io:format("~s", [erlang:system_info(version)]), halt().')"
    echo "MACHINE rustc $(rustc --version)"
}
load() { echo "LOAD $1 $(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw"; }

say "building the NIF (rebar3 compile), sink and floor client, bench modules"
rebar3 compile >>"$log" 2>&1 || { tail -n 40 "$log"; exit 1; }
cargo build --release --locked -p mongoose_system_metrics_engine \
    --example bench_sink --example bench_floor >>"$log" 2>&1 || { tail -n 40 "$log"; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
ebin=_build/bench/ebin
mkdir -p "$ebin"
erlc -o "$ebin" bench/mim_sender.erl bench/msm_bench.erl

machine >>"$raw"
echo "MACHINE command make bench (MSM_BENCH_CYCLES=$cycles MSM_BENCH_REPORTS=$reports)" >>"$raw"

# A sink exits when its stdin closes: each reads a fifo that this script holds open (fd $3).
start_sink() { # name mode fd; sets $port
    mkfifo "$tmp/$1.in"
    # The hanging sink stands for a remote server that never answers; in the flood it accepts
    # thousands of connections a second, on the node's CPUs here but not in real life, so it
    # runs at the lowest priority: what the probe sees is the VM, not the sink. The fast sink
    # keeps the normal priority (at the lowest, every answer would wait for the VM's threads
    # to sleep, and both paths' CPU per report would include those extra wake-ups).
    prio=0; [ "$2" = hang ] && prio=19
    nice -n "$prio" "$target/release/examples/bench_sink" "$2" <"$tmp/$1.in" >"$tmp/$1.out" 2>>"$log" &
    pids="$pids $!"
    eval "exec $3>\"$tmp/$1.in\""
    i=0
    while ! grep -q '^PORT ' "$tmp/$1.out" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "sink $1 did not start" >&2; exit 1; }
        sleep 0.1
    done
    port=$(sed -n 's/^PORT //p' "$tmp/$1.out")
}
start_sink fast fast 7
fast_port=$port
start_sink hang hang 8
hang_port=$port
fast="http://127.0.0.1:$fast_port/mp/collect"
hang="http://127.0.0.1:$hang_port/mp/collect"
say "sinks on 127.0.0.1: fast :$fast_port, hanging :$hang_port"

libdirs=$(ls -d _build/default/lib/*/ebin)
erl_run() { # VM flags... -- phase args...
    flags=""
    while [ "$1" != "--" ]; do flags="$flags $1"; shift; done
    shift
    status=0
    # shellcheck disable=SC2086
    erl -noshell $flags $(for d in $libdirs; do printf ' -pa %s' "$d"; done) -pa "$ebin" \
        -run msm_bench main "$@" >"$tmp/phase.out" 2>>"$log" || status=$?
    cat "$tmp/phase.out" >>"$log"
    grep '^RESULT' "$tmp/phase.out" >>"$raw" || true
    if [ "$status" -ne 0 ]; then
        echo "bench: phase '$*' failed (exit $status); see $log" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
}

load start
say "1/6 NIF call times, first send, idle CPU (fresh VM, default flags)"
erl_run -- latency "$fast" "$hang"
load after_latency
say "2/6 scheduler probe, idle and under a flood of sends to the hanging sink"
erl_run -- sched "$hang"
load after_sched
say "3/6 CPU per delivered report: MongooseIM's path vs engine, $reports reports each"
for flags in "+sbwt none +sbwtdcpu none +sbwtdio none" ""; do
    tag=nobusywait; [ -z "$flags" ] && tag=default
    # shellcheck disable=SC2086
    erl_run $flags -- cpu mim "$fast" "$reports"
    # shellcheck disable=SC2086
    erl_run $flags -- cpu engine "$fast" "$reports" "$tmp/bodies.bin"
    sed -i "s/^RESULT cpu_\(mim\|engine\)_/RESULT cpu_${tag}_\1_/" "$raw"
done
load after_cpu
say "4/6 floor: the same bodies from a bare Rust client on the same runtime"
"$target/release/examples/bench_floor" \
    "$fast?measurement_id=G-BENCH00001&api_secret=bench-secret" "$tmp/bodies.bin" "$reports" \
    >"$tmp/floor.out" 2>>"$log" || { cat "$tmp/floor.out" >&2; echo "bench: floor failed" >&2; exit 1; }
cat "$tmp/floor.out" >>"$log"
sed -e 's/^/RESULT /' -e 's/ of [0-9]*$//' "$tmp/floor.out" >>"$raw"
load after_floor
say "5/6 RSS over $cycles build+send cycles, 5,000 sends in flight"
erl_run -- rss "$fast" "$hang" "$cycles" "$hang_port"
load after_rss
if [ "$criterion" = "1" ]; then
    say "6/6 cargo bench (criterion): build, validate, plan, encode"
    cargo bench --locked -p mongoose_system_metrics_engine --bench engine -- \
        --output-format bencher 2>>"$log" | tee -a "$log" \
        | awk '/^test / { gsub(",", "", $5); print "RESULT criterion_" $2 "_ns " $5 }' >>"$raw"
    load after_criterion
else
    say "6/6 cargo bench skipped (MSM_BENCH_CRITERION=0)"
fi

erl -noshell -pa "$ebin" -run msm_bench main summary "$raw"
say "raw results: $raw, log: $log"
