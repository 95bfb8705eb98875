%%% @doc service_mongoose_system_metrics: config spec, options, kill switches, consent,
%%% supervision, schedule, endpoint precedence, status, secrets, failures.
%%%
%%% MongooseIM cannot be built here: its modules are test stand-ins with MongooseIM 6.x's
%%% names and signatures (test/mim_standins: mongoose_config.erl, ejabberd_sup.erl, mongoose_service.erl,
%%% mongoose_cluster_id.erl, ...). Reports go to test/support/ga4_stub_server.erl on 127.0.0.1.
%%% Cases that send need the NIF (priv/); without it they are skipped.
-module(service_mongoose_system_metrics_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include("mongoose_system_metrics_config_spec.hrl").

-define(S, service_mongoose_system_metrics).
-define(SECRET, "Secr3tValue-never-shown").
-define(TID, #{id => "G-EXTRA1", secret => ?SECRET}).
-define(POLICY, "https://esl.github.io/MongooseDocs/latest/operation-and-maintenance/System-Metrics-Privacy-Policy/").

all() ->
    [{group, config_spec}, {group, lifecycle}, {group, reporting}].

groups() ->
    [{config_spec, [], [spec_is_mongooseim_section, toml_defaults, toml_sample_values,
                        toml_non_negative_integers, toml_periodic_report_zero_accepted,
                        toml_tracking_id_needs_both_keys, toml_added_options,
                        toml_rejects_bad_values, configured_id_replaces_builtin]},
     {lifecycle, [], [bad_options_are_rejected, report_false_is_silent_and_off,
                      env_switch_off_values, do_not_track_values, env_switch_beats_report_true,
                      consent_warning_once_when_report_unset, report_true_is_silent,
                      verify_if_configured, runs_under_own_supervisor,
                      runs_under_ejabberd_sup, status_reports_schedule_and_kill_switch,
                      restart_waits_for_last_success_plus_period,
                      secrets_masked_in_state_and_status]},
     {reporting, [], [first_report_then_fixed_rate_with_jitter, tick_skipped_while_busy,
                      stop_cancels_send_in_flight, endpoint_precedence, validate_option_and_now,
                      no_tracking_id_writes_file_only, predefined_and_configured_ids,
                      client_id_persisted_and_reused, cluster_id_is_preferred,
                      send_failures_logged_once_per_streak, secret_never_in_file_or_logs,
                      env_switch_at_runtime_stops_reports, preview_sends_nothing,
                      periodic_report_zero_initial_report_only]}].

init_per_suite(Config) ->
    {ok, _} = application:ensure_all_started(mongoose_system_metrics),
    Config.

end_per_suite(_Config) ->
    application:stop(mongoose_system_metrics).

init_per_group(reporting, Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            {ok, Stub} = ga4_stub_server:start(),
            [{stub, Stub} | Config];
        Skip -> Skip
    end;
init_per_group(_, Config) ->
    Config.

end_per_group(reporting, Config) ->
    ga4_stub_server:stop(?config(stub, Config));
end_per_group(_, _Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    msm_test_helper:clear_env(),
    msm_test_helper:set_mim_config(#{services => #{?S => #{}}}),
    Dir = msm_test_helper:report_dir(Config),
    msm_log_capture:start(),
    case ?config(stub, Config) of
        undefined -> ok;
        Stub ->
            ga4_stub_server:reset(Stub),
            ga4_stub_server:set_response(Stub, #{status => 204, delay => 0}),
            mongoose_config:set_opt(google_analytics_url, ga4_stub_server:url(Stub))
    end,
    [{dir, Dir} | Config].

end_per_testcase(_Case, _Config) ->
    msm_test_helper:stop_service(),
    msm_log_capture:stop(),
    case whereis(ejabberd_sup) of
        undefined -> ok;
        Pid -> unlink(Pid), exit(Pid, shutdown), timer:sleep(20)
    end,
    msm_test_helper:clear_env(),
    msm_test_helper:clear_mim_config().

%%--------------------------------------------------------------------
%% config_spec: a small model of MongooseIM's TOML processing (mongoose_config_parser_toml:
%% required keys, unknown keys, type conversion, validators, defaults, map formatting).
%%--------------------------------------------------------------------

spec_is_mongooseim_section(_) ->
    Spec = ?S:config_spec(),
    %% Same tuples as MongooseIM 6.x's records.
    ?assertEqual(10, tuple_size(Spec)),
    #section{items = Items, defaults = Defaults} = Spec,
    ?assertEqual(lists:sort([<<"initial_report">>, <<"periodic_report">>, <<"report">>,
                             <<"tracking_id">>, <<"url">>, <<"region">>, <<"validate">>,
                             <<"timeout">>, <<"max_retries">>, <<"cacertfile">>,
                             <<"cluster_report">>]), lists:sort(maps:keys(Items))),
    #{<<"initial_report">> := 300000, <<"periodic_report">> := 10800000} = Defaults,
    #section{required = all} = maps:get(<<"tracking_id">>, Items),
    [?assertEqual(5, tuple_size(O)) || O <- maps:values(Items), element(1, O) =:= option].

toml_defaults(_) ->
    ?assertEqual({ok, #{initial_report => 300000, periodic_report => 10800000,
                        cluster_report => false}}, toml(#{})),
    ?assertEqual({ok, mongoose_system_metrics_options:defaults()}, toml(#{})).

toml_sample_values(_) ->
    %% The example of MongooseIM's documentation.
    {ok, Opts} = toml(#{<<"initial_report">> => 300000, <<"periodic_report">> => 10800000,
                        <<"tracking_id">> => #{<<"id">> => <<"G-XXXX">>,
                                               <<"secret">> => <<"Secret">>}}),
    ?assertEqual(#{initial_report => 300000, periodic_report => 10800000, cluster_report => false,
                   tracking_id => #{id => "G-XXXX", secret => "Secret"}}, Opts),
    {ok, #{report := false}} = toml(#{<<"report">> => false}),
    {ok, #{report := true}} = toml(#{<<"report">> => true}).

toml_non_negative_integers(_) ->
    {ok, #{initial_report := 0}} = toml(#{<<"initial_report">> => 0}),
    {error, _} = toml(#{<<"initial_report">> => -1}),
    {error, _} = toml(#{<<"periodic_report">> => -5}),
    {error, _} = toml(#{<<"initial_report">> => <<"5 minutes">>}),
    {error, _} = toml(#{<<"max_retries">> => -1}),
    {ok, #{max_retries := 0}} = toml(#{<<"max_retries">> => 0}).

toml_periodic_report_zero_accepted(_) ->
    %% As MongooseIM accepts it: 0 means the initial report only.
    {ok, #{periodic_report := 0}} = toml(#{<<"periodic_report">> => 0}),
    {ok, #{periodic_report := 1}} = toml(#{<<"periodic_report">> => 1}).

toml_tracking_id_needs_both_keys(_) ->
    {error, {missing, _}} = toml(#{<<"tracking_id">> => #{<<"id">> => <<"G-1">>}}),
    {error, {missing, _}} = toml(#{<<"tracking_id">> => #{<<"secret">> => <<"s">>}}),
    {error, _} = toml(#{<<"tracking_id">> => #{<<"id">> => <<>>, <<"secret">> => <<"s">>}}),
    {error, _} = toml(#{<<"tracking_id">> => #{<<"id">> => <<"G-1">>, <<"secret">> => <<"s">>,
                                               <<"other">> => 1}}).

toml_added_options(Config) ->
    Ca = filename:join(?config(dir, Config), "ca.pem"),
    ok = file:write_file(Ca, <<"pem">>),
    {ok, Opts} = toml(#{<<"url">> => <<"http://127.0.0.1:1/mp/collect">>, <<"region">> => <<"eu">>,
                        <<"validate">> => true, <<"timeout">> => 2000, <<"max_retries">> => 1,
                        <<"cacertfile">> => list_to_binary(Ca), <<"cluster_report">> => true}),
    ?assertMatch(#{url := <<"http://127.0.0.1:1/mp/collect">>, region := eu, validate := true,
                   timeout := 2000, max_retries := 1, cacertfile := Ca, cluster_report := true},
                 Opts),
    %% The parsed options start the service as they are.
    msm_test_helper:stop_service(),
    {ok, Pid} = ?S:start(Opts#{initial_report => 3600000}),
    true = is_pid(Pid).

toml_rejects_bad_values(_) ->
    {error, _} = toml(#{<<"region">> => <<"mars">>}),
    {error, _} = toml(#{<<"timeout">> => 0}),
    {error, _} = toml(#{<<"report">> => <<"yes">>}),
    {error, _} = toml(#{<<"cacertfile">> => <<"/nonexistent/ca.pem">>}),
    {error, _} = toml(#{<<"url">> => <<>>}),
    {error, {unexpected_key, <<"unknown">>}} = toml(#{<<"unknown">> => 1}).

%% An operator's entry for the built-in id replaces it: the operator's secret is the one used.
configured_id_replaces_builtin(_) ->
    O = mongoose_system_metrics_options,
    application:set_env(mongoose_system_metrics, predefined_tracking_id,
                        #{id => "G-BUILTIN", secret => "builtin-secret"}),
    ?assertEqual([#{id => <<"G-BUILTIN">>, secret => <<"builtin-secret">>},
                  #{id => <<"G-EXTRA1">>, secret => list_to_binary(?SECRET)}],
                 O:tracking_ids(#{tracking_id => ?TID})),
    ?assertEqual([#{id => <<"G-BUILTIN">>, secret => <<"mine">>}],
                 O:tracking_ids(#{tracking_id => #{id => <<"G-BUILTIN">>, secret => "mine"}})),
    ?assertEqual([#{id => <<"G-BUILTIN">>, secret => <<"builtin-secret">>}],
                 O:tracking_ids(#{})).

toml(Toml) ->
    try {ok, process_section(?S:config_spec(), Toml)}
    catch throw:Error -> {error, Error}
    end.

process_section(#section{items = Items, required = Req, defaults = Defaults}, Toml)
  when is_map(Toml) ->
    Required = case Req of all -> maps:keys(Items); _ -> Req end,
    [throw({missing, K}) || K <- Required, not maps:is_key(K, Toml)],
    Parsed = maps:fold(fun(K, V, Acc) ->
                               Spec = case maps:find(K, Items) of
                                          {ok, S} -> S;
                                          error -> throw({unexpected_key, K})
                                      end,
                               Acc#{binary_to_atom(K) => process_node(Spec, V)}
                       end, #{}, Toml),
    maps:merge(maps:from_list([{binary_to_atom(K), V} || {K, V} <- maps:to_list(Defaults)]),
               Parsed);
process_section(_, V) ->
    throw({not_a_section, V}).

process_node(#section{} = S, V) -> process_section(S, V);
process_node(#option{type = Type, validate = Validator}, V) ->
    Value = convert(Type, V),
    validate(Validator, Type, Value) orelse throw({invalid, Validator, V}),
    Value.

convert(integer, V) when is_integer(V) -> V;
convert(boolean, V) when is_boolean(V) -> V;
convert(binary, V) when is_binary(V) -> V;
convert(string, V) when is_binary(V) -> binary_to_list(V);
convert(atom, V) when is_binary(V) -> binary_to_atom(V);
convert(Type, V) -> throw({bad_type, Type, V}).

validate(any, _, _) -> true;
validate(non_negative, integer, V) -> V >= 0;
validate(positive, integer, V) -> V > 0;
validate(non_empty, string, V) -> V =/= "";
validate(url, binary, V) -> V =/= <<>>;
validate(filename, string, V) -> filelib:is_file(V);
validate({enum, Values}, _, V) -> lists:member(V, Values).

%%--------------------------------------------------------------------
%% lifecycle
%%--------------------------------------------------------------------

bad_options_are_rejected(_) ->
    process_flag(trap_exit, true),
    {error, {bad_option, periodic_report}} = ?S:start_link(#{periodic_report => -1}),
    {error, {bad_option, nonsense}} = ?S:start_link(#{nonsense => 1}),
    {error, {bad_option, tracking_id}} = ?S:start_link(#{tracking_id => #{id => "G-1"}}),
    %% The secret is not in the error.
    {error, Err} = ?S:start_link(#{tracking_id => #{id => "", secret => ?SECRET}}),
    nomatch = string:find(io_lib:format("~p", [Err]), ?SECRET).

report_false_is_silent_and_off(_) ->
    {ok, undefined} = ?S:start(#{report => false}),
    undefined = whereis(?S),
    [] = msm_log_capture:matching("MongooseIM docs"),
    [] = [E || #{level := L} = E <- msm_log_capture:events(), L =:= warning orelse L =:= notice],
    #{running := false, kill_switch := report_false} = ?S:status().

env_switch_off_values(_) ->
    [begin
         msm_log_capture:clear(),
         os:putenv("MONGOOSEIM_SYSTEM_METRICS", V),
         {ok, undefined} = ?S:start(#{}),
         undefined = whereis(?S),
         [#{level := notice}] = msm_log_capture:matching("MONGOOSEIM_SYSTEM_METRICS"),
         [] = msm_log_capture:matching("MongooseIM docs"),
         #{kill_switch := {env, "MONGOOSEIM_SYSTEM_METRICS"}} = ?S:status(),
         msm_test_helper:stop_service()
     end || V <- ["off", "OFF", "0", "false", "False"]],
    os:putenv("MONGOOSEIM_SYSTEM_METRICS", "on"),
    {ok, Pid} = ?S:start(#{report => true}),
    true = is_pid(Pid).

do_not_track_values(_) ->
    [begin
         msm_log_capture:clear(),
         os:putenv("DO_NOT_TRACK", V),
         {ok, undefined} = ?S:start(#{report => true}),
         [#{level := notice}] = msm_log_capture:matching("DO_NOT_TRACK"),
         msm_test_helper:stop_service()
     end || V <- ["1", "true", "yes"]],
    [begin
         os:putenv("DO_NOT_TRACK", V),
         {ok, Pid} = ?S:start(#{report => true}),
         true = is_pid(Pid),
         msm_test_helper:stop_service()
     end || V <- ["", "0"]].

env_switch_beats_report_true(_) ->
    os:putenv("DO_NOT_TRACK", "1"),
    {ok, undefined} = ?S:start(#{report => true, initial_report => 0}),
    timer:sleep(100),
    undefined = whereis(?S).

consent_warning_once_when_report_unset(Config) ->
    {ok, _} = ?S:start(#{initial_report => 3600000}),
    [#{level := warning, text := Text}] = msm_log_capture:matching("MongooseIM docs"),
    true = contains(Text, ?POLICY),
    true = contains(Text, "report = false"),
    true = contains(Text, "DO_NOT_TRACK"),
    File = filename:join(?config(dir, Config), "system_metrics_report.json"),
    true = contains(Text, File).

report_true_is_silent(_) ->
    {ok, _} = ?S:start(#{report => true, initial_report => 3600000}),
    [] = msm_log_capture:matching("MongooseIM docs").

verify_if_configured(_) ->
    ok = ?S:verify_if_configured(),
    [] = msm_log_capture:matching("MongooseIM docs"),
    mongoose_config:set_opt(services, #{}),
    ignore = ?S:verify_if_configured(),
    [#{level := warning, text := Text}] = msm_log_capture:matching("MongooseIM docs"),
    true = contains(Text, "report = false").

runs_under_own_supervisor(_) ->
    {ok, Pid} = ?S:start(#{report => true, initial_report => 3600000}),
    [{?S, Pid, worker, _}] = supervisor:which_children(mongoose_system_metrics_sup),
    ok = ?S:stop(),
    [] = supervisor:which_children(mongoose_system_metrics_sup),
    undefined = whereis(?S).

runs_under_ejabberd_sup(_) ->
    {ok, Sup} = ejabberd_sup:start_link(),
    unlink(Sup),
    {ok, Pid} = ?S:start(#{report => true, initial_report => 3600000}),
    [{?S, Pid, worker, _}] = supervisor:which_children(ejabberd_sup),
    [] = supervisor:which_children(mongoose_system_metrics_sup),
    ok = ?S:stop(),
    [] = supervisor:which_children(ejabberd_sup).

status_reports_schedule_and_kill_switch(_) ->
    Before = erlang:system_time(millisecond),
    {ok, _} = ?S:start(#{report => true, initial_report => 60000, periodic_report => 120000,
                         tracking_id => ?TID}),
    #{running := true, kill_switch := none, last_attempt := undefined,
      last_success := undefined, last_error := undefined, next_report_due := Due,
      in_flight := false, tracking_ids := [<<"G-EXTRA1">>], report_file := _} = ?S:status(),
    ?assert(Due >= Before + 60000 andalso Due =< erlang:system_time(millisecond) + 60000).

restart_waits_for_last_success_plus_period(_) ->
    Now = erlang:system_time(millisecond),
    ok = mongoose_system_metrics_file:write_last_success(Now - 7000),
    {ok, _} = ?S:start(#{report => true, initial_report => 1000, periodic_report => 10000}),
    #{next_report_due := Due, last_success := LS} = ?S:status(),
    ?assertEqual(Now - 7000, LS),
    ?assert(abs(Due - (Now + 3000)) < 500),
    msm_test_helper:stop_service(),
    %% Long ago: initial_report applies.
    ok = mongoose_system_metrics_file:write_last_success(Now - 100000),
    {ok, _} = ?S:start(#{report => true, initial_report => 1000, periodic_report => 10000}),
    #{next_report_due := Due2} = ?S:status(),
    ?assert(abs(Due2 - (Now + 1000)) < 500).

secrets_masked_in_state_and_status(_) ->
    {ok, Pid} = ?S:start(#{report => true, initial_report => 3600000, tracking_id => ?TID}),
    Printed = lists:flatten(io_lib:format("~p", [sys:get_status(Pid)])),
    nomatch = string:find(Printed, ?SECRET),
    true = contains(Printed, "G-EXTRA1"),
    nomatch = string:find(io_lib:format("~p", [?S:status()]), ?SECRET).

%%--------------------------------------------------------------------
%% reporting (NIF + GA4 stub)
%%--------------------------------------------------------------------

opts(Extra) ->
    maps:merge(#{report => true, initial_report => 100, periodic_report => 300,
                 tracking_id => ?TID, max_retries => 0, timeout => 2000}, Extra).

first_report_then_fixed_rate_with_jitter(Config) ->
    Stub = ?config(stub, Config),
    T0 = erlang:system_time(millisecond),
    {ok, _} = ?S:start(opts(#{})),
    #{next_report_due := Due0} = ?S:status(),
    ?assert(abs(Due0 - (T0 + 100)) < 50),
    %% The schedule as the service plans it (next_report_due after each tick), sampled until
    %% six reports arrived. Checking the plan rather than arrival times keeps this exact on a
    %% loaded machine, where a late report may make the service skip a tick.
    Dues = sample_dues(Stub, 6, erlang:monotonic_time(millisecond) + 10000, [Due0]),
    Times = [At || #{at := At} <- ga4_stub_server:requests(Stub)],
    ct:pal("first after ~p ms, times ~p, dues ~p",
           [hd(Times) - T0, [T - T0 || T <- Times], [D - Due0 || D <- Dues]]),
    %% Never early.
    ?assert(hd(Times) - T0 >= 100),
    %% Fixed rate: every planned tick is the first one plus whole periods plus 0-10% jitter.
    ?assert(length(Dues) >= 4),
    [begin
         K = (D - Due0 + 15) div 300,
         Residual = D - Due0 - K * 300,
         ?assert(K >= 1 andalso Residual >= -3 andalso Residual =< 33)
     end || D <- tl(Dues)],
    %% The next tick is due within one period and its jitter.
    #{next_report_due := Due} = ?S:status(),
    ?assert(Due - erlang:system_time(millisecond) =< 330),
    [] = ga4_stub_server:violations(Stub),
    #{last_success := LS, last_attempt := LA, last_error := undefined} = ?S:status(),
    ?assert(is_integer(LS) andalso is_integer(LA)).

sample_dues(Stub, N, Deadline, Acc) ->
    #{next_report_due := Due} = ?S:status(),
    Acc1 = case lists:member(Due, Acc) of
               true -> Acc;
               false -> Acc ++ [Due]
           end,
    Done = length(ga4_stub_server:requests(Stub)) >= N,
    case Done orelse erlang:monotonic_time(millisecond) > Deadline of
        true -> Acc1;
        false -> timer:sleep(10), sample_dues(Stub, N, Deadline, Acc1)
    end.

gaps([A, B | T]) -> [B - A | gaps([B | T])];
gaps(_) -> [].

tick_skipped_while_busy(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{delay => 700}),
    #{level := Level} = logger:get_primary_config(),
    logger:set_primary_config(level, info),
    {ok, _} = ?S:start(opts(#{periodic_report => 100, timeout => 5000})),
    timer:sleep(1600),
    Reqs = ga4_stub_server:requests(Stub),
    ct:pal("~p requests", [length(Reqs)]),
    %% One report at a time: the requests never overlap (700 ms each).
    Times = [At || #{at := At} <- Reqs],
    [?assert(G >= 650) || G <- gaps(Times)],
    ?assert(length(Reqs) =< 3),
    logger:set_primary_config(level, Level),
    [_ | _] = msm_log_capture:matching("still in flight").

stop_cancels_send_in_flight(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{delay => 10000}),
    {ok, _} = ?S:start(opts(#{timeout => 20000})),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, 3000),
    #{in_flight := true} = ?S:status(),
    {Micros, ok} = timer:tc(fun ?S:stop/0),
    ct:pal("stop took ~p us", [Micros]),
    ?assert(Micros < 1000000),
    undefined = whereis(?S).

endpoint_precedence(Config) ->
    Stub = ?config(stub, Config),
    StubUrl = list_to_binary(ga4_stub_server:url(Stub)),
    Url = fun() -> {ok, #{requests := [#{url := U} | _]}} = ?S:preview(), U end,
    Start = fun(O) -> msm_test_helper:stop_service(),
                      {ok, _} = ?S:start(opts(O#{initial_report => 3600000})) end,
    Start(#{url => "http://127.0.0.1:9/explicit/mp/collect", region => eu}),
    {match, _} = re:run(Url(), "^http://127.0.0.1:9/explicit/mp/collect"),
    Start(#{region => eu}),
    {match, _} = re:run(Url(), "^" ++ binary_to_list(StubUrl)),
    mongoose_config:unset_opt(google_analytics_url),
    {match, _} = re:run(Url(), "^https://region1.google-analytics.com/mp/collect"),
    Start(#{}),
    {match, _} = re:run(Url(), "^https://www.google-analytics.com/mp/collect"),
    %% google_analytics_url is read at each report.
    mongoose_config:set_opt(google_analytics_url, binary_to_list(StubUrl)),
    {match, _} = re:run(Url(), "^" ++ binary_to_list(StubUrl)),
    nomatch = re:run(Url(), ?SECRET).

validate_option_and_now(Config) ->
    Stub = ?config(stub, Config),
    {ok, _} = ?S:start(opts(#{validate => true})),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, 3000),
    [#{path := <<"/debug/mp/collect">>} | _] = ga4_stub_server:requests(Stub),
    msm_test_helper:stop_service(),
    ga4_stub_server:reset(Stub),
    {ok, _} = ?S:start(opts(#{initial_report => 3600000})),
    {ok, [#{tracking_id := <<"G-EXTRA1">>, result := ok, validation_messages := []}]} =
        ?S:validate_now(),
    [#{path := <<"/debug/mp/collect">>, json := Json}] = ga4_stub_server:requests(Stub),
    <<"ENFORCE_RECOMMENDATIONS">> = maps:get(<<"validation_behavior">>, Json),
    #{last_attempt := undefined} = ?S:status().

no_tracking_id_writes_file_only(Config) ->
    Stub = ?config(stub, Config),
    File = filename:join(?config(dir, Config), "system_metrics_report.json"),
    {ok, _} = ?S:start(maps:remove(tracking_id, opts(#{}))),
    msm_test_helper:wait_until(fun() -> filelib:is_file(File) end, 3000),
    timer:sleep(300),
    [] = ga4_stub_server:requests(Stub),
    {ok, Bin} = file:read_file(File),
    [_ | _] = jiffy:decode(Bin, [return_maps]),
    {error, no_tracking_id} = ?S:validate_now().

predefined_and_configured_ids(Config) ->
    Stub = ?config(stub, Config),
    application:set_env(mongoose_system_metrics, predefined_tracking_id,
                        #{id => "G-BUILTIN", secret => "builtin-secret"}),
    {ok, _} = ?S:start(opts(#{})),
    msm_test_helper:wait_until(
      fun() -> lists:usort([M || #{measurement_id := M} <- ga4_stub_server:events(Stub)])
                   =:= [<<"G-BUILTIN">>, <<"G-EXTRA1">>] end, 3000),
    msm_test_helper:stop_service(),
    ga4_stub_server:reset(Stub),
    {ok, _} = ?S:start(maps:remove(tracking_id, opts(#{}))),
    ok = ga4_stub_server:wait_for_requests(Stub, 2, 3000),
    [<<"G-BUILTIN">>] = lists:usort([M || #{measurement_id := M} <- ga4_stub_server:events(Stub)]).

client_id_persisted_and_reused(Config) ->
    Stub = ?config(stub, Config),
    {ok, _} = ?S:start(opts(#{})),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, 3000),
    msm_test_helper:stop_service(),
    {ok, Id} = mongoose_system_metrics_file:read_client_id(),
    {match, _} = re:run(Id, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"),
    ga4_stub_server:reset(Stub),
    {ok, _} = ?S:start(opts(#{})),
    ok = ga4_stub_server:wait_for_requests(Stub, 2, 3000),
    [Id] = lists:usort([C || #{client_id := C} <- ga4_stub_server:events(Stub)]).

cluster_id_is_preferred(Config) ->
    Stub = ?config(stub, Config),
    mongoose_cluster_id:set(<<"mim-cluster-id-1">>),
    {ok, _} = ?S:start(opts(#{})),
    ok = ga4_stub_server:wait_for_requests(Stub, 2, 3000),
    [<<"mim-cluster-id-1">>] = lists:usort([C || #{client_id := C} <- ga4_stub_server:events(Stub)]),
    error = mongoose_system_metrics_file:read_client_id().

send_failures_logged_once_per_streak(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{status => 500}),
    {ok, _} = ?S:start(opts(#{periodic_report => 100})),
    ok = ga4_stub_server:wait_for_requests(Stub, 4, 5000),
    timer:sleep(100),
    [#{level := warning}] = [E || #{what := report_send_failed} = E <- msm_log_capture:events()],
    #{last_error := #{kind := send, reason := [{<<"G-EXTRA1">>, {http_status, 500}}]},
      last_success := undefined} = ?S:status(),
    ga4_stub_server:set_response(Stub, #{status => 204}),
    msm_test_helper:wait_until(fun() -> is_integer(maps:get(last_success, ?S:status())) end, 3000),
    [_] = [E || #{what := system_metrics_recovered} = E <- msm_log_capture:events()],
    ga4_stub_server:set_response(Stub, #{status => 503}),
    msm_test_helper:wait_until(
      fun() -> length([E || #{what := report_send_failed} = E <- msm_log_capture:events()]) =:= 2 end,
      3000).

secret_never_in_file_or_logs(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{status => 400}),
    {ok, _} = ?S:start(opts(#{})),
    ok = ga4_stub_server:wait_for_requests(Stub, 2, 3000),
    timer:sleep(100),
    [#{api_secret := <<?SECRET>>} | _] = ga4_stub_server:events(Stub),
    Dir = ?config(dir, Config),
    [begin {ok, B} = file:read_file(filename:join(Dir, F)),
           nomatch = binary:match(B, <<?SECRET>>)
     end || F <- element(2, file:list_dir(Dir))],
    Logged = io_lib:format("~p", [msm_log_capture:events()]),
    nomatch = string:find(Logged, ?SECRET),
    nomatch = string:find(io_lib:format("~p", [?S:status()]), ?SECRET).

env_switch_at_runtime_stops_reports(Config) ->
    Stub = ?config(stub, Config),
    {ok, _} = ?S:start(opts(#{periodic_report => 100})),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, 3000),
    os:putenv("MONGOOSEIM_SYSTEM_METRICS", "off"),
    timer:sleep(300),
    N = length(ga4_stub_server:requests(Stub)),
    timer:sleep(400),
    N = length(ga4_stub_server:requests(Stub)),
    #{kill_switch := {env, "MONGOOSEIM_SYSTEM_METRICS"}} = ?S:status(),
    [_] = msm_log_capture:matching("MONGOOSEIM_SYSTEM_METRICS"),
    os:unsetenv("MONGOOSEIM_SYSTEM_METRICS"),
    ok = ga4_stub_server:wait_for_requests(Stub, N + 1, 3000).

preview_sends_nothing(Config) ->
    Stub = ?config(stub, Config),
    {ok, _} = ?S:start(opts(#{initial_report => 3600000})),
    {ok, #{events := Events, requests := [#{url := Url, body := Body}], node_info := Info,
           report_file := _}} = ?S:preview(),
    [_ | _] = Events,
    #{modules := [_ | _]} = Info,
    {match, _} = re:run(Url, "api_secret=\\*\\*\\*"),
    [] = ga4_stub_server:check_body(Body),
    [] = ga4_stub_server:requests(Stub),
    false = filelib:is_file(filename:join(?config(dir, Config), "system_metrics_report.json")).

periodic_report_zero_initial_report_only(Config) ->
    Stub = ?config(stub, Config),
    {ok, _} = ?S:start(opts(#{periodic_report => 0})),
    #{next_report_due := Due} = ?S:status(),
    true = is_integer(Due),
    ok = msm_test_helper:wait_until(
           fun() -> is_integer(maps:get(last_success, ?S:status())) end, 5000),
    N = length(ga4_stub_server:requests(Stub)),
    ?assert(N >= 1),
    %% opts/1's period was 300 ms: several would have passed by now.
    timer:sleep(1000),
    N = length(ga4_stub_server:requests(Stub)),
    #{next_report_due := undefined, in_flight := false, last_error := undefined} = ?S:status(),
    [#{level := notice}] = [E || #{what := system_metrics_periodic_report_off} = E
                                     <- msm_log_capture:events()].

contains(Text, Sub) -> string:find(Text, Sub) =/= nomatch.
