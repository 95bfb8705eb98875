#!/bin/sh
# The mutation check (`make mutants`): a fixed list of small deliberate breaks (mutants), each
# an exact text replacement in one file, applied one at a time to a scratch copy of the
# working tree (_build/mutants/tree: the files git does not ignore, uncommitted changes
# included); for each, only the suites relevant to it run, in the order listed, until one
# fails. A mutant some test notices is KILLED; one every listed suite passes with is
# SURVIVED; one whose text is not found once, or that does not compile, is BROKEN (the list
# needs updating). Ends with "N killed, N survived[, N broken]" and exits non-zero unless
# every mutant is killed.
#
#   sh scripts/mutants.sh            every mutant (a baseline run of the suites first)
#   sh scripts/mutants.sh NAME...    only these (e.g. after fixing a test)
#   sh scripts/mutants.sh --list     the names, the file each breaks and its suites
#   sh scripts/mutants.sh --check    whether each mutant's text is found once (nothing run)
#
# MUTANTS_BASELINE=0 skips the baseline (every suite the list names, once, unmutated: a
# suite that already fails would make every mutant look killed).
#
# Compiled artifacts are reused: the scratch copy keeps its own cargo target and rebar3
# _build (copied from this checkout's the first time), so each mutant rebuilds only what it
# touched. Suites name: rust:TEST (an engine integration test), rust:lib (the engine's unit
# tests), rust:nif-schedulers (the NIF crate's structure test), ct:SUITE[/GROUP[/CASE]]
# (a group as Common Test reads it: an atom such as '6.8.0' in quotes).
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
base=$root/_build/mutants
tree=$base/tree
logs=$base/logs
result_file=$base/last-result.txt
per_test_timeout=1500

