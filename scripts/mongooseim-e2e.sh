#!/bin/sh
# `make mongooseim-e2e`: this project as a plugin of a real MongooseIM 6.2.1, built here.
#
# 1. Builds MongooseIM 6.2.1 as released with the offline kit's build.sh (in
#    _build/mongooseim-e2e/src) and keeps a copy of its release (rel/vanilla).
# 2. Adopts that same tree with scripts/adopt-in-mongooseim, with this checkout as the
#    dependency (a copy in the tree's _checkouts/, which rebar3 builds instead of fetching
#    the git dependency the script adds; the compile hook builds the NIF into its priv/),
#    rebuilds MongooseIM clean (its build directory would otherwise keep the four removed
#    modules) and keeps the release (rel/adopted) and a copy without the .so
#    (rel/adopted-without-nif).
# 3. Runs e2e/msm_e2e.erl on a hidden node: it boots the releases one at a time and checks
#    them against a loopback GA4-compatible collector; one line per check, then
#    "N passed, N failed". Exit status 0 only when every check passed.
#
# MongooseIM's build is cached: it is redone only when build.sh or its tarballs change
# (delete _build/mongooseim-e2e to start from scratch). The adopted release is rebuilt on
# every run, from this checkout as it is (uncommitted changes included).
# Where the kit is: $MSM_MONGOOSEIM_RELEASE, else ../shared/mongooseim-release beside this
# checkout, else /work/shared/mongooseim-release.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/_build/mongooseim-e2e"
started=$(date +%s)

kit=""
for d in "${MSM_MONGOOSEIM_RELEASE:-}" "$root/../shared/mongooseim-release" \
         /work/shared/mongooseim-release; do
    if [ -n "$d" ] && [ -f "$d/build.sh" ]; then kit=$(cd "$d" && pwd); break; fi
done
if [ -z "$kit" ]; then
    echo "mongooseim-e2e: MongooseIM's offline kit (build.sh and its tarballs) not found;" \
         "set MSM_MONGOOSEIM_RELEASE" >&2
    exit 1
fi

tree="$work/src/MongooseIM"
vanilla="$work/rel/vanilla"
adopted="$work/rel/adopted"
without_nif="$work/rel/adopted-without-nif"
logs="$work/logs"
mkdir -p "$logs" "$work/rel" "$work/tmp"

# A node left running by an interrupted run is stopped (only the one this run started:
# the driver writes its release and OS pid to this file while it runs).
running="$work/running"
stop_left_running() {
    if [ -f "$running" ]; then
        read -r rel pid < "$running" || true
        if [ -n "${pid:-}" ] && [ -d "/proc/$pid" ]; then "$rel/bin/mongooseim" stop >/dev/null 2>&1; fi
        rm -f "$running"
    fi
}
trap 'stop_left_running; exit 130' INT TERM

