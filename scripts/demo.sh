#!/bin/sh
# The main job (`make demo'): builds everything, previews the sample configuration
# demo/mongooseim.toml (what a MongooseIM node running it would send), then makes a VM a
# stand-in node running that configuration and sends one real report from
# service_mongoose_system_metrics to an embedded GA4-compatible collector on 127.0.0.1: it
# shows the same events arriving, a validation round trip, the report file and the status.
# The stand-in node holds the facts the preview read (--node-config): the demo shows the way
# from those facts to the collector; test/preview_mongooseim_SUITE.erl checks the reading of
# the file against MongooseIM's own code.
set -eu
cd "$(dirname "$0")/.."
sample=demo/mongooseim.toml
# The last release whose c2s listeners name a TLS module: every event kind is in its reports.
release=6.3.3
rebar3 compile
demo=_build/demo
mkdir -p "$demo/ebin"
echo
echo "== Preview: scripts/msm preview --config $sample --mongooseim-version $release =="
sh scripts/msm preview --config "$sample" --mongooseim-version "$release"
sh scripts/msm preview --config "$sample" --mongooseim-version "$release" --json >"$demo/preview.json"
sh scripts/msm preview --config "$sample" --mongooseim-version "$release" --node-config \
    >"$demo/node_config.json"
# The stand-in node: the stand-ins of MongooseIM's modules (test/mim_standins) and what sets
# them up from the node configuration (test/support).
erlc -o "$demo/ebin" test/mim_standins/*.erl test/support/ga4_stub_server.erl \
    test/support/msm_node_config.erl test/support/msm_mim_fixture.erl \
    test/support/msm_mim_sources.erl test/support/msm_test_helper.erl demo/msm_demo.erl
# Environment kill switches would (rightly) stop the demo's service: say so instead.
for var in MONGOOSEIM_SYSTEM_METRICS DO_NOT_TRACK; do
    eval "val=\${$var:-}"
    if [ -n "$val" ] && [ "$val" != "0" ]; then
        echo "note: $var=$val is set; the demo clears it for its own VM only" >&2
    fi
done
exec env -u MONGOOSEIM_SYSTEM_METRICS -u DO_NOT_TRACK \
    erl -noshell -pa _build/default/lib/mongoose_system_metrics/ebin -pa "$demo/ebin" \
    -kernel logger_level notice \
    -run msm_demo main "$demo/preview.json" "$demo/node_config.json" "$sample"
