%%% @doc Reliability of the reporting path when sends are stopped or refused: a cancel, and a
%%% service stop, during a Retry-After wait (group `cancellation'); past the in-flight bound,
%%% `{error, overloaded}' at once and flat memory (group `overload'). The servers are
%%% msm_fault_server on 127.0.0.1.
-module(reliability_cancel_SUITE).

-include("support/msm_reliability.hrl").

-compile([export_all, nowarn_export_all]).

%% The helpers every reliability suite shares.
-import(msm_reliability, [pool_events/1, opts/2, url/1, closed_url/0, wait_result/2,
                          assert_within/3, wait_requests/2]).

all() ->
    [{group, cancellation}, {group, overload}].

groups() ->
    [{cancellation, [], [cancel_during_retry_after, service_stop_during_retry_after]},
     {overload, [], [overloaded_at_once_memory_flat]}].

%% The hook (msm_reliability) starts the applications and resets each case.
suite() ->
    [{timetrap, {minutes, 3}}, {ct_hooks, [{msm_reliability, []}]}].

init_per_group(cancellation, Config) ->
    {ok, Server} = msm_fault_server:start(),
    [{plain, Server} | Config];
init_per_group(_, Config) ->
    Config.

end_per_group(cancellation, Config) ->
    msm_fault_server:stop(?config(plain, Config));
end_per_group(_, _Config) ->
    ok.

%%%===================================================================
%%% Cancellation
%%%===================================================================

cancel_during_retry_after(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"2">>}]}),
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(url(Server), #{max_retries => 2})),
    wait_requests(Server, 1),
    timer:sleep(200),
    Cancelled = erlang:monotonic_time(millisecond),
    ok = ?NIF:cancel(Ref),
    [R] = wait_result(Ref, 5000),
    assert_within(erlang:monotonic_time(millisecond) - Cancelled, 0, 1000),
    ?assertMatch(#{result := {error, cancelled}, requests := 1, events := 0}, R),
    %% Past the Retry-After: the retry never comes.
    timer:sleep(3000),
    ?assertEqual(1, length(msm_fault_server:requests(Server))).

service_stop_during_retry_after(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"2">>}]}),
    Dir = msm_test_helper:report_dir(Config),
    msm_test_helper:set_mim_config(),
    try
        {ok, Pid} = ?S:start(#{report => true, initial_report => 0, periodic_report => 3600000,
                               max_retries => 2, url => url(Server),
                               tracking_id => #{id => ?TID, secret => ?SECRET}}),
        wait_requests(Server, 1),
        timer:sleep(200),
        Stopping = erlang:monotonic_time(millisecond),
        ok = ?S:stop(),
        assert_within(erlang:monotonic_time(millisecond) - Stopping, 0, 1000),
        ?assertNot(is_process_alive(Pid)),
        timer:sleep(3000),
        ?assertEqual(1, length(msm_fault_server:requests(Server))),
        %% The cancelled send freed its in-flight slot.
        ok = ?NIF:configure(#{max_in_flight => 1}),
        ?assertMatch({ok, _}, ?NIF:send_report(pool_events(1), opts(closed_url(), #{}))),
        ?assert(filelib:is_regular(filename:join(Dir, "system_metrics_report.json")))
    after
        msm_test_helper:stop_service(),
        msm_test_helper:clear_mim_config()
    end.

%%%===================================================================
%%% Overload
%%%===================================================================

overloaded_at_once_memory_flat(_Config) ->
    {ok, Hang} = msm_fault_server:start(),
    msm_fault_server:set_default(Hang, hang),
    try
        ok = ?NIF:configure(#{max_in_flight => 4}),
        Opts = opts(msm_fault_server:url(Hang, "/mp/collect"), #{timeout_ms => 60000}),
        Events = pool_events(25),
        Refs = [begin {ok, R} = ?NIF:send_report(Events, Opts), R end || _ <- lists:seq(1, 4)],
        wait_requests(Hang, 4),
        Overload = fun(N) ->
                           lists:foldl(fun(_, Max) ->
                                               T0 = erlang:monotonic_time(microsecond),
                                               {error, overloaded} = ?NIF:send_report(Events, Opts),
                                               max(Max, erlang:monotonic_time(microsecond) - T0)
                                       end, 0, lists:seq(1, N))
                   end,
        _ = Overload(5000),
        erlang:garbage_collect(),
        Rss0 = rss_kb(),
        Mem0 = erlang:memory(total),
        MaxUs = Overload(50000),
        erlang:garbage_collect(),
        Rss1 = rss_kb(),
        Mem1 = erlang:memory(total),
        ct:log("slowest overloaded call ~p us; RSS ~p -> ~p kB; erlang:memory ~p -> ~p",
               [MaxUs, Rss0, Rss1, Mem0, Mem1]),
        %% At once: never waiting for the endpoint, which holds every request for a minute.
        ?assert(MaxUs < 1000000),
        %% Flat: 50,000 refusals of ~2.5 kB plans; a leak of one plan each would be 125 MB.
        ?assert(Rss1 - Rss0 < 20 * 1024),
        ?assert(Mem1 - Mem0 < 20 * 1024 * 1024),
        %% Still exactly the four sends in flight at the endpoint.
        ?assertEqual(4, length(msm_fault_server:requests(Hang))),
        ok = ?NIF:cancel_all(),
        [?assertMatch([#{result := {error, cancelled}}], wait_result(R, 5000)) || R <- Refs]
    after
        msm_fault_server:stop(Hang)
    end.

rss_kb() ->
    {ok, Status} = file:read_file("/proc/" ++ os:getpid() ++ "/status"),
    {match, [Kb]} = re:run(Status, "VmRSS:\\s+(\\d+) kB", [{capture, all_but_first, binary}]),
    binary_to_integer(Kb).
