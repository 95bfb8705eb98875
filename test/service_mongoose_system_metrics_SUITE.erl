%%% @doc service_mongoose_system_metrics: config spec, options, kill switches, consent,
%%% supervision, schedule, endpoint precedence, status, secrets, failures.
%%%
%%% MongooseIM cannot be built here: its modules are test stand-ins with MongooseIM 6.x's
%%% names and signatures (test/mim_standins: mongoose_config.erl, ejabberd_sup.erl, mongoose_service.erl,
%%% mongoose_cluster_id.erl, ...). Reports go to test/support/ga4_stub_server.erl on 127.0.0.1.
%%% Cases that send need the NIF (priv/); without it they are skipped. No case asserts a
%%% duration: each waits for events (requests at the stub, the service's status, log events,
%%% traced calls) with a bound that only guards against hanging.
-module(service_mongoose_system_metrics_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include("mongoose_system_metrics_config_spec.hrl").

-define(S, service_mongoose_system_metrics).
-define(SECRET, "Secr3tValue-never-shown").
-define(TID, #{id => "G-EXTRA1", secret => ?SECRET}).
-define(POLICY, "https://esl.github.io/MongooseDocs/latest/operation-and-maintenance/System-Metrics-Privacy-Policy/").
%% Only guards against a case hanging: every wait ends with the event it waits for.
-define(WAIT, 60000).

all() ->
    [{group, config_spec}, {group, lifecycle}, {group, reporting}].

groups() ->
    [{config_spec, [], [spec_is_mongooseim_section, toml_defaults, toml_sample_values,
                        toml_non_negative_integers, toml_periodic_report_zero_accepted,
                        toml_tracking_id_needs_both_keys, toml_added_options,
                        toml_rejects_bad_values, configured_id_replaces_builtin,
                        schedule_first_delay, schedule_fixed_rate_with_jitter]},
     {lifecycle, [], [bad_options_are_rejected, report_false_is_silent_and_off,
                      env_switch_off_values, do_not_track_values, env_switch_beats_report_true,
                      consent_warning_once_when_report_unset, report_true_is_silent,
                      verify_if_configured, runs_under_own_supervisor,
                      runs_under_ejabberd_sup, status_reports_schedule_and_kill_switch,
                      restart_waits_for_last_success_plus_period,
                      secrets_masked_in_state_and_status]},
     {reporting, [], [first_report_then_fixed_rate_with_jitter, tick_skipped_while_busy,
                      stop_cancels_send_in_flight, endpoint_precedence, validate_option_and_now,
                      no_tracking_id_writes_file_only, report_file_is_the_report_sent,
                      refused_send_still_writes_the_file,
                      configured_max_retries_is_what_is_attempted,
                      configured_timeout_is_each_attempts_limit,
                      predefined_and_configured_ids,
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

%% Every option added to MongooseIM's section, as the TOML parser gives it, changes what the
%% service does: validate (GA4's validation path), timeout and max_retries (the attempts the
%% server logs: with MongooseIM's defaults of 5 s and 2 retries these would be three answered
%% requests), cacertfile (a real CA file; the client is built with it), cluster_report (the
%% node is the reporter), url (the server is reached at all; region is then not used).
toml_added_options(Config) ->
    case msm_test_helper:require_nif() of
        ok -> added_options_change_the_report(Config);
        Skip -> Skip
    end.

added_options_change_the_report(Config) ->
    #{ca_file := Ca} = msm_reliability:make_pki(?config(dir, Config)),
    {ok, Server} = msm_fault_server:start(),
    try
        msm_fault_server:set_default(Server, {delay, 1500, {status, 204}}),
        Url = list_to_binary(msm_fault_server:url(Server, "/mp/collect")),
        {ok, Opts} = toml(#{<<"url">> => Url, <<"region">> => <<"eu">>,
                            <<"validate">> => true, <<"timeout">> => 300,
                            <<"max_retries">> => 1, <<"cacertfile">> => list_to_binary(Ca),
                            <<"cluster_report">> => true}),
        ?assertEqual(#{url => Url, region => eu, validate => true, timeout => 300,
                       max_retries => 1, cacertfile => Ca, cluster_report => true,
                       initial_report => 300000, periodic_report => 10800000}, Opts),
        msm_test_helper:stop_service(),
        {ok, _} = ?S:start(Opts#{initial_report => 0, tracking_id => ?TID}),
        #{last_error := #{kind := send, reason := Reason}} = wait_report_done(),
        ?assertEqual([{<<"G-EXTRA1">>, timeout}], Reason),
        Requests = msm_fault_server:requests(Server),
        ?assertEqual([<<"/debug/mp/collect">>, <<"/debug/mp/collect">>],
                     [P || {request, _, #{path := P}} <- Requests]),
        ?assertMatch(#{role := reporter, last_success := undefined}, ?S:status())
    after
        msm_test_helper:stop_service(),
        msm_fault_server:stop(Server)
    end.

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

%% When the first report is due: initial_report, or the last success plus a period when
%% that is later, never more than a period away (times written out by hand).
schedule_first_delay(_) ->
    F = fun(Init, Period, Last, Now) ->
                mongoose_system_metrics_schedule:first_delay(
                  #{initial_report => Init, periodic_report => Period}, Last, Now)
        end,
    ?assertEqual(1000, F(1000, 10000, undefined, 50000)),
    ?assertEqual(3000, F(1000, 10000, 43000, 50000)),
    ?assertEqual(1000, F(1000, 10000, 0, 50000)),
    ?assertEqual(10000, F(1000, 10000, 90000, 50000)),
    ?assertEqual(5000, F(5000, 10000, 45000, 50000)),
    ?assertEqual(0, F(0, 0, undefined, 50000)),
    ?assertEqual(7, F(7, 0, 49000, 50000)).

%% Fixed rate: the next report is a whole number of periods after the previous nominal one,
%% past ticks are skipped, and the jitter is 0 to 10% of the period.
schedule_fixed_rate_with_jitter(_) ->
    Next = fun(Period, Base, Now) ->
                   mongoose_system_metrics_schedule:next(#{periodic_report => Period}, Base, Now)
           end,
    ?assertEqual(none, Next(0, 1000, 1000)),
    Nominal = fun(Period, Base, Now) ->
                      {N, J} = Next(Period, Base, Now),
                      ?assert(J >= 0 andalso J =< Period div 10),
                      N
              end,
    ?assertEqual(1300, Nominal(300, 1000, 1000)),
    ?assertEqual(1300, Nominal(300, 1000, 1299)),
    ?assertEqual(1600, Nominal(300, 1000, 1300)),
    ?assertEqual(2200, Nominal(300, 1000, 1950)),
    ?assertEqual(10800000 + 5, Nominal(10800000, 5, 6)),
    Jitters = [element(2, Next(300, 0, 0)) || _ <- lists:seq(1, 2000)],
    ?assertEqual(lists:seq(0, 30), lists:usort(Jitters)).

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

%% The first report after a restart is due one period after the last success (when that is
%% after initial_report): between that time and that time plus the time the start took.
restart_waits_for_last_success_plus_period(_) ->
    Now = erlang:system_time(millisecond),
    LastSuccess = Now - 7000,
    ok = mongoose_system_metrics_file:write_last_success(LastSuccess),
    Before = erlang:system_time(millisecond),
    {ok, _} = ?S:start(#{report => true, initial_report => 1000, periodic_report => 10000}),
    #{next_report_due := Due, last_success := LS} = ?S:status(),
    After = erlang:system_time(millisecond),
    ?assertEqual(LastSuccess, LS),
    ?assert(Due >= LastSuccess + 10000 andalso Due =< LastSuccess + 10000 + (After - Before)),
    msm_test_helper:stop_service(),
    %% Long ago: initial_report applies.
    ok = mongoose_system_metrics_file:write_last_success(Now - 100000),
    Before2 = erlang:system_time(millisecond),
    {ok, _} = ?S:start(#{report => true, initial_report => 1000, periodic_report => 10000}),
    #{next_report_due := Due2} = ?S:status(),
    ?assert(Due2 >= Before2 + 1000 andalso Due2 =< erlang:system_time(millisecond) + 1000).

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

%% The schedule as the service follows it, traced: each tick asks the schedule for the next
%% one from the previous nominal time (a fixed rate, whatever a report took), and the first
%% report reaches the stub no earlier than the service planned it.
first_report_then_fixed_rate_with_jitter(Config) ->
    Stub = ?config(stub, Config),
    {ok, Pid} = ?S:start(opts(#{})),
    #{next_report_due := Due0} = ?S:status(),
    erlang:trace_pattern({mongoose_system_metrics_schedule, next, 3},
                         [{'_', [], [{return_trace}]}], [local]),
    1 = erlang:trace(Pid, true, [call]),
    Calls = try
                ok = ga4_stub_server:wait_for_requests(Stub, 6, ?WAIT),
                traced_next_calls(5, [])
            after
                erlang:trace(Pid, false, [call]),
                erlang:trace_pattern({mongoose_system_metrics_schedule, next, 3}, false, [local])
            end,
    [#{at := First} | _] = ga4_stub_server:requests(Stub),
    ?assert(First >= Due0),
    %% Each tick's base is the nominal time the previous tick returned.
    Bases = [Base || {Base, _} <- Calls],
    Nexts = [N || {_, {N, _}} <- Calls],
    ?assertEqual(tl(Bases), lists:droplast(Nexts)),
    [begin
         ?assert((N - Base) rem 300 =:= 0 andalso N > Base),
         ?assert(J >= 0 andalso J =< 30)
     end || {Base, {N, J}} <- Calls],
    [] = ga4_stub_server:violations(Stub),
    #{last_success := LS, last_attempt := LA, last_error := undefined} = ?S:status(),
    ?assert(is_integer(LS) andalso is_integer(LA)).

%% The first N calls of mongoose_system_metrics_schedule:next/3 traced in the service, as
%% {Base, Result}.
traced_next_calls(0, Acc) ->
    lists:reverse(Acc);
traced_next_calls(N, Acc) ->
    receive
        {trace, _, call, {mongoose_system_metrics_schedule, next, [_, Base, _]}} ->
            receive
                {trace, _, return_from, {mongoose_system_metrics_schedule, next, 3}, Result} ->
                    traced_next_calls(N - 1, [{Base, Result} | Acc])
            after ?WAIT -> ct:fail(no_return_traced)
            end
    after ?WAIT -> ct:fail({ticks_traced, length(Acc)})
    end.

%% Never two reports in flight: with each request held 1 s and a tick every 100 ms, ticks
%% are skipped (logged) and the stub never answers two requests at once.
tick_skipped_while_busy(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{delay => 1000}),
    #{level := Level} = logger:get_primary_config(),
    logger:set_primary_config(level, info),
    try
        {ok, _} = ?S:start(opts(#{periodic_report => 100, timeout => 5000})),
        ok = msm_test_helper:wait_until(
               fun() -> length(msm_log_capture:matching("still in flight")) >= 3
                            andalso length(ga4_stub_server:requests(Stub)) >= 2 end, ?WAIT),
        msm_test_helper:stop_service(),
        ?assertEqual(1, ga4_stub_server:max_in_flight(Stub)),
        [] = ga4_stub_server:violations(Stub)
    after
        logger:set_primary_config(level, Level)
    end.

%% Stopping the service cancels the send in flight: the connection to an endpoint that never
%% answers (and a timeout of five minutes) is closed by the client, and the send's in-flight
%% slot is free again.
stop_cancels_send_in_flight(Config) ->
    {ok, Server} = msm_fault_server:start(),
    try
        msm_fault_server:set_default(Server, hang),
        {ok, _} = ?S:start(opts(#{timeout => 300000,
                                  url => msm_fault_server:url(Server, "/mp/collect")})),
        ok = msm_test_helper:wait_until(
               fun() -> length(msm_fault_server:requests(Server)) =:= 1 end, ?WAIT),
        #{in_flight := true} = ?S:status(),
        ok = ?S:stop(),
        undefined = whereis(?S),
        ok = msm_test_helper:wait_until(
               fun() -> [C || {closed, _, by_client} = C <- msm_fault_server:log(Server)] =/= []
               end, ?WAIT),
        ok = mongoose_system_metrics_nif:configure(#{max_in_flight => 1}),
        {ok, Ref} = mongoose_system_metrics_nif:send_report(
                      [], #{client_id => <<"c">>, tracking_ids => [#{id => <<"G-1">>,
                                                                      secret => <<"s">>}]}),
        _ = msm_reliability:wait_result(Ref, ?WAIT)
    after
        ok = mongoose_system_metrics_nif:configure(#{max_in_flight => 64}),
        msm_fault_server:stop(Server)
    end.

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

%% Without a tracking id nothing is sent, and the report file holds the report all the same:
%% the sample node's events as written down by hand (msm_expected).
no_tracking_id_writes_file_only(Config) ->
    Stub = ?config(stub, Config),
    File = filename:join(?config(dir, Config), "system_metrics_report.json"),
    {ok, _} = ?S:start(maps:remove(tracking_id, opts(#{periodic_report => 3600000}))),
    #{last_success := LS, last_error := undefined} = wait_report_done(),
    ?assert(is_integer(LS)),
    [] = ga4_stub_server:requests(Stub),
    {ok, Bin} = file:read_file(File),
    msm_expected:assert_sample_report(msm_expected:decode_events(Bin), #{}),
    {error, no_tracking_id} = ?S:validate_now().

%% The report file holds exactly the events that the report sent, in order, and they are the
%% sample node's report as written down by hand.
report_file_is_the_report_sent(Config) ->
    Stub = ?config(stub, Config),
    File = filename:join(?config(dir, Config), "system_metrics_report.json"),
    {ok, _} = ?S:start(opts(#{periodic_report => 3600000})),
    #{last_success := LS} = wait_report_done(),
    ?assert(is_integer(LS)),
    Sent = [#{name => N, params => P} || #{name := N, params := P} <- ga4_stub_server:events(Stub)],
    {ok, Bin} = file:read_file(File),
    ?assertEqual(Sent, msm_expected:decode_events(Bin)),
    msm_expected:assert_sample_report(Sent, #{}).

%% When the engine refuses the send (here: its one slot taken by another send, so
%% `overloaded'), the report's events are still built and written to the file, and the
%% refusal is the send's error in the status; nothing reaches the collector from the report.
refused_send_still_writes_the_file(Config) ->
    Stub = ?config(stub, Config),
    File = filename:join(?config(dir, Config), "system_metrics_report.json"),
    ga4_stub_server:set_response(Stub, #{status => 204, delay => 60000}),
    ok = mongoose_system_metrics_nif:configure(#{max_in_flight => 1}),
    try
        {ok, Busy} = mongoose_system_metrics_nif:send_report(
                       [#{name => <<"outgoing_pool">>, params => #{<<"value">> => <<"rdbms">>}}],
                       #{client_id => <<"other">>, url => ga4_stub_server:url(Stub),
                         tracking_ids => [#{id => <<"G-BUSY">>, secret => <<"s">>}]}),
        ok = ga4_stub_server:wait_for_requests(Stub, 1, ?WAIT),
        {ok, _} = ?S:start(opts(#{periodic_report => 3600000})),
        ok = msm_test_helper:wait_until(
               fun() -> maps:get(last_error, ?S:status()) =/= undefined end, ?WAIT),
        ?assertMatch(#{last_error := #{kind := send, reason := overloaded},
                       last_success := undefined}, ?S:status()),
        {ok, Bin} = file:read_file(File),
        msm_expected:assert_sample_report(msm_expected:decode_events(Bin), #{}),
        ?assertEqual([<<"G-BUSY">>], [maps:get(<<"measurement_id">>, Q)
                                      || #{query := Q} <- ga4_stub_server:requests(Stub)]),
        ok = mongoose_system_metrics_nif:cancel(Busy)
    after
        ok = mongoose_system_metrics_nif:cancel_all(),
        ok = mongoose_system_metrics_nif:configure(#{max_in_flight => 64})
    end.

%% max_retries as configured: the server's own log shows 1 + max_retries attempts of the
%% report's one request (500 is retried), for 0 and 1; without the option, the README's
%% default of 2.
configured_max_retries_is_what_is_attempted(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{status => 500}),
    Attempts = fun(Extra) ->
                       msm_test_helper:stop_service(),
                       ga4_stub_server:reset(Stub),
                       {ok, _} = ?S:start(maps:merge(maps:remove(max_retries,
                                                                 opts(#{periodic_report => 3600000})),
                                                     Extra)),
                       #{last_error := #{reason := R}} = wait_report_done(),
                       ?assertEqual([{<<"G-EXTRA1">>, {http_status, 500}}], R),
                       length(ga4_stub_server:requests(Stub))
               end,
    ?assertEqual(1, Attempts(#{max_retries => 0})),
    ?assertEqual(2, Attempts(#{max_retries => 1})),
    ?assertEqual(3, Attempts(#{})).

%% timeout as configured limits each attempt: an answer after 1.5 s is a timeout with
%% timeout = 300 (the request was received, the client gave up), and a success with the
%% default of 5 s.
configured_timeout_is_each_attempts_limit(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{delay => 1500}),
    {ok, _} = ?S:start(opts(#{periodic_report => 3600000, timeout => 300})),
    #{last_error := #{reason := R}, last_success := undefined} = wait_report_done(),
    ?assertEqual([{<<"G-EXTRA1">>, timeout}], R),
    ?assertEqual(1, length(ga4_stub_server:requests(Stub))),
    msm_test_helper:stop_service(),
    ga4_stub_server:reset(Stub),
    {ok, _} = ?S:start(maps:remove(timeout, opts(#{periodic_report => 3600000}))),
    #{last_error := undefined, last_success := LS} = wait_report_done(),
    ?assert(is_integer(LS)),
    ?assertEqual(1, length(ga4_stub_server:requests(Stub))).

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
    %% Three failed reports, each seen by the service (a new last_error time each).
    ok = wait_failed_reports(3, []),
    [#{level := warning}] = [E || #{what := report_send_failed} = E <- msm_log_capture:events()],
    #{last_error := #{kind := send, reason := [{<<"G-EXTRA1">>, {http_status, 500}}]},
      last_success := undefined} = ?S:status(),
    ga4_stub_server:set_response(Stub, #{status => 204}),
    ok = msm_test_helper:wait_until(fun() -> is_integer(maps:get(last_success, ?S:status())) end,
                                    ?WAIT),
    [_] = [E || #{what := system_metrics_recovered} = E <- msm_log_capture:events()],
    ga4_stub_server:set_response(Stub, #{status => 503}),
    ok = msm_test_helper:wait_until(
           fun() -> length([E || #{what := report_send_failed} = E <- msm_log_capture:events()]) =:= 2 end,
           ?WAIT).

%% Waits until the service has seen N failed reports (each sets a new last_error).
wait_failed_reports(N, Seen) when length(Seen) >= N ->
    ok;
wait_failed_reports(N, Seen) ->
    {ok, At} = msm_test_helper:wait_until(
                 fun() -> case ?S:status() of
                              #{last_error := #{at := A}} -> {lists:member(A, Seen) =:= false, A};
                              _ -> false
                          end
                 end, ?WAIT),
    wait_failed_reports(N, [At | Seen]).

secret_never_in_file_or_logs(Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:set_response(Stub, #{status => 400}),
    {ok, _} = ?S:start(opts(#{periodic_report => 3600000})),
    #{last_error := #{kind := send}} = wait_report_done(),
    [#{api_secret := <<?SECRET>>} | _] = ga4_stub_server:events(Stub),
    Dir = ?config(dir, Config),
    [begin {ok, B} = file:read_file(filename:join(Dir, F)),
           nomatch = binary:match(B, <<?SECRET>>)
     end || F <- element(2, file:list_dir(Dir))],
    [_ | _] = msm_log_capture:events(),
    msm_log_capture:assert_absent(?SECRET),
    nomatch = string:find(io_lib:format("~p", [?S:status()]), ?SECRET).

%% The environment's kill switch is read at each tick: once set, the service ticks on (its
%% next report's due time moves) without starting a report; once unset, reports resume.
env_switch_at_runtime_stops_reports(Config) ->
    Stub = ?config(stub, Config),
    {ok, _} = ?S:start(opts(#{periodic_report => 100})),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, ?WAIT),
    os:putenv("MONGOOSEIM_SYSTEM_METRICS", "off"),
    ok = msm_test_helper:wait_until(
           fun() -> case ?S:status() of
                        #{kill_switch := {env, _}, in_flight := false} -> true;
                        _ -> false
                    end
           end, ?WAIT),
    #{last_attempt := Attempt, next_report_due := Due} = ?S:status(),
    N = length(ga4_stub_server:requests(Stub)),
    ok = wait_ticks(2, Due),
    ?assertMatch(#{last_attempt := Attempt, in_flight := false,
                   kill_switch := {env, "MONGOOSEIM_SYSTEM_METRICS"}}, ?S:status()),
    ?assertEqual(N, length(ga4_stub_server:requests(Stub))),
    [_] = msm_log_capture:matching("MONGOOSEIM_SYSTEM_METRICS"),
    os:unsetenv("MONGOOSEIM_SYSTEM_METRICS"),
    ok = ga4_stub_server:wait_for_requests(Stub, N + 1, ?WAIT).

%% Waits until the service has ticked N more times after the tick due at Due (each tick
%% plans the next: next_report_due changes).
wait_ticks(0, _Due) ->
    ok;
wait_ticks(N, Due) ->
    {ok, Next} = msm_test_helper:wait_until(
                   fun() -> case ?S:status() of
                                #{next_report_due := D} when D =/= Due -> {true, D};
                                _ -> false
                            end
                   end, ?WAIT),
    wait_ticks(N - 1, Next).

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
           fun() -> is_integer(maps:get(last_success, ?S:status())) end, ?WAIT),
    %% One report (one request: it has fewer than 25 events), and no next one planned.
    ?assertEqual(1, length(ga4_stub_server:requests(Stub))),
    #{next_report_due := undefined, in_flight := false, last_error := undefined} = ?S:status(),
    [#{level := notice}] = [E || #{what := system_metrics_periodic_report_off} = E
                                     <- msm_log_capture:events()].

contains(Text, Sub) -> string:find(Text, Sub) =/= nomatch.

%% The service's status once its (first) report is done: attempted and no longer in flight.
wait_report_done() ->
    {ok, Status} = msm_test_helper:wait_until(
                     fun() -> case ?S:status() of
                                  #{last_attempt := A, in_flight := false} = St
                                    when A =/= undefined -> {true, St};
                                  _ -> false
                              end
                     end, ?WAIT),
    Status.
