#!/bin/sh
# Builds the NIF library with cargo and puts it in priv/. Called by rebar3's compile hook
# from the application's directory. Set MSM_SKIP_NIF=1 to build the Erlang side only.
set -eu
cd "$(dirname "$0")/.."
lib=libmongoose_system_metrics_nif.so
if [ "${MSM_SKIP_NIF:-0}" = "1" ]; then
    echo "mongoose_system_metrics: MSM_SKIP_NIF=1, not building the NIF" >&2
    exit 0
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "mongoose_system_metrics: cargo not found (Rust >= 1.91 is needed to build the NIF; MSM_SKIP_NIF=1 builds without it)" >&2
    exit 1
fi
cargo build --release --locked -p mongoose_system_metrics_nif
target="${CARGO_TARGET_DIR:-target}"
mkdir -p priv
# Delete first, then copy under a temporary name and rename: a running VM that has the old
# library mapped keeps its inode, and no reader ever sees a half-written file.
rm -f "priv/$lib"
cp "$target/release/$lib" "priv/$lib.tmp"
mv "priv/$lib.tmp" "priv/$lib"
