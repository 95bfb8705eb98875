%%% @doc The main job (`make demo'): one real report, end to end, on this machine only, from
%%% a node running the sample configuration that `scripts/demo.sh' has just previewed.
%%%
%%% Starts the embedded local GA4-compatible collector (ga4_stub_server: it checks GA4's
%%% rules strictly and answers like GA4's validation server) on 127.0.0.1, makes this VM a
%%% stand-in MongooseIM node running the configuration (the stand-ins of test/mim_standins
%%% are given what `msm-preview --node-config' read from it: host types, modules and their
%%% options, listeners, pools), starts service_mongoose_system_metrics on the collector's
%%% URL with the configuration's tracking id, waits for one report, then shows the requests
%%% and events that arrived, checks that they are the previewed ones (but for what only the
%%% running node knows), a validation round trip, the report file and the service's status.
%%% The node holds the facts the preview read from the file, so that check covers the way from
%%% those facts to the collector; the reading of the file itself is checked against
%%% MongooseIM's own code by test/preview_mongooseim_SUITE.erl.
%%% No other address is ever contacted. Halts with 0 on success, 1 with a clear message.
-module(msm_demo).

-export([main/0, main/1]).

-define(TIMEOUT_MS, 30000).

-spec main() -> no_return().
main() ->
    main(["_build/demo/preview.json", "_build/demo/node_config.json", "demo/mongooseim.toml"]).

%% @doc Args: the preview (`--json'), the node configuration (`--node-config') and the
%% configuration file they were made from.
-spec main([string()]) -> no_return().
main([PreviewFile, NodeConfigFile, ConfigFile]) ->
    Code = try run(PreviewFile, NodeConfigFile, ConfigFile) of
               ok -> 0
           catch
               throw:{demo_failed, Why} ->
                   io:format("~nDEMO FAILED: ~ts~n", [Why]),
                   1;
               Class:Reason:Stack ->
                   io:format("~nDEMO FAILED: ~p:~p~n~p~n", [Class, Reason, Stack]),
                   1
           end,
    erlang:halt(Code).

run(PreviewFile, NodeConfigFile, ConfigFile) ->
    {ok, _} = application:ensure_all_started(jiffy),
    {ok, _} = application:ensure_all_started(mongoose_system_metrics),
    case mongoose_system_metrics_nif:load_error() of
        none -> ok;
        Err -> fail("the NIF library did not load: ~p", [Err])
    end,
    #{<<"events">> := Previewed, <<"requests">> := Planned, <<"runtime_only">> := Runtime} =
        jiffy:decode(read(PreviewFile), [return_maps]),
    _ = msm_node_config:apply(read(NodeConfigFile), ConfigFile),
    section("Stand-in MongooseIM node running " ++ ConfigFile),
    [MimVersion] = [Vsn || {mongooseim, _, Vsn} <- application:which_applications()],
    io:format("MongooseIM ~s; host types ~ts; its own collector gathers the facts~n",
              [MimVersion, lists:join(", ", mongoose_system_metrics_mim_host_types())]),
    Dir = filename:absname("_build/demo/log"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    _ = file:delete(filename:join(Dir, "system_metrics_last_success")),
    application:set_env(mongoose_system_metrics, report_dir, Dir),
    {ok, Collector} = ga4_stub_server:start(),
    Url = ga4_stub_server:url(Collector),
    section("Embedded GA4-compatible collector"),
    io:format("listening on ~s (127.0.0.1 only; nothing leaves this machine); it stands in for "
              "the configured endpoint~n", [Url]),
    %% The configured tracking id, as previewed; the local collector does not check secrets.
    TrackingId = case lists:usort([T || #{<<"tracking_id">> := T} <- Planned]) of
                     [T] -> T;
                     Other -> fail("expected one configured tracking id, got ~p", [Other])
                 end,
    Opts = #{initial_report => 200, periodic_report => 3600000, report => true,
             url => list_to_binary(Url), timeout => 5000, max_retries => 1,
             tracking_id => #{id => TrackingId, secret => <<"demo-secret-not-real">>}},
    {ok, _} = service_mongoose_system_metrics:start(Opts),
    case ga4_stub_server:wait_for_requests(Collector, length(Planned), ?TIMEOUT_MS) of
        ok -> ok;
        timeout -> fail("the report did not reach the collector within ~b s", [?TIMEOUT_MS div 1000])
    end,
    Status = wait_for_success(?TIMEOUT_MS),
    Requests = ga4_stub_server:requests(Collector),
    section("Requests received (api_secret masked)"),
    [io:format("POST ~s?~s  (~b events, ~b bytes)~n",
               [Path, masked_query(Query), length(maps:get(<<"events">>, Json, [])), byte_size(Body)])
     || #{path := Path, query := Query, body := Body, json := Json} <- Requests],
    #{body := LastBody} = lists:last(Requests),
    io:format("~nThe last one's JSON payload:~n~s~n", [pretty(LastBody)]),
    section("Events the collector received and accepted"),
    Events = ga4_stub_server:events(Collector),
    Violations = ga4_stub_server:violations(Collector),
    io:format("requests: ~b, events: ~b, GA4 rule violations: ~b~n",
              [length(Requests), length(Events), length(Violations)]),
    [io:format("  ~-22s ~ts~n", [Name, params_text(Params)]) || #{name := Name, params := Params} <- Events],
    Violations =:= [] orelse fail("the collector found GA4 rule violations: ~p", [Violations]),
    compare_with_preview(Previewed, Runtime, Events),
    section("Validation server round trip (validate_now/0 -> /debug/mp/collect)"),
    case service_mongoose_system_metrics:validate_now() of
        {ok, Results} ->
            [io:format("~s: ~p, validationMessages: ~p~n",
                       [Tid, R, maps:get(validation_messages, Res, [])])
             || #{tracking_id := Tid, result := R} = Res <- Results],
            lists:all(fun(#{result := R, validation_messages := M}) -> R =:= ok andalso M =:= [] end,
                      Results) orelse fail("validation reported problems: ~p", [Results]);
        {error, ValErr} ->
            fail("validate_now failed: ~p", [ValErr])
    end,
    section("Report file"),
    File = maps:get(report_file, Status),
    case file:read_file(File) of
        {ok, Json} ->
            _ = jiffy:decode(Json, [return_maps]),
            io:format("~s (~b bytes, valid JSON; the last report, written even when nothing "
                      "is sent)~n", [File, byte_size(Json)]);
        {error, FileErr} ->
            fail("report file ~s unreadable: ~p", [File, FileErr])
    end,
    section("Service status (on a MongooseIM node: scripts/msm status --node NODE)"),
    io:format("~p~n", [maps:with([last_attempt, last_success, last_error, next_report_due,
                                  kill_switch, client_id, tracking_ids], Status)]),
    ok = service_mongoose_system_metrics:stop(),
    ga4_stub_server:stop(Collector),
    io:format("~nDEMO OK: the previewed report was sent to the local collector and accepted.~n"),
    ok.

%% The events that arrived are the previewed ones, but for the values only the running node
%% knows (this VM's uptime, ...): the node's collector and engine, given the facts the preview
%% read, build and send what the preview printed.
compare_with_preview(Previewed, Runtime, Received) ->
    Strip = fun(Name, Params) ->
                    maps:filter(fun(K, _) -> not is_runtime(Runtime, Name, K) end, Params)
            end,
    Expected = [{N, Strip(N, P)} || #{<<"name">> := N, <<"params">> := P} <- Previewed],
    Got = [{N, Strip(N, P)} || #{name := N, params := P} <- Received],
    case Expected =:= Got of
        true ->
            io:format("~nThese are the ~b previewed events, in the previewed order, built by "
                      "this node's own collector and engine from the facts the preview read; "
                      "only what the running node decides differs (~ts).~n",
                      [length(Expected), lists:join(", ", Runtime)]);
        false ->
            fail("the events received differ from the preview:~nexpected ~p~ngot ~p",
                 [Expected -- Got, Got -- Expected])
    end.

is_runtime(Runtime, Event, Param) ->
    lists:member(Param, Runtime)
        orelse (lists:member(Event, Runtime)
                andalso lists:member(Param, [<<"value">>, <<"total">>, <<"increment">>])).

mongoose_system_metrics_mim_host_types() ->
    {ok, HostTypes} = mongoose_system_metrics_mim:host_types(),
    HostTypes.

read(File) ->
    case file:read_file(File) of
        {ok, Bin} -> Bin;
        {error, Why} -> fail("cannot read ~s: ~p", [File, Why])
    end.

wait_for_success(Timeout) when Timeout =< 0 ->
    fail("the service did not record a successful report; status: ~p",
         [service_mongoose_system_metrics:status()]);
wait_for_success(Timeout) ->
    case service_mongoose_system_metrics:status() of
        #{last_success := T} = Status when is_integer(T) -> Status;
        #{last_error := #{} = E} -> fail("the report failed: ~p", [E]);
        _ -> timer:sleep(100), wait_for_success(Timeout - 100)
    end.

masked_query(Query) ->
    lists:join("&", [[K, "=", case K of <<"api_secret">> -> <<"***">>; _ -> V end]
                     || {K, V} <- lists:sort(maps:to_list(Query))]).

%% Decoded to jiffy's ordered form, so keys print in the order they were sent.
pretty(Body) ->
    try jiffy:encode(jiffy:decode(Body), [pretty])
    catch _:_ -> Body
    end.

params_text(Params) ->
    lists:join(", ", [io_lib:format("~ts=~ts", [K, value_text(V)])
                      || {K, V} <- lists:sort(maps:to_list(Params))]).

value_text(V) when is_integer(V) -> integer_to_list(V);
value_text(V) when is_binary(V) -> V;
value_text(V) -> io_lib:format("~p", [V]).

section(Title) ->
    io:format("~n== ~ts ==~n", [Title]).

-spec fail(string(), list()) -> no_return().
fail(Fmt, Args) ->
    throw({demo_failed, io_lib:format(Fmt, Args)}).
