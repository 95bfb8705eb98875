%%% @doc MongooseIM's own acceptance cases for this service (its big_tests suite
%%% service_mongoose_system_metrics_SUITE), reproduced against this project.
%%%
%%% MongooseIM cannot be built here (no hex.pm): its modules are test stand-ins with
%%% MongooseIM 6.x's names and signatures (test/mim_standins: mongoose_config.erl, gen_mod.erl,
%%% mongoose_cluster_id.erl, mongoose_domain_core.erl, mongoose_component.erl,
%%% mongoose_router.erl, ejabberd_sup.erl, mongoose_logs.erl, prometheus_counter.erl,
%%% exometer.erl, mongoose_service.erl, and stand-in gen_mod modules). Reports go to
%%% test/support/ga4_stub_server.erl on 127.0.0.1, which checks GA4's rules strictly: every case
%%% ends by asserting that no request broke one. Timers are about 100 ms, as in MongooseIM's
%%% suite. The clustered cases start real peer nodes (OTP `peer'). Expected values are
%%% written by hand (msm_expected: the sample node's report); no case asserts a duration,
%%% each waits for what it expects with a bound that only guards against hanging.
-module(mongooseim_acceptance_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-define(S, service_mongoose_system_metrics).
-define(TRACKING_ID, #{id => "G-7KQE4W9SVJ", secret => "Secret"}).
-define(TRACKING_ID_EXTRA, #{id => "UA-EXTRA-TRACKING-ID", secret => "Secret3"}).
-define(VERSION, "6.8.0-12-gabc1234").

all() ->
    [system_metrics_are_not_reported_when_not_allowed,
     periodic_report_available,
     system_metrics_are_reported_to_google_analytics_when_mim_starts,
     system_metrics_are_reported_to_configurable_google_analytics,
     system_metrics_are_reported_to_a_json_file,
     mongoose_version_is_reported,
     cluster_uptime_is_reported,
     xmpp_components_are_reported,
     api_are_reported,
     transport_mechanisms_are_reported,
     outgoing_pools_are_reported,
     xmpp_stanzas_counts_are_reported,
     config_type_is_reported,
     {group, module_opts},
     {group, log_transparency},
     {group, exometer_instrumentation},
     {group, cluster}].

groups() ->
    [{module_opts, [], [module_opts_are_reported, rdbms_module_opts_are_reported]},
     {log_transparency, [], [just_removed_from_config_logs_question,
                             in_config_unmodified_logs_request_for_agreement,
                             in_config_with_explicit_no_report_goes_off_silently,
                             in_config_with_explicit_reporting_goes_on_silently]},
     {exometer_instrumentation, [], [xmpp_stanzas_counts_are_reported]},
     {cluster, [], [all_clustered_mongooses_report_the_same_client_id,
                    cluster_report_one_reporter_sums_and_fails_over]}].

%%--------------------------------------------------------------------
%% Setup
%%--------------------------------------------------------------------

init_per_suite(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            {ok, _} = application:ensure_all_started(mongoose_system_metrics),
            ok = application:load({application, mongooseim,
                                   [{description, "MongooseIM stand-in"}, {vsn, ?VERSION},
                                    {modules, []}, {registered, []},
                                    {applications, [kernel, stdlib]}]}),
            ok = application:start(mongooseim),
            {ok, Stub} = ga4_stub_server:start(),
            [{stub, Stub} | Config];
        Skip -> Skip
    end.

end_per_suite(Config) ->
    ga4_stub_server:stop(?config(stub, Config)),
    application:stop(mongooseim),
    application:unload(mongooseim).

init_per_group(exometer_instrumentation, Config) ->
    [{instrumentation, #{exometer => #{}}} | Config];
init_per_group(cluster, Config) ->
    start_cluster(Config);
init_per_group(_, Config) ->
    Config.

end_per_group(cluster, Config) ->
    [peer:stop(Peer) || {Peer, _Node} <- ?config(peers, Config)],
    ok;
end_per_group(_, _Config) ->
    ok.

init_per_testcase(Case, Config) ->
    Stub = ?config(stub, Config),
    ga4_stub_server:reset(Stub),
    msm_test_helper:clear_env(),
    application:set_env(mongoose_system_metrics, predefined_tracking_id, ?TRACKING_ID),
    Instr = proplists:get_value(instrumentation, Config, #{prometheus => #{}, exometer => #{}}),
    msm_test_helper:set_mim_config(#{instrumentation => Instr,
                                     google_analytics_url => ga4_stub_server:url(Stub)}),
    msm_test_helper:report_dir(Config),
    msm_log_capture:start(),
    case lists:member(Case, not_started_by_init()) of
        true -> ok;
        false -> enable_system_metrics(#{})
    end,
    Config.

end_per_testcase(_Case, Config) ->
    msm_test_helper:stop_service(),
    msm_log_capture:stop(),
    msm_test_helper:clear_mim_config(),
    msm_test_helper:clear_env(),
    %% GA4's rules, strictly, for every request of the case.
    ?assertEqual([], ga4_stub_server:violations(?config(stub, Config))).

not_started_by_init() ->
    [system_metrics_are_not_reported_when_not_allowed,
     system_metrics_are_reported_to_configurable_google_analytics,
     just_removed_from_config_logs_question,
     in_config_unmodified_logs_request_for_agreement,
     in_config_with_explicit_no_report_goes_off_silently,
     in_config_with_explicit_reporting_goes_on_silently,
     system_metrics_are_reported_to_a_json_file,
     all_clustered_mongooses_report_the_same_client_id,
     cluster_report_one_reporter_sums_and_fails_over].

%% As MongooseIM's suite: the service in the config with ~100 ms timers.
enable_system_metrics(Extra) ->
    Opts = maps:merge(#{initial_report => 100, periodic_report => 100}, Extra),
    mongoose_config:set_opt(services, #{?S => Opts}),
    {ok, _} = ?S:start(Opts).

disable_system_metrics() ->
    msm_test_helper:stop_service(),
    mongoose_config:set_opt(services, #{}).

%%--------------------------------------------------------------------
%% Cases
%%--------------------------------------------------------------------

%% Nothing runs that could report: no service process, no child of the supervisor.
system_metrics_are_not_reported_when_not_allowed(Config) ->
    disable_system_metrics(),
    undefined = whereis(?S),
    {ok, undefined} = ?S:start(#{report => false, initial_report => 100, periodic_report => 100}),
    undefined = whereis(?S),
    [] = supervisor:which_children(mongoose_system_metrics_sup),
    #{running := false, kill_switch := report_false} = ?S:status(),
    [] = ga4_stub_server:requests(?config(stub, Config)).

periodic_report_available(Config) ->
    N = length(events(Config)),
    wait(fun() -> length(events(Config)) > N + 1 end),
    wait(fun() -> length(ga4_stub_server:requests(?config(stub, Config))) >= 3 end).

system_metrics_are_reported_to_google_analytics_when_mim_starts(Config) ->
    wait(fun() -> is_in_table(Config, <<"host_count">>) end),
    wait(fun() -> are_modules_reported(Config) end),
    wait(fun() -> tracking_ids(Config) =:= [<<"G-7KQE4W9SVJ">>] end),
    [_] = client_ids(Config).

system_metrics_are_reported_to_configurable_google_analytics(Config) ->
    enable_system_metrics(#{tracking_id => ?TRACKING_ID_EXTRA}),
    wait(fun() -> is_in_table(Config, <<"host_count">>) end),
    wait(fun() -> are_modules_reported(Config) end),
    wait(fun() -> tracking_ids(Config) =:= [<<"G-7KQE4W9SVJ">>, <<"UA-EXTRA-TRACKING-ID">>] end),
    [_] = client_ids(Config),
    %% Each property got its own secret.
    [<<"Secret">>] = lists:usort([S || #{measurement_id := <<"G-7KQE4W9SVJ">>, api_secret := S}
                                          <- events(Config)]),
    [<<"Secret3">>] = lists:usort([S || #{measurement_id := <<"UA-EXTRA-TRACKING-ID">>,
                                          api_secret := S} <- events(Config)]).

%% One report (a period of an hour): the file holds exactly the events sent, in order, and
%% they are the sample node's report as written down by hand.
system_metrics_are_reported_to_a_json_file(Config) ->
    enable_system_metrics(#{periodic_report => 3600000}),
    {ok, _} = wait(fun() -> case ?S:status() of
                                #{last_success := LS, in_flight := false} when is_integer(LS) -> {true, LS};
                                _ -> false
                            end
                   end),
    {ok, Bin} = file:read_file(mongoose_system_metrics_file:location()),
    Sent = [#{name => N, params => P} || #{name := N, params := P} <- events(Config)],
    ?assertEqual(Sent, msm_expected:decode_events(Bin)),
    msm_expected:assert_sample_report(Sent, #{version => <<?VERSION>>}),
    nomatch = binary:match(Bin, <<"Secret">>).

mongoose_version_is_reported(Config) ->
    wait(fun() -> is_feature_reported(Config, <<"cluster">>, <<"version">>, <<?VERSION>>) end).

cluster_uptime_is_reported(Config) ->
    wait(fun() -> is_feature_reported(Config, <<"cluster">>, <<"uptime">>) end),
    [#{params := #{<<"uptime">> := Uptime}} | _] = match_events(Config, <<"cluster">>),
    {match, _} = re:run(Uptime, "^\\d{4}-\\d{2}:\\d{2}:\\d{2}$").

%% The sample node has one component, on this node.
xmpp_components_are_reported(Config) ->
    wait(fun() -> is_feature_reported(Config, <<"cluster">>, <<"component">>) end),
    ?assertEqual([1], lists:usort([C || #{params := #{<<"component">> := C}}
                                            <- match_events(Config, <<"cluster">>)])).

api_are_reported(Config) ->
    wait(fun() -> is_in_table(Config, <<"http_api">>) end),
    [#{params := Params} | _] = match_events(Config, <<"http_api">>),
    ?assertEqual(#{<<"mongoose_bosh_handler">> => <<"enabled">>,
                   <<"mongoose_graphql_handler">> => <<"enabled">>,
                   <<"mongoose_websocket_handler">> => <<"enabled">>}, Params).

transport_mechanisms_are_reported(Config) ->
    wait(fun() -> is_in_table(Config, <<"transport_mechanism">>) end),
    [#{params := Params} | _] = match_events(Config, <<"transport_mechanism">>),
    ?assertEqual(#{<<"mongoose_bosh_handler">> => <<"enabled">>,
                   <<"mongoose_websocket_handler">> => <<"enabled">>,
                   <<"tcp">> => <<"enabled">>}, Params).

outgoing_pools_are_reported(Config) ->
    wait(fun() -> is_in_table(Config, <<"outgoing_pool">>) end),
    wait(fun() -> lists:usort([V || #{params := #{<<"value">> := V}}
                                        <- match_events(Config, <<"outgoing_pool">>)])
                      =:= [<<"http">>, <<"rdbms">>] end).

xmpp_stanzas_counts_are_reported(Config) ->
    bump_counter(xmppIqSent, Config),
    wait(fun() -> is_feature_reported(Config, <<"xmpp_stanza_count">>, <<"stanza_type">>,
                                      <<"xmppMessageSent">>) end),
    wait(fun() -> is_feature_reported(Config, <<"xmpp_stanza_count">>, <<"stanza_type">>,
                                      <<"xmppIqSent">>) end),
    Sent = get_metric_value(Config, <<"xmppMessageSent">>),
    Received = get_metric_value(Config, <<"xmppMessageReceived">>),
    %% Alice sends Bob one message: one stanza in, one out.
    bump_counter(xmppMessageSent, Config),
    bump_counter(xmppMessageReceived, Config),
    wait(fun() ->
                 assert_increment(Config, <<"xmppMessageSent">>, Sent),
                 assert_increment(Config, <<"xmppMessageReceived">>, Received),
                 true
         end).

config_type_is_reported(Config) ->
    wait(fun() -> is_feature_reported(Config, <<"cluster">>, <<"config_type">>, <<"toml">>) end).

%% Each report: for each host type, one event for every module loaded on any host type
%% (bare where it has no options there); mod_event_pusher reports one backend per pusher
%% (http, push), folded into one event per host type, the last one kept; the custom module
%% is only counted. Every report received so far, event by event.
module_opts_are_reported(Config) ->
    wait(fun() -> length(ga4_stub_server:requests(?config(stub, Config))) >= 2 end),
    Reports = module_events_per_report(Config),
    ?assert(length(Reports) >= 2),
    [?assertEqual(msm_expected:sample_module_events(), R) || R <- Reports],
    wait(fun() -> is_feature_reported(Config, <<"custom_module_count">>, <<"value">>, 1) end).

rdbms_module_opts_are_reported(Config) ->
    msm_test_helper:stop_service(),
    mongoose_config:set_opt({modules, <<"localhost">>},
                            #{mod_vcard => #{backend => rdbms}, mod_last => #{backend => rdbms}}),
    ga4_stub_server:reset(?config(stub, Config)),
    enable_system_metrics(#{}),
    wait(fun() -> length(ga4_stub_server:requests(?config(stub, Config))) >= 1 end),
    M = fun(P) -> #{name => <<"module_with_opt">>, params => P} end,
    Expected = [M(#{<<"module">> => <<"mod_last">>, <<"backend">> => <<"rdbms">>}),
                M(#{<<"module">> => <<"mod_vcard">>, <<"backend">> => <<"rdbms">>}),
                M(#{<<"module">> => <<"mod_last">>}),
                M(#{<<"module">> => <<"mod_vcard">>, <<"backend">> => <<"ldap">>})],
    [?assertEqual(Expected, R) || R <- module_events_per_report(Config)].

%% The module events of each request received (a report of the sample node is one request).
module_events_per_report(Config) ->
    [[#{name => N, params => P} || #{name := N, params := P} <- msm_expected:decode_events(B),
                                    N =:= <<"module_with_opt">>]
     || #{body := B} <- ga4_stub_server:requests(?config(stub, Config))].

just_removed_from_config_logs_question(_Config) ->
    disable_system_metrics(),
    ?assertEqual(ignore, ?S:verify_if_configured()),
    [#{level := warning}] = msm_log_capture:matching("MongooseIM docs").

%% The notice is logged as the service starts (its init, before start/1 returns).
in_config_unmodified_logs_request_for_agreement(_Config) ->
    enable_system_metrics(#{}),
    [#{level := warning}] = msm_log_capture:matching("MongooseIM docs"),
    ok = ?S:verify_if_configured().

in_config_with_explicit_no_report_goes_off_silently(Config) ->
    {ok, undefined} = enable_system_metrics(#{report => false}),
    undefined = whereis(?S),
    [] = msm_log_capture:matching("MongooseIM docs", warning),
    [] = [E || #{level := L} = E <- msm_log_capture:events(), L =:= warning orelse L =:= notice],
    [] = ga4_stub_server:requests(?config(stub, Config)).

in_config_with_explicit_reporting_goes_on_silently(Config) ->
    enable_system_metrics(#{report => true}),
    wait(fun() -> is_in_table(Config, <<"host_count">>) end),
    [] = msm_log_capture:matching("MongooseIM docs", warning).

%%--------------------------------------------------------------------
%% Cluster: real peer nodes
%%--------------------------------------------------------------------

start_cluster(Config) ->
    ok = ensure_distributed(),
    %% This node takes no part: its client id must not leak into the peers' choice.
    application:unset_env(mongoose_system_metrics, report_dir),
    Paths = lists:append([["-pa", P] || P <- code:get_path(), not lists:prefix(code:root_dir(), P)]),
    Peers = [begin
                 Name = list_to_atom("msm_peer" ++ integer_to_list(I) ++ "_"
                                     ++ integer_to_list(erlang:unique_integer([positive]))),
                 {ok, Peer, Node} = peer:start_link(#{name => Name, args => Paths}),
                 unlink(Peer),
                 {Peer, Node}
             end || I <- [1, 2]],
    [{_, N1}, {_, N2}] = Peers,
    true = erpc:call(N1, net_kernel, connect_node, [N2]),
    [{peers, Peers} | Config].

ensure_distributed() ->
    case node() of
        nonode@nohost ->
            os:cmd("epmd -daemon"),
            {ok, _} = net_kernel:start([list_to_atom("msm_ct_" ++ os:getpid()), shortnames]),
            ok;
        _ -> ok
    end.

%% Each peer: the stand-in MongooseIM config with its own number of host types (so the
%% reports tell the nodes apart), its own report directory, its own stanza counts.
setup_peer(Node, I, Opts, Config) ->
    Stub = ?config(stub, Config),
    Dir = filename:join(?config(priv_dir, Config),
                        "peer" ++ integer_to_list(I) ++ "_" ++ integer_to_list(erlang:unique_integer([positive]))),
    Hosts = [list_to_binary("host" ++ integer_to_list(J)) || J <- lists:seq(1, I)],
    ok = erpc:call(Node, fun() ->
        ok = filelib:ensure_dir(filename:join(Dir, "x")),
        application:set_env(mongoose_system_metrics, report_dir, Dir),
        application:set_env(mongoose_system_metrics, predefined_tracking_id, ?TRACKING_ID),
        msm_test_helper:set_mim_config(#{hosts => Hosts, host_types => [],
                                         instrumentation => #{prometheus => #{}},
                                         google_analytics_url => ga4_stub_server:url(Stub),
                                         services => #{?S => Opts}}),
        prometheus_counter:set("xmpp_element_in_message_count", [<<"host1">>], 10 * I),
        {ok, _} = application:ensure_all_started(mongoose_system_metrics),
        {ok, Pid} = ?S:start(Opts),
        true = is_pid(Pid),
        ok
    end).

stop_peer_service(Node) ->
    erpc:call(Node, ?S, stop, []).

all_clustered_mongooses_report_the_same_client_id(Config) ->
    Stub = ?config(stub, Config),
    [{_, N1}, {_, N2}] = ?config(peers, Config),
    Opts = #{initial_report => 100, periodic_report => 100},
    %% Both start at once, neither has a client id yet.
    Parent = self(),
    [spawn_link(fun() -> setup_peer(N, I, Opts, Config), Parent ! {ready, N} end)
     || {I, N} <- [{1, N1}, {2, N2}]],
    [receive {ready, N} -> ok after 10000 -> error({peer_not_ready, N}) end || N <- [N1, N2]],
    %% Default mode: every node reports (host_count 1 from peer 1, 2 from peer 2).
    wait(fun() -> host_counts(Config) =:= [1, 2] end),
    [ClientId] = client_ids(Config),
    {ok, ClientId} = erpc:call(N1, mongoose_system_metrics_file, read_client_id, []),
    {ok, ClientId} = erpc:call(N2, mongoose_system_metrics_file, read_client_id, []),
    [stop_peer_service(N) || N <- [N1, N2]],
    ga4_stub_server:reset(Stub).

cluster_report_one_reporter_sums_and_fails_over(Config) ->
    Stub = ?config(stub, Config),
    [{_, N1}, {_, N2}] = ?config(peers, Config),
    Opts = #{initial_report => 100, periodic_report => 100, cluster_report => true},
    setup_peer(N1, 1, Opts, Config),
    setup_peer(N2, 2, Opts, Config),
    wait(fun() -> length(ga4_stub_server:requests(Stub)) >= 6 end),
    %% One reporter: a single node's host_count, one request per period, not two.
    [Reporter] = host_counts(Config),
    ReporterNode = case Reporter of 1 -> N1; 2 -> N2 end,
    OtherNode = hd([N1, N2] -- [ReporterNode]),
    #{role := reporter} = erpc:call(ReporterNode, ?S, status, []),
    #{role := standby} = erpc:call(OtherNode, ?S, status, []),
    %% Stanza counts summed over the nodes: 10 + 20.
    wait(fun() -> lists:member(30, [T || #{params := #{<<"stanza_type">> := <<"xmppMessageSent">>,
                                                      <<"total">> := T}}
                                             <- match_events(Config, <<"xmpp_stanza_count">>)]) end),
    [_] = client_ids(Config),
    %% Failover: the reporter stops, the other node takes over (and becomes the reporter).
    stop_peer_service(ReporterNode),
    ga4_stub_server:reset(Stub),
    Other = 3 - Reporter,
    wait(fun() -> host_counts(Config) =:= [Other] end),
    #{role := reporter} = erpc:call(OtherNode, ?S, status, []),
    %% The remaining node's own count only, now that the other has no service.
    wait(fun() -> lists:member(10 * Other,
                               [T || #{params := #{<<"stanza_type">> := <<"xmppMessageSent">>,
                                                   <<"total">> := T}}
                                         <- match_events(Config, <<"xmpp_stanza_count">>)]) end),
    stop_peer_service(OtherNode).

host_counts(Config) ->
    lists:usort([V || #{name := <<"host_count">>, params := #{<<"value">> := V}} <- events(Config)]).

%%--------------------------------------------------------------------
%% Helpers (as MongooseIM's suite)
%%--------------------------------------------------------------------

%% Waits for what Fun says; the bound only guards against hanging.
wait(Fun) ->
    msm_test_helper:wait_until(Fun, 60000, 50).

events(Config) ->
    ga4_stub_server:events(?config(stub, Config)).

client_ids(Config) ->
    lists:usort([C || #{client_id := C} <- events(Config)]).

tracking_ids(Config) ->
    lists:usort([M || #{measurement_id := M} <- events(Config)]).

match_events(Config, Name) ->
    [E || #{name := N} = E <- events(Config), N =:= Name].

is_in_table(Config, Name) ->
    match_events(Config, Name) =/= [].

are_modules_reported(Config) ->
    lists:any(fun(#{params := #{<<"module">> := M}}) -> re:run(M, "^mod_") =/= nomatch;
                 (_) -> false
              end, match_events(Config, <<"module_with_opt">>)).

is_feature_reported(Config, Name, Key) ->
    [E || #{params := #{Key := _}} = E <- match_events(Config, Name)] =/= [].

is_feature_reported(Config, Name, Key, Value) ->
    [E || #{params := #{Key := V}} = E <- match_events(Config, Name), V == Value] =/= [].

check_module_opt(Config, Module, Key, Value) ->
    M = atom_to_binary(Module),
    ?assert([E || #{params := #{<<"module">> := M1, Key := V}} = E
                      <- match_events(Config, <<"module_with_opt">>), M1 =:= M, V =:= Value] =/= [],
            {Module, Key, Value}).

get_metric_value(Config, Type) ->
    [#{params := #{<<"total">> := Value}} | _] =
        lists:reverse([E || #{params := #{<<"stanza_type">> := T}} = E
                                <- match_events(Config, <<"xmpp_stanza_count">>), T =:= Type]),
    Value.

assert_increment(Config, Type, Initial) ->
    Events = [E || #{params := #{<<"stanza_type">> := T}} = E
                       <- match_events(Config, <<"xmpp_stanza_count">>), T =:= Type],
    %% Exactly one report carries the new total, with an increment of exactly 1.
    ?assertMatch([_], [E || #{params := #{<<"total">> := Total, <<"increment">> := 1}} = E
                                <- Events, Total == Initial + 1]).

bump_counter(Type, Config) ->
    case proplists:get_value(instrumentation, Config) of
        #{exometer := _} ->
            Name = [<<"localhost">> | exometer_name(Type)],
            Old = proplists:get_value(count, element(2, hd(exometer:get_values(Name) ++ [{x, [{count, 0}]}]))),
            exometer:set(Name, Old + 1);
        _ ->
            prometheus_counter:inc(prometheus_name(Type), [<<"localhost">>])
    end.

exometer_name(xmppMessageSent) -> [xmpp_element_in, c2s, message_count];
exometer_name(xmppMessageReceived) -> [xmpp_element_out, c2s, message_count];
exometer_name(xmppIqSent) -> [xmpp_element_in, c2s, iq_count].

prometheus_name(xmppMessageSent) -> "xmpp_element_in_message_count";
prometheus_name(xmppMessageReceived) -> "xmpp_element_out_message_count";
prometheus_name(xmppIqSent) -> "xmpp_element_in_iq_count".

file_mtime_us(File) ->
    {ok, Info} = file:read_file_info(File, [{time, posix}]),
    %% Seconds are too coarse for 100 ms reports: add the inode change as a tie-breaker.
    {element(6, Info), element(12, Info), element(11, Info)}.
