#!/bin/sh
# The main job (`make demo`): builds everything, then sends one real report from a VM running
# service_mongoose_system_metrics to an embedded GA4-compatible collector on 127.0.0.1 and
# prints what was sent, what was received and accepted, and where the report file is.
set -eu
cd "$(dirname "$0")/.."
rebar3 compile
mkdir -p _build/demo/ebin
erlc -o _build/demo/ebin test/support/ga4_stub_server.erl demo/msm_demo.erl
# Environment kill switches would (rightly) stop the demo's service: say so instead.
for var in MONGOOSEIM_SYSTEM_METRICS DO_NOT_TRACK; do
    eval "val=\${$var:-}"
    if [ -n "$val" ] && [ "$val" != "0" ]; then
        echo "note: $var=$val is set; the demo clears it for its own VM only" >&2
    fi
done
exec env -u MONGOOSEIM_SYSTEM_METRICS -u DO_NOT_TRACK \
    erl -noshell -pa _build/default/lib/mongoose_system_metrics/ebin -pa _build/demo/ebin \
    -kernel logger_level notice -run msm_demo main