# ---------------------------------------------------------------------------------------------
# The list: m NAME FILE OLD NEW SUITES. OLD must occur exactly once in FILE. Each promise of
# the README's "What is sent" and of RELIABILITY.md has at least one mutant; the first four
# are regressions that once passed every relevant suite.
# ---------------------------------------------------------------------------------------------
mutants() {
    # -- Regressions that once went unnoticed ------------------------------------------------
    m service_ignores_max_retries erlang/src/mongoose_system_metrics_report.erl \
      '{max_retries, maps:get(max_retries, Opts, undefined)}' \
      '{max_retries, maps:get(max_retry, Opts, undefined)}' \
      'ct:service_mongoose_system_metrics_SUITE'
    m report_file_holds_first_event_only erlang/src/mongoose_system_metrics_report.erl \
      'file => mongoose_system_metrics_file:save(Events),' \
      'file => mongoose_system_metrics_file:save(lists:sublist(Events, 1)),' \
      'ct:service_mongoose_system_metrics_SUITE ct:mongooseim_acceptance_SUITE'
    m secrets_in_failure_log_metadata erlang/src/service_mongoose_system_metrics.erl \
      '    case mongoose_system_metrics_report:outcome(Outcome, H0) of' \
      '    logger:update_process_metadata(#{tracking_ids => S0#state.tracking_ids}),
    case mongoose_system_metrics_report:outcome(Outcome, H0) of' \
      'ct:service_mongoose_system_metrics_SUITE ct:reliability_privacy_SUITE'
    m send_check_takes_any_param_valued_custom native/engine/src/report/privacy.rs \
      '                .try_for_each(|(k, v)| match (option_spec(module, k), v) {' \
      '                .try_for_each(|(k, v)| match (option_spec(module, k), v) {
                    (_, ParamValue::Str(s)) if s == CUSTOM => Ok(()),' \
      'rust:send_check ct:mongoose_system_metrics_nif_SUITE'

    # -- Configuration: options change what is sent ------------------------------------------
    m service_ignores_timeout erlang/src/mongoose_system_metrics_report.erl \
      '{timeout_ms, maps:get(timeout, Opts, undefined)}' \
      '{timeout_ms, maps:get(timeouts, Opts, undefined)}' \
      'ct:service_mongoose_system_metrics_SUITE'
    m validate_option_ignored erlang/src/service_mongoose_system_metrics.erl \
      'mode => case maps:get(validate, Opts, false) of true -> validate; false -> collect end}' \
      'mode => collect}' \
      'ct:service_mongoose_system_metrics_SUITE'
    m endpoint_url_not_first erlang/src/mongoose_system_metrics_options.erl \
      'endpoint(#{url := Url}) ->
    to_bin(Url);' \
      'endpoint(#{url := _} = Opts) ->
    endpoint(maps:remove(url, Opts));' \
      'ct:service_mongoose_system_metrics_SUITE'
    m configured_id_does_not_replace_builtin erlang/src/mongoose_system_metrics_options.erl \
      '    [T || #{id := Id} = T <- Builtin, not lists:member(Id, [I || #{id := I} <- Configured])]' \
      '    Builtin' \
      'ct:service_mongoose_system_metrics_SUITE'
    m consent_notice_despite_report_true erlang/src/mongoose_system_metrics_options.erl \
      'log_consent(#{report := _}) ->' \
      'log_consent(#{report := never}) ->' \
      'ct:service_mongoose_system_metrics_SUITE'

    # -- Kill switches ------------------------------------------------------------------------
    m report_false_ignored erlang/src/mongoose_system_metrics_options.erl \
      'kill_switch(#{report := false}) -> report_false;' \
      'kill_switch(#{report := never}) -> report_false;' \
      'ct:service_mongoose_system_metrics_SUITE'
    m env_switch_zero_not_off erlang/src/mongoose_system_metrics_options.erl \
      '["off", "0", "false"]' '["off", "false"]' \
      'ct:service_mongoose_system_metrics_SUITE'
    m do_not_track_zero_is_set erlang/src/mongoose_system_metrics_options.erl \
      '[false, "", "0"]' '[false, ""]' \
      'ct:service_mongoose_system_metrics_SUITE'
    m env_switch_not_read_at_each_tick erlang/src/service_mongoose_system_metrics.erl \
      '    case mongoose_system_metrics_options:env_kill_switch() of
        none ->' \
      '    case S#state.kill_switch of
        none ->' \
      'ct:service_mongoose_system_metrics_SUITE'

    # -- Schedule, one report at a time, stop ----------------------------------------------------
    m schedule_drifts erlang/src/mongoose_system_metrics_schedule.erl \
      'Next = case Base + Period of' 'Next = case Now + Period of' \
      'ct:service_mongoose_system_metrics_SUITE'
    m jitter_up_to_20_percent erlang/src/mongoose_system_metrics_schedule.erl \
      'rand:uniform(Period div 10 + 1) - 1' 'rand:uniform(Period div 5 + 1) - 1' \
      'ct:service_mongoose_system_metrics_SUITE'
    m restart_ignores_last_success erlang/src/mongoose_system_metrics_schedule.erl \
      '_ -> max(Initial, min(Period, LastSuccess + Period - Now))' '_ -> Initial' \
      'ct:service_mongoose_system_metrics_SUITE'
    m periodic_zero_keeps_reporting erlang/src/mongoose_system_metrics_schedule.erl \
      'next(#{periodic_report := 0}, _Base, _Now) ->
    none;' \
      'next(#{periodic_report := 0}, Base, Now) ->
    {max(Base, Now) + 100, 0};' \
      'ct:service_mongoose_system_metrics_SUITE'
    m two_reports_in_flight erlang/src/service_mongoose_system_metrics.erl \
      'tick(#state{job = #job{}} = S) ->' 'tick(#state{job = #job{pid = none}} = S) ->' \
      'ct:service_mongoose_system_metrics_SUITE'
    m stop_leaves_send_in_flight erlang/src/mongoose_system_metrics_report.erl \
      '_ -> _ = mongoose_system_metrics_nif:cancel(Ref), ok' '_ -> ok' \
      'ct:service_mongoose_system_metrics_SUITE ct:reliability_cancel_SUITE'
    m failure_logged_at_every_report erlang/src/mongoose_system_metrics_report.erl \
      '    case maps:is_key(Kind, Failing) of
        true -> ok;' \
      '    case maps:is_key(Kind, Failing) of
        true -> ?LOG_WARNING(#{what => What, reason => Reason, text => Text});' \
      'ct:service_mongoose_system_metrics_SUITE'

    # -- What is sent: the events of the node ----------------------------------------------------
    m host_count_one_short erlang/src/mongoose_system_metrics_collector.erl \
      '{ok, HostTypes} -> {ok, length(HostTypes)};' \
      '{ok, HostTypes} -> {ok, length(HostTypes) - 1};' \
      'ct:mongoose_system_metrics_collector_SUITE ct:service_mongoose_system_metrics_SUITE ct:mongooseim_acceptance_SUITE'
    m modules_of_first_host_type_only erlang/src/mongoose_system_metrics_collector.erl \
      'Entries = [module_entry(M, Kind, HT) || HT <- HostTypes,' \
      'Entries = [module_entry(M, Kind, HT) || HT <- lists:sublist(HostTypes, 1),' \
      'ct:mongoose_system_metrics_collector_SUITE ct:mongooseim_acceptance_SUITE ct:service_mongoose_system_metrics_SUITE'
    m module_options_keep_first_pusher erlang/src/mongoose_system_metrics_collector.erl \
      '({Key, Value}, Acc) when is_atom(Key) -> Acc#{Key => opt_value(Value)};' \
      '({Key, Value}, Acc) when is_atom(Key) -> maps:merge(#{Key => opt_value(Value)}, Acc);' \
      'ct:mongoose_system_metrics_collector_SUITE ct:mongooseim_acceptance_SUITE ct:service_mongoose_system_metrics_SUITE'
    m bare_modules_get_a_backend erlang/src/mongoose_system_metrics_collector.erl \
      '0 -> {#{module => Module}, Result};' \
      '0 -> {#{module => Module, opts => #{backend => mnesia}}, Result};' \
      'ct:mongoose_system_metrics_collector_SUITE ct:mongooseim_acceptance_SUITE ct:service_mongoose_system_metrics_SUITE'
    m component_count_one_more erlang/src/mongoose_system_metrics_collector.erl \
      '    mongoose_system_metrics_mim:component_count(Module).' \
      '    case mongoose_system_metrics_mim:component_count(Module) of
        {ok, N} -> {ok, N + 1};
        Other -> Other
    end.' \
      'ct:mongoose_system_metrics_collector_SUITE ct:mongooseim_acceptance_SUITE ct:service_mongoose_system_metrics_SUITE'
    m node_number_one_short erlang/src/mongoose_system_metrics_collector.erl \
      '{ok, length(nodes()) + 1}.' '{ok, length(nodes())}.' \
      'ct:mongoose_system_metrics_collector_SUITE ct:service_mongoose_system_metrics_SUITE'
    m toml_config_reported_as_cfg erlang/src/mongoose_system_metrics_collector.erl \
      '".toml" -> toml;' '".toml" -> cfg;' \
      'ct:mongoose_system_metrics_collector_SUITE ct:service_mongoose_system_metrics_SUITE'
    m increments_from_last_successful_report_only erlang/src/service_mongoose_system_metrics.erl \
      '        {undefined, H} -> S#state{health = H};' \
      '        {undefined, H} -> S#state{health = H, prev_counts = S0#state.prev_counts};' \
      "ct:mongooseim_diff_SUITE/'6.8.0'/report_after_a_failed_send"
    m domain_count_one_more native/engine/src/report/build.rs \
      'events.push(Event::new("domain_count", [("value", n)]));' \
      'events.push(Event::new("domain_count", [("value", n + 1)]));' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m unknown_options_sent_as_host native/engine/src/report/build.rs \
      'let Some((name, allowed)) = privacy::option_spec(module, name) else {' \
      'let Some((name, allowed)) = privacy::option_spec(module, name).or(Some(("host", &["custom"][..]))) else {' \
      'rust:properties rust:engine_api ct:reliability_privacy_SUITE'
    m custom_modules_named native/engine/src/report/build.rs \
      '        let Some(module) = line.reported_module(entry.module) else {
            custom.push(entry.module);
            continue;
        };' \
      '        let module = line.reported_module(entry.module).unwrap_or("mod_custom");' \
      'rust:properties rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m custom_modules_counted_per_entry native/engine/src/report/build.rs \
      '    custom.dedup();' '' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m off_list_option_value_not_custom native/engine/src/report/privacy.rs \
      'find_in(allowed, value).unwrap_or(CUSTOM)' 'find_in(allowed, value).unwrap_or("mnesia")' \
      'rust:lib rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m version_not_sanitised native/engine/src/report/privacy.rs \
      '    release_part(version).to_string()' '    version.to_string()' \
      'rust:lib rust:properties ct:mongoose_system_metrics_nif_SUITE'
    m uptime_days_two_digits native/engine/src/report/privacy.rs \
      '"{:04}-{:02}:{:02}:{:02}",' '"{:02}-{:02}:{:02}:{:02}",' \
      'rust:lib ct:mongoose_system_metrics_nif_SUITE'
    m graphql_handler_not_reported native/engine/src/report/release.rs \
      'const HTTP_API_FROM_6_6: [&str; 3] = [
    "mongoose_bosh_handler",
    "mongoose_graphql_handler",
    "mongoose_websocket_handler",
];' \
      'const HTTP_API_FROM_6_6: [&str; 3] = [
    "mongoose_bosh_handler",
    "mongoose_admin_api",
    "mongoose_websocket_handler",
];' \
      'rust:engine_api rust:send_check ct:mongoose_system_metrics_nif_SUITE'
    m tcp_transport_not_reported native/engine/src/report/build.rs \
      'enabled_event("transport_mechanism", http.chain(c2s))' \
      'enabled_event("transport_mechanism", http.chain(c2s.take(0)))' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m tls_pairs_not_distinct native/engine/src/report/build.rs \
      '    pairs.dedup();' '' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m one_pool_only native/engine/src/report/build.rs \
      '            .filter_map(|p| find_in(POOL_TYPES, p))' \
      '            .filter_map(|p| find_in(POOL_TYPES, p))
            .take(1)' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m increment_is_the_total native/engine/src/report/build.rs \
      'Some(prev) if prev <= total => total - prev,' 'Some(prev) if prev <= total => total,' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m negative_increment_sent native/engine/src/report/build.rs \
      'Some(prev) if prev <= total => total - prev,' 'Some(prev) => total - prev,' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m more_than_25_events_per_request native/engine/src/wire/ga4.rs \
      'pub const MAX_EVENTS_PER_REQUEST: usize = 25;' \
      'pub const MAX_EVENTS_PER_REQUEST: usize = 26;' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'

    # -- Retries, timeouts, TLS, redirects (RELIABILITY.md: network faults) -------------------
    m one_attempt_too_many native/engine/src/delivery/retry.rs \
      '        1 + u64::from(self.max_retries)' '        2 + u64::from(self.max_retries)' \
      'rust:lib rust:sender ct:reliability_faults_SUITE'
    m client_errors_retried native/engine/src/delivery/retry.rs \
      '                500..=599 => (SendError::HttpStatus(status), retry_after),' \
      '                400..=599 => (SendError::HttpStatus(status), retry_after),' \
      'rust:lib rust:sender ct:reliability_faults_SUITE'
    m server_errors_not_retried native/engine/src/delivery/retry.rs \
      '                500..=599 => (SendError::HttpStatus(status), retry_after),' \
      '                501..=599 => (SendError::HttpStatus(status), retry_after),' \
      'rust:lib rust:sender ct:reliability_faults_SUITE'
    m retry_after_ignored native/engine/src/delivery/retry.rs \
      '            Some(wait) => Decision::RetryAfter(wait),' \
      '            Some(_) => Decision::RetryAfter(jitter.pick(self.backoff_ceiling(attempts_made.max(1)))),' \
      'rust:sender ct:reliability_faults_SUITE'
    m retry_after_cap_a_minute native/engine/src/delivery/retry.rs \
      'pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);' \
      'pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);' \
      'rust:lib ct:reliability_faults_SUITE'
    m redirects_followed native/engine/src/delivery/client.rs \
      '.redirect(reqwest::redirect::Policy::none())' \
      '.redirect(reqwest::redirect::Policy::limited(5))' \
      'rust:sender ct:reliability_faults_SUITE'
    m tls_not_verified native/engine/src/delivery/client.rs \
      '        .pool_max_idle_per_host(4)' \
      '        .pool_max_idle_per_host(4)
        .danger_accept_invalid_certs(true)' \
      'rust:sender ct:reliability_faults_SUITE'
    m timeout_not_per_attempt native/engine/src/delivery/sender.rs \
      'match tokio::time::timeout(shared.timeout, attempt_unlimited(client, request, shared)).await {' \
      'match tokio::time::timeout(shared.timeout * 100, attempt_unlimited(client, request, shared)).await {' \
      'rust:sender ct:reliability_faults_SUITE'
    m cacertfile_ignored native/engine/src/delivery/client.rs \
      '    if let Some(path) = cacertfile {' \
      '    if let Some(path) = cacertfile.filter(|_| false) {' \
      'rust:sender ct:reliability_faults_SUITE'
    m https_proxy_ignored native/engine/src/delivery/client.rs \
      '        .pool_max_idle_per_host(4)' \
      '        .pool_max_idle_per_host(4)
        .no_proxy()' \
      'ct:reliability_faults_SUITE/faults/https_proxy_from_env'
    m idle_connections_kept native/engine/src/delivery/client.rs \
      'pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);' \
      'pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(600);' \
      'ct:reliability_faults_SUITE'

    # -- Cancellation and overload ---------------------------------------------------------------
    m cancel_waits_out_the_backoff native/engine/src/delivery/sender.rs \
      '                Decision::RetryAfter(wait) => {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => {' \
      '                Decision::RetryAfter(wait) => {
                    tokio::select! {
                        biased;
                        _ = std::future::pending::<()>() => {' \
      'rust:sender ct:reliability_cancel_SUITE'
    m cancel_waits_for_the_answer native/engine/src/delivery/sender.rs \
      '            let answer = tokio::select! {
                biased;
                _ = cancel.cancelled() => {' \
      '            let answer = tokio::select! {
                biased;
                _ = std::future::pending::<()>() => {' \
      'rust:sender ct:mongoose_system_metrics_nif_SUITE'
    m one_send_more_than_the_bound native/engine/src/delivery/dispatch.rs \
      '(n < max).then_some(n + 1)' '(n <= max).then_some(n + 1)' \
      'rust:sender ct:mongoose_system_metrics_nif_SUITE'
    m all_tracking_ids_at_once native/engine/src/delivery/sender.rs \
      '.buffered(MAX_PARALLEL_TRACKING_IDS)' '.buffered(16)' \
      'rust:sender'
    m tracking_ids_one_at_a_time native/engine/src/delivery/sender.rs \
      '.buffered(MAX_PARALLEL_TRACKING_IDS)' '.buffered(1)' \
      'rust:sender'
    m seventeen_tracking_ids_taken native/engine/src/wire/options.rs \
      '    if items.len() > MAX_TRACKING_IDS {' '    if items.len() > MAX_TRACKING_IDS + 1 {' \
      'rust:lib rust:engine_api ct:mongoose_system_metrics_nif_SUITE'

    # -- Clients, secrets, endpoint text ----------------------------------------------------------
    m client_cache_drops_most_recent native/engine/src/delivery/client.rs \
      '.min_by_key(|(_, (_, used))| *used)' '.max_by_key(|(_, (_, used))| *used)' \
      'rust:sender'
    m failed_client_build_kept native/engine/src/delivery/client.rs \
      'if Arc::ptr_eq(kept, slot) && !kept.initialized() {' \
      'if Arc::ptr_eq(kept, slot) && !kept.initialized() && kept.initialized() {' \
      'rust:sender'
    m validation_messages_not_masked native/engine/src/delivery/validation.rs \
      '            out = out.replace(secret.as_str(), MASK);' \
      '            out = out.replace(secret.as_str(), secret.as_str());' \
      'rust:lib rust:sender'
    m secret_in_debug_output native/engine/src/wire/secret.rs \
      'impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'"'"'_>) -> fmt::Result {
        f.write_str(MASK)' \
      'impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'"'"'_>) -> fmt::Result {
        f.write_str(&self.0)' \
      'rust:lib rust:secrets'
    m secret_of_a_bad_builtin_id_logged erlang/src/mongoose_system_metrics_options.erl \
      'key => {mongoose_system_metrics, Key},' \
      'key => {mongoose_system_metrics, Key}, value => Value,' \
      'ct:reliability_privacy_SUITE'
    m job_exit_reason_keeps_its_terms erlang/src/mongoose_system_metrics_report.erl \
      'safe_reason(R) when is_tuple(R), tuple_size(R) > 0, is_atom(element(1, R)) ->
    {element(1, R), '"'"'...'"'"'};' \
      'safe_reason(R) when is_tuple(R), tuple_size(R) > 0, is_atom(element(1, R)) ->
    R;' \
      'ct:reliability_privacy_SUITE'

    # -- Hostile input, NIF --------------------------------------------------------------------------
    m list_limit_ten_times_higher native/engine/src/node/value.rs \
      'pub const NODE_INFO_LIMITS: Limits = Limits {
    list_items: 10_000,' 'pub const NODE_INFO_LIMITS: Limits = Limits {
    list_items: 100_000,' \
      'rust:engine_api ct:mongoose_system_metrics_nif_SUITE'
    m atom_made_from_input native/nif/src/encode.rs \
      'Atom::existing_from_utf8_bytes(env, k.as_bytes())' 'Atom::from_bytes(env, k.as_bytes())' \
      'ct:mongoose_system_metrics_nif_SUITE'
    m non_latin1_atom_not_read native/nif/src/decode.rs \
      'Err(_) => utf8_atom_name(term).map_or(Value::Other("atom"), Value::Atom),' \
      'Err(_) => Value::Other("atom"),' \
      'ct:mongoose_system_metrics_nif_SUITE'
    m a_nif_on_a_normal_scheduler native/nif/src/report.rs \
      '#[rustler::nif(schedule = "DirtyCpu")]
fn encode_json' \
      '#[rustler::nif]
fn encode_json' \
      'rust:nif-schedulers'
    m set_up_in_first_call native/nif/src/lib.rs \
      '    mongoose_system_metrics_engine::api::prepare();
    send::prepare();' \
      '    send::prepare();' \
      'rust:nif-schedulers'

    # -- Node life and files (RELIABILITY.md: lifecycle, files) ---------------------------------
    m report_file_written_in_place erlang/src/mongoose_system_metrics_file.erl \
      '            case file:write_file(Tmp, Data) of
                ok ->
                    case file:rename(Tmp, Path) of' \
      '            case file:write_file(Path, Data) of
                ok ->
                    case file:rename(Path, Path) of' \
      'ct:reliability_lifecycle_SUITE/files ct:mongoose_system_metrics_file_SUITE'
    m no_file_means_no_send erlang/src/mongoose_system_metrics_report.erl \
      '                    Outcome#{send => wait_sent(Ref)};' \
      '                    case Outcome of
                        #{file := ok} -> Outcome#{send => wait_sent(Ref)};
                        _ -> ok = mongoose_system_metrics_nif:cancel(Ref),
                             Outcome#{send => {error, no_file}}
                    end;' \
      'ct:reliability_lifecycle_SUITE/files'
    m refused_send_loses_the_file erlang/src/mongoose_system_metrics_report.erl \
      'build_only(Info, Collected#{client_id => ClientId, send => Err})' \
      'Collected#{client_id => ClientId, send => Err}' \
      'ct:service_mongoose_system_metrics_SUITE/reporting/refused_send_still_writes_the_file'
    m file_only_when_sent erlang/src/mongoose_system_metrics_report.erl \
      '{ok, Events} -> Outcome#{file => mongoose_system_metrics_file:save(Events)};' \
      '{ok, _Events} -> Outcome#{file => ok};' \
      'ct:service_mongoose_system_metrics_SUITE'
    m reports_without_the_engine erlang/src/service_mongoose_system_metrics.erl \
      'case {Switch, mongoose_system_metrics_nif:load_error()} of' \
      'case {Switch, none} of' \
      'ct:reliability_lifecycle_SUITE/lifecycle/missing_library_node_up_service_idle'
    m client_id_not_persisted erlang/src/mongoose_system_metrics_cluster.erl \
      '    _ = mongoose_system_metrics_file:write_client_id(Id),' '    _ = Id,' \
      'ct:service_mongoose_system_metrics_SUITE'
    m cluster_id_not_preferred erlang/src/mongoose_system_metrics_cluster.erl \
      '        {ok, Id} -> {ok, Id};
        unavailable when Known =/= undefined -> {ok, Known};' \
      '        {ok, _} when Known =/= undefined -> {ok, Known};
        {ok, _} -> local_or_shared_client_id();
        unavailable when Known =/= undefined -> {ok, Known};' \
      'ct:service_mongoose_system_metrics_SUITE'
    m every_node_reports_in_cluster_mode erlang/src/mongoose_system_metrics_cluster.erl \
      '        _ -> standby
    end;' \
      '        _ -> reporter
    end;' \
      'ct:mongooseim_acceptance_SUITE/cluster'
    m cluster_counts_not_summed erlang/src/mongoose_system_metrics_cluster.erl \
      '    Info#{stanza_counts => Sum};' '    Info#{stanza_counts => Own};' \
      'ct:mongooseim_acceptance_SUITE/cluster'
}

# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------

say() { printf '%s\n' "$*" | tee -a "$result_file"; }

# The scratch copy: every file git does not ignore, copied (with a new time) where it differs;
# files gone from the checkout removed; cargo target and rebar3 _build copied once.
prepare_tree() {
    mkdir -p "$tree" "$logs"
    git ls-files -z --cached --others --exclude-standard \
        | xargs -0 sh -c '
            for f; do
                [ -f "$f" ] || continue
                if ! cmp -s "$f" "$0/$f"; then
                    mkdir -p "$0/$(dirname "$f")" && cp "$f" "$0/$f"
                fi
            done' "$tree"
    for dir in erlang src test native scripts; do
        [ -d "$tree/$dir" ] || continue
        (cd "$tree" && find "$dir" -type f ! -path '*/_build/*') | while read -r f; do
            [ -e "$root/$f" ] || rm -f "$tree/$f"
        done
    done
    if [ ! -d "$tree/target" ] && [ -d target ]; then
        echo "copying target/ (once)"
        cp -a target "$tree/target"
    fi
    for d in test default mim_sources; do
        if [ ! -d "$tree/_build/$d" ] && [ -d "_build/$d" ]; then
            mkdir -p "$tree/_build" && cp -a "_build/$d" "$tree/_build/$d"
        fi
    done
    # The scratch copy's own priv/ (the NIF is built into it).
    mkdir -p "$tree/priv"
}

# Runs one suite spec in the scratch tree; its output goes to $2.
run_spec() {
    spec=$1
    out=$2
    case $spec in
        rust:lib)
            set -- cargo test --release --locked -p mongoose_system_metrics_engine --lib ;;
        rust:nif-schedulers)
            set -- cargo test --release --locked -p mongoose_system_metrics_nif --test schedulers ;;
        rust:*)
            set -- cargo test --release --locked -p mongoose_system_metrics_engine --test "${spec#rust:}" ;;
        ct:*)
            path=${spec#ct:}
            suite=${path%%/*}
            rest=${path#"$suite"}
            rest=${rest#/}
            group=${rest%%/*}
            case_=${rest#"$group"}
            case_=${case_#/}
            set -- rebar3 ct --suite "test/$suite"
            [ -n "$group" ] && set -- "$@" --group "$group"
            [ -n "$case_" ] && set -- "$@" --case "$case_"
            ;;
        *) echo "unknown suite spec $spec" >"$out"; return 2 ;;
    esac
    (cd "$tree" && timeout "$per_test_timeout" "$@") >"$out" 2>&1
}

# Puts the mutant in place (the original kept in $base/original), with a new time.
apply_mutant() {
    file=$1
    OLD=$2 NEW=$3 perl -0777 -ne '
        my ($o, $n) = ($ENV{OLD}, $ENV{NEW});
        my $count = () = /\Q$o\E/g;
        if ($count != 1) { print STDERR "found $count times\n"; exit 3 }
        s/\Q$o\E/$n/;
        print;' "$tree/$file" >"$tree/$file.mutant" || { rm -f "$tree/$file.mutant"; return 1; }
    cp -p "$tree/$file" "$base/original"
    mv "$tree/$file.mutant" "$tree/$file"
    touch "$tree/$file"
}

restore() {
    file=$1
    cp "$base/original" "$tree/$file"
    touch "$tree/$file"
}

# Builds what the mutant touched (so that "does not compile" is told apart from a test
# failure): the NIF for Rust sources, the module for Erlang ones.
build_mutant() {
    file=$1
    out=$2
    case $file in
        native/*)
            (cd "$tree" && cargo build --release --locked -p mongoose_system_metrics_nif) >"$out" 2>&1 ;;
        *.erl)
            mkdir -p "$base/erlc" && erlc -o "$base/erlc" -I "$tree/erlang/include" "$tree/$file" >"$out" 2>&1 ;;
        *) true ;;
    esac
}

killed=0
survived=0
broken=0
mode=run
names="$*"
case ${1:-} in
    --list) mode=list; names="" ;;
    --check) mode=check; names="" ;;
esac

m() {
    name=$1 file=$2 old=$3 new=$4 specs=$5
    if [ -n "$names" ]; then
        case " $names " in *" $name "*) ;; *) return 0 ;; esac
    fi
    case $mode in
        list) printf '%-42s %-50s %s\n' "$name" "$file" "$specs"; return 0 ;;
        specs) for s in $specs; do echo "$s"; done; return 0 ;;
        check)
            if OLD=$old perl -0777 -ne 'my $c = () = /\Q$ENV{OLD}\E/g; exit($c == 1 ? 0 : 1)' "$file"
            then killed=$((killed + 1))
            else echo "BROKEN   $name: the text to replace is not found once in $file"
                 broken=$((broken + 1))
            fi
            return 0 ;;
    esac
    started=$(date +%s)
    log=$logs/$name
    if ! apply_mutant "$file" "$old" "$new" 2>"$log.patch"; then
        say "BROKEN   $name: the text to replace is not found once in $file ($(cat "$log.patch"))"
        broken=$((broken + 1))
        return 0
    fi
    if ! build_mutant "$file" "$log.build"; then
        restore "$file"
        say "BROKEN   $name: does not compile (see $log.build)"
        broken=$((broken + 1))
        return 0
    fi
    verdict=SURVIVED
    by=""
    n=0
    for spec in $specs; do
        n=$((n + 1))
        run_spec "$spec" "$log.$n"
        status=$?
        [ "$status" -eq 0 ] && continue
        verdict=KILLED
        by="$spec"
        [ "$status" -eq 124 ] && by="$spec (timed out)"
        break
    done
    restore "$file"
    took=$(( $(date +%s) - started ))
    if [ "$verdict" = KILLED ]; then
        killed=$((killed + 1))
        say "KILLED   $name by $by (${took} s)"
    else
        survived=$((survived + 1))
        say "SURVIVED $name (ran: $specs; ${took} s)"
    fi
}

if [ "$mode" = list ]; then
    mutants
    exit 0
fi
if [ "$mode" = check ]; then
    mutants
    echo "$killed mutants apply, $broken do not"
    [ "$broken" -eq 0 ]
    exit
fi

all_started=$(date +%s)
mkdir -p "$base"
: >"$result_file"
dirty=""
git diff --quiet HEAD -- . || dirty=" with uncommitted changes"
say "mutation check, $(date -u '+%Y-%m-%d %H:%M UTC'), checkout $(git rev-parse --short HEAD)$dirty"
prepare_tree
echo "building the scratch copy (the first time: this project's crates and modules)"
(cd "$tree" && cargo build --release --locked -p mongoose_system_metrics_nif \
     && rebar3 as test compile) >"$logs/prepare.log" 2>&1 || {
    tail -n 40 "$logs/prepare.log"; echo "the scratch copy does not build"; exit 1; }

if [ "${MUTANTS_BASELINE:-1}" != 0 ]; then
    echo "baseline: every suite of the list, unmutated"
    for spec in $(mode=specs; mutants | sort -u); do
        if ! run_spec "$spec" "$logs/baseline.$(echo "$spec" | tr '/:' '__')"; then
            say "BASELINE FAILED: $spec fails without any mutant (log in $logs); fix that first"
            exit 1
        fi
        echo "  ok $spec"
    done
fi

mutants
took=$(( ($(date +%s) - all_started + 30) / 60 ))
if [ "$broken" -gt 0 ]; then
    say "$killed killed, $survived survived, $broken broken ($took min)"
else
    say "$killed killed, $survived survived ($took min)"
fi
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