echo "==> MongooseIM 6.2.1 as released (kit: $kit)"
stamp=$( { sha256sum "$kit/build.sh"; stat -c '%n %s %Y' "$kit"/*.tar.gz; } | sha256sum | cut -c1-16)
if [ -f "$work/vanilla.stamp" ] && [ "$(cat "$work/vanilla.stamp")" = "$stamp" ] \
   && [ -x "$vanilla/bin/mongooseim" ] && [ -f "$tree/configure.out" ]; then
    build_vanilla="ok:cached in _build/mongooseim-e2e (build.sh and its tarballs unchanged)"
else
    rm -rf "$work/src" "$vanilla" "$adopted" "$without_nif" "$work/vanilla.stamp"
    t0=$(date +%s)
    if bash "$kit/build.sh" "$work/src" > "$logs/build-vanilla.log" 2>&1 \
       && cp -a "$tree/_build/prod/rel/mongooseim" "$vanilla"; then
        echo "$stamp" > "$work/vanilla.stamp"
        build_vanilla="ok:build.sh in $(( $(date +%s) - t0 )) s"
    else
        tail -n 30 "$logs/build-vanilla.log"
        build_vanilla="fail:build.sh failed; see $logs/build-vanilla.log"
    fi
fi
echo "    $build_vanilla"

# The adopted tree: steps of README.md, "Using it in MongooseIM", made by the script.
adopt_and_build() {
    set -e
    cd "$tree"
    escript "$root/scripts/adopt-in-mongooseim" .
    rm -rf _checkouts/mongoose_system_metrics
    mkdir -p _checkouts/mongoose_system_metrics
    # This checkout without its build outputs; modification times kept, so that cargo's
    # own cache (a target directory of this run's) only rebuilds what changed.
    tar -C "$root" --exclude=./.git --exclude=./_build --exclude=./target \
        --exclude='./priv/*.so' --exclude=./logs --exclude=./test/host/_build \
        --exclude='*.beam' -cf - . | tar -C _checkouts/mongoose_system_metrics -xf -
    for m in service_mongoose_system_metrics mongoose_system_metrics_collector \
             mongoose_system_metrics_sender mongoose_system_metrics_file; do
        if [ -e "_build/prod/lib/mongooseim/ebin/$m.beam" ]; then
            echo "MongooseIM's build directory has $m.beam: rebuilding MongooseIM clean"
            rm -rf _build/prod/lib/mongooseim
            break
        fi
    done
    rm -rf _build/prod/checkouts/mongoose_system_metrics _build/prod/rel
    # As build.sh builds it; the NIF is built whatever the environment says.
    unset MSM_SKIP_NIF
    # The checkout's own target directory: its compiled dependencies are reused.
    export SYSTEM_RE2=1 REBAR_OFFLINE=1 CARGO_TARGET_DIR="$root/target"
    . ./configure.out
    ./rebar3 as prod release
    cp -a _build/prod/rel/mongooseim "$adopted"
    cp -a "$adopted" "$without_nif"
    rm "$without_nif"/lib/mongoose_system_metrics-*/priv/libmongoose_system_metrics_nif.so
}

echo "==> MongooseIM 6.2.1 adopted, with this checkout as the dependency"
case "$build_vanilla" in
    ok:*)
        rm -rf "$adopted" "$without_nif"
        t0=$(date +%s)
        # Not in an `if': errexit would not apply inside.
        (adopt_and_build) > "$logs/build-adopted.log" 2>&1
        if [ $? -eq 0 ]; then
            build_adopted="ok:adopted and built in $(( $(date +%s) - t0 )) s"
        else
            tail -n 30 "$logs/build-adopted.log"
            build_adopted="fail:see $logs/build-adopted.log"
        fi
        ;;
    *)
        build_adopted="fail:not built, MongooseIM's own build failed"
        ;;
esac
echo "    $build_adopted"

echo "==> The driver (e2e/*.erl, test/support/ga4_stub_server.erl)"
mkdir -p "$work/ebin"
erlc -o "$work/ebin" e2e/*.erl test/support/ga4_stub_server.erl || exit 1

# The nodes inherit this environment: the kill switches would silence only this project's
# service, and a proxy could take the reports off this machine.
for var in MONGOOSEIM_SYSTEM_METRICS DO_NOT_TRACK http_proxy HTTP_PROXY https_proxy \
           HTTPS_PROXY all_proxy ALL_PROXY; do
    eval "val=\${$var:-}"
    if [ -n "$val" ]; then
        echo "note: $var is set; this run clears it for the MongooseIM nodes it starts" >&2
    fi
done
env -u MONGOOSEIM_SYSTEM_METRICS -u DO_NOT_TRACK -u http_proxy -u HTTP_PROXY \
    -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
    NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
    MSM_E2E_ROOT="$root" MSM_E2E_TOML="$root/e2e/mongooseim.toml" \
    MSM_E2E_RESULTS="$work/results" MSM_E2E_TMP="$work/tmp" MSM_E2E_RUNNING="$running" \
    MSM_E2E_STARTED="$started" \
    MSM_E2E_BUILD_VANILLA="$build_vanilla" MSM_E2E_BUILD_ADOPTED="$build_adopted" \
    MSM_E2E_VANILLA="$vanilla" MSM_E2E_ADOPTED="$adopted" MSM_E2E_NO_NIF="$without_nif" \
    erl -noshell -sname "msm_e2e_$$@localhost" -setcookie mongooseim -hidden \
        -pa "$work/ebin" -run msm_e2e main
status=$?
stop_left_running
exit $status
