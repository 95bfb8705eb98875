#!/bin/sh
# The test command (`make test`): format and lint checks, every Rust test (engine and preview
# crates, the NIF crate's structure test) and every Common Test suite on the real NIF. Skipped
# cases (Rust `ignored', Common Test skips) are listed by name; with CI=true (as CI runs it)
# each skip counts as a failure. Ends with one line "N passed, N failed[, N skipped]" counting
# Rust and Common Test cases; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
sh scripts/ensure_deps.sh || exit 1

log_dir=_build/test-logs
mkdir -p "$log_dir"
passed=0
failed=0
skipped=0
problems=""

step() {
    name=$1
    shift
    echo "==> $name"
    if "$@" >"$log_dir/$name.log" 2>&1; then
        return 0
    fi
    tail -n 60 "$log_dir/$name.log"
    problems="$problems $name"
    return 1
}

step cargo-fmt cargo fmt --all -- --check
step cargo-clippy cargo clippy --release --workspace --all-targets --locked -- -D warnings

# Tests run in release mode so they share compiled dependencies with the NIF's build.
echo "==> cargo-test"
# The engine's tests, the NIF crate's structure test (it reads the sources; the NIF crate's
# library cannot be linked outside the VM), and the preview's (it builds msm-preview, which
# the preview suite then runs).
{ cargo test --release --locked -p mongoose_system_metrics_engine &&
  cargo test --release --locked -p mongoose_system_metrics_nif --test schedulers &&
  cargo test --release --locked -p mongoose_system_metrics_preview; } \
    >"$log_dir/cargo-test.log" 2>&1
cargo_status=$?
grep -E "^test result:" "$log_dir/cargo-test.log"
eval "$(awk '/^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i+1) ~ /^passed/) p += $i;
            if ($(i+1) ~ /^failed/) f += $i;
            if ($(i+1) ~ /^ignored/) s += $i;
        }
    } END { printf "cp=%d cf=%d cs=%d\n", p, f, s }' "$log_dir/cargo-test.log")"
passed=$((passed + cp)); failed=$((failed + cf)); skipped=$((skipped + cs))
if [ "$cargo_status" -ne 0 ] && [ "$cf" -eq 0 ]; then
    tail -n 60 "$log_dir/cargo-test.log"
    problems="$problems cargo-test"
fi
grep -E "^test .* FAILED$" "$log_dir/cargo-test.log" || true
rust_skipped=$(grep -E '^test .* \.\.\. ignored' "$log_dir/cargo-test.log" \
                   | sed 's/^test \(.*\) \.\.\. ignored.*$/\1/')

step rebar3-compile rebar3 compile
step rebar3-xref rebar3 xref
step rebar3-dialyzer rebar3 dialyzer

echo "==> rebar3-ct"
rebar3 ct >"$log_dir/rebar3-ct.log" 2>&1
ct_status=$?
sed 's/\x1b\[[0-9;]*m//g' "$log_dir/rebar3-ct.log" >"$log_dir/rebar3-ct.txt"
grep -aE "FAILED|SKIPPED|auto_skipped|Failed|Passed|passed|Skipped" "$log_dir/rebar3-ct.txt" | tail -n 40
eval "$(awk '
    /^All [0-9]+ tests passed/ { p = $2 }
    /^Failed [0-9]+ tests?\. Passed [0-9]+ tests?\./ { f = $2; p = $5 }
    /Skipped [0-9]+ \(/ { for (i = 1; i <= NF; i++) if ($i == "Skipped") s = $(i+1) }
    /^Passed [0-9]+ tests?\./ { p = $2 }
    END { printf "tp=%d tf=%d ts=%d\n", p, f, s }' "$log_dir/rebar3-ct.txt")"
passed=$((passed + tp)); failed=$((failed + tf)); skipped=$((skipped + ts))
# A suite that cannot be compiled or loaded runs no case: one failure each.
suite_errors=$(grep -ac "==> error_in_suite: FAILED" "$log_dir/rebar3-ct.txt")
failed=$((failed + suite_errors))
if [ "$ct_status" -ne 0 ] && [ "$tf" -eq 0 ] && [ "$suite_errors" -eq 0 ]; then
    tail -n 60 "$log_dir/rebar3-ct.txt"
    problems="$problems rebar3-ct"
fi
# A real MongooseIM built here, as released and adopted (`make mongooseim-e2e`): when
# MSM_E2E=1, as CI runs it. Each of its checks counts as a case.
if [ "${MSM_E2E:-0}" = "1" ]; then
    echo "==> mongooseim-e2e"
    sh scripts/mongooseim-e2e.sh >"$log_dir/mongooseim-e2e.log" 2>&1
    e2e_status=$?
    grep -aE "^FAIL" "$log_dir/mongooseim-e2e.log" || true
    eval "$(awk '/^[0-9]+ passed, [0-9]+ failed$/ { printf "ep=%d ef=%d\n", $1, $3 }
                 END { if (!NR) print "ep=0 ef=0" }' "$log_dir/mongooseim-e2e.log")"
    tail -n 1 "$log_dir/mongooseim-e2e.log"
    passed=$((passed + ${ep:-0})); failed=$((failed + ${ef:-0}))
    if [ "$e2e_status" -ne 0 ] && [ "${ef:-0}" -eq 0 ]; then
        tail -n 40 "$log_dir/mongooseim-e2e.log"
        problems="$problems mongooseim-e2e"
    fi
fi

# Skipped Common Test cases by name, with their reason, from this run's suite logs.
ct_skipped=""
last_run=$(readlink -f _build/test/logs/last 2>/dev/null || true)
if [ -n "$last_run" ] && [ -d "$last_run" ]; then
    ct_skipped=$(find "$last_run" -name suite.log -exec awk '
        /^=case/ { c = $2 }
        /^=result/ {
            r = $0; sub(/^=result[ \t]+/, "", r)
            if (r ~ /^(skipped|auto_skipped|user_skipped)/ && c !~ /:(init|end)_per_/)
                print c ": " substr(r, 1, 160)
        }' {} + | sort)
fi

# Every skip by name; under CI a skip is a failure (nothing may go untested there).
if [ -n "$rust_skipped$ct_skipped" ]; then
    echo "Skipped:"
    [ -n "$rust_skipped" ] && printf '%s\n' "$rust_skipped" | sed 's/^/  rust: /'
    # The same case in several groups once, with how many times.
    [ -n "$ct_skipped" ] && printf '%s\n' "$ct_skipped" | uniq -c \
        | sed 's/^ *\([0-9]*\) \(.*\)$/  ct: \2 (x\1)/; s/ (x1)$//'
fi
named=$(printf '%s\n%s\n' "$rust_skipped" "$ct_skipped" | grep -c .)
[ "$named" -gt "$skipped" ] && skipped=$named
if [ "${CI:-}" = "true" ] && [ "$skipped" -ne 0 ]; then
    echo "CI=true: the $skipped skipped cases count as failures"
    failed=$((failed + skipped))
    skipped=0
fi

status=0
if [ -n "$problems" ] || [ "$failed" -ne 0 ]; then
    status=1
    [ -n "$problems" ] && echo "Steps that failed (logs in $log_dir):$problems"
    # A failing step that is not a test case still counts as one failure.
    for _ in $problems; do failed=$((failed + 1)); done
fi
if [ "$skipped" -ne 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
exit $status
