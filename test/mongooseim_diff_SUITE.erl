%%% @doc Differential tests: MongooseIM's own system-metrics code against this project, on
%%% the same node, for every supported release.
%%%
%%% For each release in `../shared/mongooseim/', MongooseIM's `src/system_metrics/' modules
%%% are compiled from its sources, renamed (`mim_<release>_...') so they load beside ours,
%%% and run as MongooseIM runs them: its service (a gen_server) collects, sends with its
%%% sender (httpc) to a loopback GA4 stand-in, and writes its report file. This project's
%%% service does the same on the same node (the same stand-ins, the same counters, the same
%%% moment) to a second loopback server. The suite then compares, per tracking id, the
%%% request bodies (client id, events with their params and values, their order and their
%%% batching into requests) and the two report files.
%%%
%%% The only differences allowed are the README's intentional ones (privacy), each a named
%%% rule applied to MongooseIM's events before comparing:
%%% <ul>
%%% <li>`custom_modules_counted_not_named': a module that is not one of that release's own
%%%     `mongoose_module_metrics' modules is counted in `custom_module_count', never named
%%%     (MongooseIM names a custom module that declares the behaviour);</li>
%%% <li>`version_sanitised': the version keeps only its release number and git-describe
%%%     suffix;</li>
%%% <li>`no_negative_increment': after the counters went down (a restart), `increment' is
%%%     the total (MongooseIM sends a negative number);</li>
%%% <li>`option_values_off_the_allowlist_as_custom': an option value no MongooseIM config
%%%     spec accepts for an open-source module (a custom backend) is sent as `custom'.</li>
%%% </ul>
%%% `uptime' is read by each service at its own moment: equal within 2 seconds.
-module(mongooseim_diff_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-define(RELEASES, ["6.1.0", "6.2.1", "6.3.3", "6.4.0", "6.5.0", "6.6.0", "6.7.0", "6.8.0"]).
-define(OURS, service_mongoose_system_metrics).
-define(CLUSTER_ID, <<"8d5c2a7e-diff-suite-cluster">>).
-define(EXTRA_ID, #{id => "G-EXTRA01", secret => "extra-secret-value"}).
-define(PERIOD, 3600000).

all() ->
    [{group, list_to_atom(R)} || R <- ?RELEASES].

groups() ->
    [{list_to_atom(R), [], cases()} || R <- ?RELEASES].

cases() ->
    [named_modules_are_the_sources_own, reports_in_a_row, report_after_a_failed_send,
     counters_went_down, prometheus_instrumentation, no_instrumentation,
     three_node_cluster, build_named_version, custom_backend, ci_environment].

%%--------------------------------------------------------------------
%% Setup

init_per_suite(Config) ->
    case msm_mim_sources:require() of
        ok ->
            case msm_test_helper:require_nif() of
                ok ->
                    {ok, _} = application:ensure_all_started(inets),
                    {ok, _} = application:ensure_all_started(mongoose_system_metrics),
                    [_ | _] = msm_mim_sources:compile(
                                hd(?RELEASES), ["src/system_metrics/mongoose_module_metrics.erl"],
                                #{}),
                    ok = meck:new(mongoose_logs, [passthrough, no_link]),
                    {ok, Mim} = ga4_stub_server:start(),
                    {ok, Ours} = ga4_stub_server:start(),
                    [{mim_server, Mim}, {our_server, Ours} | Config];
                Skip -> Skip
            end;
        Skip -> Skip
    end.

end_per_suite(Config) ->
    ga4_stub_server:stop(?config(mim_server, Config)),
    ga4_stub_server:stop(?config(our_server, Config)),
    meck:unload(mongoose_logs),
    msm_mim_fixture:restore_modules([mongoose_module_metrics]),
    ok.

init_per_group(Group, Config) ->
    Release = atom_to_list(Group),
    Prefix = "mim_" ++ atom_to_list(msm_mim_sources:release_atom(Release)) ++ "_",
    Names = [service_mongoose_system_metrics, mongoose_system_metrics_collector,
             mongoose_system_metrics_sender, mongoose_system_metrics_file],
    Renames = [{N, list_to_atom(Prefix ++ atom_to_list(N))} || N <- Names],
    msm_mim_sources:compile(Release, ["src/system_metrics/" ++ atom_to_list(N) ++ ".erl"
                                      || N <- Names], #{rename => Renames, export_all => true}),
    {_, MimService} = lists:keyfind(service_mongoose_system_metrics, 1, Renames),
    Loaded = msm_mim_fixture:load_modules(Release, msm_mim_fixture:release_modules(Release)),
    [{release, Release}, {mim_service, MimService}, {standins, Loaded} | Config].

end_per_group(_Group, Config) ->
    msm_mim_fixture:restore_modules(?config(standins, Config)),
    ok.

init_per_testcase(Case, Config) ->
    Release = ?config(release, Config),
    Priv = ?config(priv_dir, Config),
    MimDir = filename:join(Priv, "mim"),
    OurDir = filename:join(Priv, "ours"),
    [ok = filelib:ensure_dir(filename:join(D, "x")) || D <- [MimDir, OurDir]],
    meck:expect(mongoose_logs, dir, fun() -> MimDir end),
    application:set_env(mongoose_system_metrics, report_dir, OurDir),
    Instrumentation = case Case of
                          prometheus_instrumentation -> prometheus;
                          no_instrumentation -> no_instrumentation;
                          _ -> exometer
                      end,
    Node = msm_mim_fixture:node_config(Release, Instrumentation),
    Mim = ?config(mim_server, Config),
    Url = ga4_stub_server:url(Mim),
    mongoose_config:set_opts(Node#{google_analytics_url => Url}),
    mongoose_config:set_config_path("/etc/mongooseim/mongooseim.toml"),
    mongoose_cluster_id:set(?CLUSTER_ID),
    msm_test_helper:set_mim_version(case Case of
                                        build_named_version -> Release ++ "-acme-prod";
                                        _ -> Release
                                    end),
    [ga4_stub_server:reset(S) || S <- [Mim, ?config(our_server, Config)]],
    [ga4_stub_server:set_response(S, #{status => 204})
     || S <- [Mim, ?config(our_server, Config)]],
    set_counters(1),
    %% MongooseIM's service and ours pick the CI id when CI=true: unset but in ci_environment.
    PrevCi = os:getenv("CI"),
    case Case of
        ci_environment -> os:putenv("CI", "true");
        _ -> os:unsetenv("CI")
    end,
    Config1 = [{mim_dir, MimDir}, {our_dir, OurDir}, {prev_ci, PrevCi} | Config],
    case Case of
        three_node_cluster -> start_peers(Config1);
        _ -> Config1
    end.

end_per_testcase(_Case, Config) ->
    case ?config(prev_ci, Config) of
        false -> os:unsetenv("CI");
        Ci -> os:putenv("CI", Ci)
    end,
    stop_services(Config),
    stop_peers(Config),
    msm_test_helper:set_mim_version(undefined),
    msm_test_helper:clear_mim_config(),
    application:unset_env(mongoose_system_metrics, report_dir),
    application:unset_env(mongoose_system_metrics, predefined_tracking_id),
    application:unset_env(mongoose_system_metrics, ci_tracking_id),
    ok.

%%--------------------------------------------------------------------
%% Cases

%% What this project names is what the release's own sources name: every module that
%% declares `mongoose_module_metrics' there, and nothing else of the union of releases.
named_modules_are_the_sources_own(Config) ->
    Release = ?config(release, Config),
    Own = msm_mim_fixture:metrics_modules(Release),
    Union = lists:usort(lists:append([msm_mim_fixture:metrics_modules(R) || R <- ?RELEASES])),
    Info = #{version => list_to_binary(Release),
             modules => [#{module => M} || M <- Union ++ [mod_acme_metrics]]},
    {ok, Events} = mongoose_system_metrics_nif:build_report(Info),
    Named = lists:sort([binary_to_atom(M) || #{name := <<"module_with_opt">>,
                                             params := #{<<"module">> := M}} <- Events]),
    ?assertEqual(Own, Named),
    [Custom] = [N || #{name := <<"custom_module_count">>, params := #{<<"value">> := N}} <- Events],
    ?assertEqual(length(Union) + 1 - length(Own), Custom).

%% Three reports, the counters growing between them.
reports_in_a_row(Config) ->
    start_services(Config),
    Rules = lists:append([begin
                              set_counters(Round),
                              round_alike(Config)
                          end || Round <- [1, 2, 3]]),
    %% The fixture has a custom module that declares the behaviour: MongooseIM names it.
    ?assert(lists:member(custom_modules_counted_not_named, Rules)),
    check_report_files(Config).

%% The second report's send fails (500 at both ends); the third counts its increments from
%% the second (collected, not sent), as MongooseIM does.
report_after_a_failed_send(Config) ->
    start_services(Config),
    set_counters(1),
    round_alike(Config),
    [ga4_stub_server:set_response(?config(S, Config), #{status => 500})
     || S <- [mim_server, our_server]],
    set_counters(4),
    round_alike(Config),
    [ga4_stub_server:set_response(?config(S, Config), #{status => 204})
     || S <- [mim_server, our_server]],
    set_counters(6),
    round_alike(Config),
    %% Ours saw the failure, then succeeded.
    #{last_error := #{kind := send, at := FailedAt}, last_success := SucceededAt} = ?OURS:status(),
    ?assert(SucceededAt >= FailedAt).

%% The counters went down (the node restarted between two reports).
counters_went_down(Config) ->
    start_services(Config),
    set_counters(5),
    round_alike(Config),
    set_counters(2),
    Rules = round_alike(Config),
    case has_stanza_counts(Config) of
        true -> ?assert(lists:member(no_negative_increment, Rules));
        false -> ok
    end.

prometheus_instrumentation(Config) ->
    start_services(Config),
    round_alike(Config).

no_instrumentation(Config) ->
    start_services(Config),
    round_alike(Config).

three_node_cluster(Config) ->
    ?assertEqual(2, length(nodes())),
    start_services(Config),
    round_alike(Config).

build_named_version(Config) ->
    start_services(Config),
    Rules = round_alike(Config),
    ?assert(lists:member(version_sanitised, Rules)).

%% With CI=true both services report to MongooseIM's CI property instead of the built-in one.
ci_environment(Config) ->
    start_services(Config),
    round_alike(Config),
    {_, #{id := CiId}} = builtin_ids(?config(release, Config)),
    Ids = [maps:get(<<"measurement_id">>, Q)
           || #{query := Q} <- ga4_stub_server:requests(?config(our_server, Config))],
    ?assertEqual(lists:sort([list_to_binary(CiId), <<"G-EXTRA01">>]), lists:usort(Ids)).

%% An open-source module with a custom backend (MongooseIM's loose check accepts any
%% `mod_last_<name>' module): MongooseIM sends the name, this project `custom'.
custom_backend(Config) ->
    mongoose_config:set_opt({modules, <<"premium">>},
                            #{mod_last => #{backend => acme_backend}}),
    start_services(Config),
    Rules = round_alike(Config),
    ?assert(lists:member(option_values_off_the_allowlist_as_custom, Rules)).

%%--------------------------------------------------------------------
%% One report at both ends, compared

%% Runs one report through MongooseIM's service, then one through ours, and compares what
%% reached the two servers. Returns the rules that had to be applied.
round_alike(Config) ->
    Mim = ?config(mim_server, Config),
    Ours = ?config(our_server, Config),
    [ga4_stub_server:reset(S) || S <- [Mim, Ours]],
    mim_report(Config),
    our_report(),
    MimReqs = ga4_stub_server:requests(Mim),
    OurReqs = ga4_stub_server:requests(Ours),
    ?assertNotEqual([], MimReqs),
    ?assertEqual([], ga4_stub_server:violations(Ours)),
    Release = ?config(release, Config),
    {Expected0, Rules} = expected_requests(Release, MimReqs),
    {Expected, Got} = uptimes_close(Expected0, by_tracking_id(OurReqs)),
    same(Expected, Got),
    check_fixture_is_exercised(Release, MimReqs),
    Rules.

%% Fails with the first difference, readable: tracking id, request, event.
same(Expected, Expected) ->
    ok;
same(Expected, Got) ->
    ?assertEqual([Id || {Id, _} <- Expected], [Id || {Id, _} <- Got]),
    [begin
         ?assertEqual({Id, length(E)}, {Id, length(G)}),
         [begin
              ?assertEqual({Id, N, Secret, ClientId, length(EEs)},
                           {Id, N, GSecret, GClientId, length(GEs)}),
              [case EE =:= GE of
                   true -> ok;
                   false -> ct:fail(lists:flatten(io_lib:format(
                                  "tracking id ~ts, request ~p, event ~p:~n expected ~tp~n      got ~tp",
                                  [Id, N, I, EE, GE])))
               end || {I, EE, GE} <- lists:zip3(lists:seq(1, length(EEs)), EEs, GEs)]
          end || {N, {Secret, ClientId, EEs}, {GSecret, GClientId, GEs}}
                     <- lists:zip3(lists:seq(1, length(E)), E, G)]
     end || {{Id, E}, {_, G}} <- lists:zip(Expected, Got)],
    ?assertEqual(Expected, Got).

%% Per tracking id: [{api_secret, client_id, events of one request}], in order.
by_tracking_id(Reqs) ->
    Ids = lists:usort([maps:get(<<"measurement_id">>, Q) || #{query := Q} <- Reqs]),
    %% Everything but the events: the path, the whole query, the rest of the body.
    [{Id, [{{Path, Q, maps:remove(<<"events">>, J)}, maps:get(<<"client_id">>, J),
            [normalise(E) || E <- maps:get(<<"events">>, J)]}
           || #{path := Path, query := Q, json := J} <- Reqs,
              maps:get(<<"measurement_id">>, Q) =:= Id]}
     || Id <- Ids].

normalise(#{<<"name">> := N, <<"params">> := P}) ->
    {N, maps:map(fun(<<"uptime">>, V) -> uptime_seconds(V);
                    (_, V) -> V
                 end, P)}.

%% MongooseIM's requests with the named rules applied, re-cut into MongooseIM's batches of
%% 25; and which rules changed anything.
expected_requests(Release, MimReqs) ->
    Grouped = by_tracking_id(MimReqs),
    %% MongooseIM's own batches are the events cut in 25s: the re-cut below is its rule.
    [?assertEqual({Id, [Es || {_, _, Es} <- Requests]},
                  {Id, batches(lists:append([Es || {_, _, Es} <- Requests]))})
     || {Id, Requests} <- Grouped],
    Results = [begin
                   [{Secret, ClientId, _} | _] = Requests,
                   Events = lists:append([Es || {_, _, Es} <- Requests]),
                   {Applied, Rules} = apply_rules(Release, Events),
                   {{Id, [{Secret, ClientId, Batch} || Batch <- batches(Applied)]}, Rules}
               end || {Id, Requests} <- Grouped],
    {[R || {R, _} <- Results], lists:usort(lists:append([Rs || {_, Rs} <- Results]))}.

batches([]) -> [];
batches(Events) when length(Events) =< 25 -> [Events];
batches(Events) ->
    {Batch, Rest} = lists:split(25, Events),
    [Batch | batches(Rest)].

apply_rules(Release, Events0) ->
    Steps = [{custom_modules_counted_not_named, fun(Es) -> count_custom(Release, Es) end},
             {option_values_off_the_allowlist_as_custom, fun custom_values/1},
             {version_sanitised, fun sanitise_version/1},
             {no_negative_increment, fun no_negative_increment/1}],
    lists:foldl(fun({Name, Rule}, {Es, Applied}) ->
                        case Rule(Es) of
                            Es -> {Es, Applied};
                            Changed -> {Changed, [Name | Applied]}
                        end
                end, {Events0, []}, Steps).

count_custom(Release, Events) ->
    Own = [atom_to_binary(M) || M <- msm_mim_fixture:metrics_modules(Release)],
    Named = [M || {<<"module_with_opt">>, #{<<"module">> := M}} <- Events,
                  not lists:member(M, Own)],
    Extra = length(lists:usort(Named)),
    [case E of
         {<<"custom_module_count">>, #{<<"value">> := N}} ->
             {<<"custom_module_count">>, #{<<"value">> => N + Extra}};
         _ -> E
     end || E <- Events,
            not (element(1, E) =:= <<"module_with_opt">>
                 andalso lists:member(maps:get(<<"module">>, element(2, E)), Named))].

%% Values the config specs of MongooseIM 6.1-6.8 accept for the options their modules
%% report (read from each release's config_spec/0 of those modules).
allowed_option_value(<<"backend">>, V) ->
    lists:member(V, [<<"mnesia">>, <<"rdbms">>, <<"rdbms_async">>, <<"cassandra">>,
                     <<"elasticsearch">>, <<"ldap">>, <<"riak">>, <<"s3">>, <<"cets">>,
                     <<"http">>, <<"push">>, <<"rabbit">>, <<"sns">>]);
allowed_option_value(<<"online_backend">>, V) -> lists:member(V, [<<"mnesia">>, <<"cets">>]);
allowed_option_value(<<"api_version">>, V) -> lists:member(V, [<<"v2">>, <<"v3">>]);
allowed_option_value(_, _) -> false.

custom_values(Events) ->
    [case E of
         {<<"module_with_opt">>, P} ->
             {<<"module_with_opt">>,
              maps:map(fun(<<"module">>, V) -> V;
                          (K, V) -> case allowed_option_value(K, V) of
                                        true -> V;
                                        false -> <<"custom">>
                                    end
                       end, P)};
         _ -> E
     end || E <- Events].

sanitise_version(Events) ->
    [case E of
         {<<"cluster">>, #{<<"version">> := V} = P} ->
             {match, [Kept]} = re:run(V, "^\\d+\\.\\d+(\\.\\d+)?(-\\d+-g[0-9a-f]{7,40})?",
                                      [{capture, first, binary}]),
             {<<"cluster">>, P#{<<"version">> := Kept}};
         _ -> E
     end || E <- Events].

no_negative_increment(Events) ->
    [case E of
         {<<"xmpp_stanza_count">>, #{<<"increment">> := I, <<"total">> := T} = P} when I < 0 ->
             {<<"xmpp_stanza_count">>, P#{<<"increment">> := T}};
         _ -> E
     end || E <- Events].

%% `uptime' (DDDD-HH:MM:SS) in seconds: each service reads it at its own moment.
uptime_seconds(V) ->
    {match, [D, H, M, S]} = re:run(V, "^(\\d{4,})-(\\d\\d):(\\d\\d):(\\d\\d)$",
                                   [{capture, all_but_first, list}]),
    {uptime, ((list_to_integer(D) * 24 + list_to_integer(H)) * 60 + list_to_integer(M)) * 60
                 + list_to_integer(S)}.

%% Checks that every uptime reading on both sides is within 2 seconds of the others, then
%% takes them out of the comparison.
uptimes_close(A, B) ->
    Readings = [S || {uptime, S} <- lists:flatten(uptime_values(A) ++ uptime_values(B))],
    case Readings of
        [] -> ok;
        _ -> ?assert(lists:max(Readings) - lists:min(Readings) =< 2)
    end,
    {strip_uptime(A), strip_uptime(B)}.

uptime_values(T) when is_map(T) -> [V || {uptime, _} = V <- maps:values(T)];
uptime_values(T) when is_list(T) -> lists:map(fun uptime_values/1, T);
uptime_values(T) when is_tuple(T) -> uptime_values(tuple_to_list(T));
uptime_values(_) -> [].

strip_uptime(T) when is_map(T) ->
    maps:map(fun(_, {uptime, _}) -> uptime; (_, V) -> strip_uptime(V) end, T);
strip_uptime(T) when is_list(T) -> [strip_uptime(X) || X <- T];
strip_uptime({uptime, _}) -> uptime;
strip_uptime(T) when is_tuple(T) -> list_to_tuple(strip_uptime(tuple_to_list(T)));
strip_uptime(T) -> T.

%% The fixture really exercises what it should: more events than one request holds, the
%% handlers, transports and TLS options of that release, MongooseIM's folded options.
check_fixture_is_exercised(Release, MimReqs) ->
    Events = [normalise(E) || #{json := #{<<"events">> := Es}} <- MimReqs, E <- Es],
    Minor = list_to_integer(lists:nth(2, string:lexemes(Release, "."))),
    Ids = lists:usort([maps:get(<<"measurement_id">>, Q) || #{query := Q} <- MimReqs]),
    ?assertEqual(2, length(Ids)),
    ?assert(length(MimReqs) >= 2 * length(Ids)),
    ApiKeys = lists:sort(maps:keys(hd([P || {<<"http_api">>, P} <- Events]))),
    case Minor =< 5 of
        true -> ?assertEqual([<<"mod_bosh">>, <<"mod_websockets">>, <<"mongoose_admin_api">>,
                              <<"mongoose_client_api">>], ApiKeys);
        false -> ?assertEqual([<<"mongoose_bosh_handler">>, <<"mongoose_graphql_handler">>,
                               <<"mongoose_websocket_handler">>], ApiKeys)
    end,
    Tls = [P || {<<"tls_option">>, P} <- Events],
    ?assertEqual(case Minor =< 3 of true -> 2 * 3; false -> 0 end, length(Tls)),
    Pushers = [P || {<<"module_with_opt">>, #{<<"module">> := <<"mod_event_pusher">>} = P} <- Events],
    ?assert(lists:member(#{<<"module">> => <<"mod_event_pusher">>, <<"backend">> => <<"rabbit">>},
                         Pushers)),
    case Minor >= 2 of
        true ->
            ?assert(lists:member(#{<<"module">> => <<"mod_muc">>, <<"backend">> => <<"rdbms">>,
                                   <<"online_backend">> => <<"cets">>},
                                 [P || {<<"module_with_opt">>, P} <- Events]));
        false -> ok
    end.

%%--------------------------------------------------------------------
%% Report files

check_report_files(Config) ->
    Release = ?config(release, Config),
    {ok, MimJson} = file:read_file(filename:join(?config(mim_dir, Config),
                                                 "system_metrics_report.json")),
    {ok, OurJson} = file:read_file(filename:join(?config(our_dir, Config),
                                                 "system_metrics_report.json")),
    Mim = [normalise(E) || E <- jiffy:decode(MimJson, [return_maps])],
    Ours = [normalise(E) || E <- jiffy:decode(OurJson, [return_maps])],
    {Expected0, _} = apply_rules(Release, Mim),
    {Expected, Got} = uptimes_close(Expected0, Ours),
    same([{file, [{x, x, Expected}]}], [{file, [{x, x, Got}]}]).

%%--------------------------------------------------------------------
%% Running the two services

start_services(Config) ->
    MimService = ?config(mim_service, Config),
    %% The built-in ids an adopted release carries into our application's config, read from
    %% MongooseIM's service source: its development id (MongooseIM's code here is compiled
    %% without PROD_NODE) and its CI id.
    {Dev, Ci} = builtin_ids(?config(release, Config)),
    application:set_env(mongoose_system_metrics, predefined_tracking_id, Dev),
    application:set_env(mongoose_system_metrics, ci_tracking_id, Ci),
    Common = #{report => true, initial_report => ?PERIOD, periodic_report => ?PERIOD,
               tracking_id => ?EXTRA_ID},
    {ok, MimPid} = MimService:start_link(Common),
    unlink(MimPid),
    OurUrl = ga4_stub_server:url(?config(our_server, Config)),
    {ok, _} = ?OURS:start(Common#{url => OurUrl, max_retries => 0}),
    ok.

builtin_ids(Release) ->
    File = filename:join(msm_mim_sources:src_dir(Release),
                         "src/system_metrics/service_mongoose_system_metrics.erl"),
    {ok, Text} = file:read_file(File),
    {match, Found} = re:run(Text, "^-define\\((TRACKING_ID(?:_CI)?),\\s*#\\{id => \"([^\"]+)\",\\s*"
                            "secret => \"([^\"]+)\"\\}\\)",
                            [global, multiline, {capture, all_but_first, list}]),
    %% In source order: the PROD_NODE id, the other builds' id, the CI id.
    [["TRACKING_ID", _, _], ["TRACKING_ID", DevId, DevSecret], ["TRACKING_ID_CI", CiId, CiSecret]]
        = Found,
    {#{id => DevId, secret => DevSecret}, #{id => CiId, secret => CiSecret}}.

stop_services(Config) ->
    MimService = ?config(mim_service, Config),
    case whereis(MimService) of
        undefined -> ok;
        Pid -> gen_server:stop(Pid)
    end,
    ?OURS:stop().

mim_report(Config) ->
    Name = ?config(mim_service, Config),
    Name ! spawn_reporter,
    %% The reporter's monitor (the state's second field) is cleared when it is done.
    ok = msm_test_helper:wait_until(fun() -> element(3, sys:get_state(Name)) =:= none end,
                                    10000).

our_report() ->
    #{last_attempt := Before} = ?OURS:status(),
    State = sys:get_state(?OURS),
    [Timer] = [R || R <- tuple_to_list(State), is_reference(R)],
    ?OURS ! {timeout, Timer, tick},
    ok = msm_test_helper:wait_until(
           fun() ->
                   case ?OURS:status() of
                       #{in_flight := false, last_attempt := At} -> At =/= Before;
                       _ -> false
                   end
           end, 10000).

%%--------------------------------------------------------------------
%% Counters: every release's scheme at once, distinct values, two host types

set_counters(Round) ->
    exometer:reset(),
    prometheus_counter:reset(),
    Types = [{xmppMessageSent, in, message_count}, {xmppMessageReceived, out, message_count},
             {xmppIqSent, in, iq_count}, {xmppIqReceived, out, iq_count},
             {xmppPresenceSent, in, presence_count}, {xmppPresenceReceived, out, presence_count}],
    lists:foreach(
      fun({I, {Type, Dir, Kind}}) ->
              Base = Round * 10 + I,
              [begin
                   exometer:set([HT, Type], Base),
                   exometer:set([HT, c2s_dir(Dir), Kind], Base * 100),
                   exometer:set([HT, xmpp_dir(Dir), c2s, Kind], Base * 1000),
                   exometer:set([HT, xmpp_dir(Dir), s2s, Kind], Base * 2000),
                   prometheus_counter:set(atom_to_list(xmpp_dir(Dir)) ++ "_" ++ atom_to_list(Kind),
                                          [HT, c2s], Base * 10000)
               end || HT <- [<<"localhost">>, <<"anonymous">>]]
      end, lists:zip(lists:seq(1, 6), Types)).

c2s_dir(in) -> c2s_element_in;
c2s_dir(out) -> c2s_element_out.
xmpp_dir(in) -> xmpp_element_in;
xmpp_dir(out) -> xmpp_element_out.

has_stanza_counts(Config) ->
    Reqs = ga4_stub_server:requests(?config(our_server, Config)),
    lists:any(fun(#{json := #{<<"events">> := Es}}) ->
                      lists:any(fun(#{<<"name">> := N}) -> N =:= <<"xmpp_stanza_count">> end, Es)
              end, Reqs).

%%--------------------------------------------------------------------
%% Two more nodes: a 3-node cluster

start_peers(Config) ->
    Started = case node() of
                  nonode@nohost ->
                      _ = os:cmd("epmd -daemon"),
                      {ok, _} = net_kernel:start(msm_diff_ct, #{name_domain => shortnames}),
                      true;
                  _ -> false
              end,
    Peers = [begin
                 {ok, Peer, _Node} = peer:start_link(#{name => peer:random_name()}),
                 unlink(Peer),
                 Peer
             end || _ <- [1, 2]],
    [{peers, Peers}, {started_distribution, Started} | Config].

stop_peers(Config) ->
    [peer:stop(P) || P <- proplists:get_value(peers, Config, [])],
    case proplists:get_value(started_distribution, Config, false) of
        true -> net_kernel:stop();
        false -> ok
    end.
