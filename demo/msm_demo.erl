%%% @doc The main job (`make demo'): one real report, end to end, on this machine only.
%%%
%%% Starts the embedded local GA4-compatible collector (ga4_stub_server: it checks GA4's
%%% rules strictly and answers like GA4's validation server) on 127.0.0.1, starts
%%% service_mongoose_system_metrics standalone on that endpoint with this node's own facts,
%%% waits for one report, then prints the JSON payload sent, what the collector received and
%%% accepted, a validation round trip, and where the report file is. No other address is
%%% ever contacted. Halts with 0 on success, 1 with a clear message otherwise.
-module(msm_demo).

-export([main/0, main/1]).

-define(TIMEOUT_MS, 30000).

-spec main() -> no_return().
main() ->
    main([]).

-spec main([string()]) -> no_return().
main(_Args) ->
    Code = try run() of
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

run() ->
    {ok, _} = application:ensure_all_started(jiffy),
    {ok, _} = application:ensure_all_started(mongoose_system_metrics),
    case mongoose_system_metrics_nif:load_error() of
        none -> ok;
        Err -> fail("the NIF library did not load: ~p", [Err])
    end,
    Dir = filename:absname("_build/demo/log"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    _ = file:delete(filename:join(Dir, "system_metrics_last_success")),
    application:set_env(mongoose_system_metrics, report_dir, Dir),
    %% A demo property: the local collector does not check secrets, and nothing here is real.
    application:set_env(mongoose_system_metrics, predefined_tracking_id,
                        #{id => "G-DEMO000001", secret => "demo-secret-not-real"}),
    {ok, Collector} = ga4_stub_server:start(),
    Url = ga4_stub_server:url(Collector),
    section("Embedded GA4-compatible collector"),
    io:format("listening on ~s (127.0.0.1 only; nothing leaves this machine)~n", [Url]),
    Opts = #{initial_report => 200, periodic_report => 3600000, report => true,
             url => list_to_binary(Url), timeout => 5000, max_retries => 1},
    {ok, _} = service_mongoose_system_metrics:start(Opts),
    section("Preview (what the next report will send; secrets masked, nothing sent)"),
    case service_mongoose_system_metrics:preview() of
        {ok, #{requests := Planned}} ->
            [io:format("POST ~s  (~b bytes)~n", [U, byte_size(B)]) || #{url := U, body := B} <- Planned];
        {error, PreviewErr} ->
            fail("preview failed: ~p", [PreviewErr])
    end,
    case ga4_stub_server:wait_for_requests(Collector, 1, ?TIMEOUT_MS) of
        ok -> ok;
        timeout -> fail("no report reached the collector within ~b s", [?TIMEOUT_MS div 1000])
    end,
    Status = wait_for_success(?TIMEOUT_MS),
    Requests = ga4_stub_server:requests(Collector),
    section("JSON payload sent (request bodies as received)"),
    [io:format("POST ~s?~s~n~s~n", [Path, masked_query(Query), pretty(Body)])
     || #{path := Path, query := Query, body := Body} <- Requests],
    section("What the collector received and accepted"),
    Events = ga4_stub_server:events(Collector),
    Violations = ga4_stub_server:violations(Collector),
    io:format("requests: ~b, events: ~b, GA4 rule violations: ~b~n",
              [length(Requests), length(Events), length(Violations)]),
    [io:format("  ~-22s ~ts~n", [Name, params_text(Params)]) || #{name := Name, params := Params} <- Events],
    Violations =:= [] orelse fail("the collector found GA4 rule violations: ~p", [Violations]),
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
    section("Service status"),
    io:format("~p~n", [maps:with([last_attempt, last_success, last_error, next_report_due,
                                  kill_switch, client_id], Status)]),
    ok = service_mongoose_system_metrics:stop(),
    ga4_stub_server:stop(Collector),
    io:format("~nDEMO OK: one report sent to the local collector and accepted.~n"),
    ok.

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
    io:format("~n== ~s ==~n", [Title]).

-spec fail(string(), list()) -> no_return().
fail(Fmt, Args) ->
    throw({demo_failed, io_lib:format(Fmt, Args)}).
