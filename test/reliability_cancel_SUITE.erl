%%% @doc Reliability of the reporting path when sends are stopped or refused: a cancel, and a
%%% service stop, during a Retry-After wait (group `cancellation'); past the in-flight bound,
%%% `{error, overloaded}' at once and flat memory (group `overload'). The servers are
%%% msm_fault_server on 127.0.0.1.
-module(reliability_cancel_SUITE).

-include("support/msm_reliability.hrl").

-compile([export_all, nowarn_export_all]).

%% The helpers every reliability suite shares.
-import(msm_reliability, [pool_events/1, opts/2, url/1, closed_url/0, wait_result/2,
                          wait_requests/2]).

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

%% A send cancelled (or whose service stops) while it waits out a Retry-After of 30 s must
%% not wait it out: its answer (its free slot) is awaited for less than that wait.
-define(SHORTER_THAN_THE_WAIT, 20000).

%% Cancelled while waiting out a Retry-After of 30 s (the 429 was answered): the send ends
%% `cancelled' after its one request, without the ten retries that would take five minutes.
cancel_during_retry_after(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"30">>}]}),
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(url(Server), #{max_retries => 10})),
    wait_answered(Server),
    ok = ?NIF:cancel(Ref),
    [R] = wait_result(Ref, ?SHORTER_THAN_THE_WAIT),
    ?assertMatch(#{result := {error, cancelled}, requests := 1, events := 0}, R),
    ?assertEqual(1, length(msm_fault_server:requests(Server))).

%% The same wait inside the service: stopping it cancels the send, whose in-flight slot is
%% then free again (the only slot, while the send would otherwise wait five minutes), and
%% the server saw the one request.
service_stop_during_retry_after(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"30">>}]}),
    Dir = msm_test_helper:report_dir(Config),
    msm_test_helper:set_mim_config(),
    try
        {ok, Pid} = ?S:start(#{report => true, initial_report => 0, periodic_report => 3600000,
                               max_retries => 10, url => url(Server),
                               tracking_id => #{id => ?TID, secret => ?SECRET}}),
        wait_answered(Server),
        ok = ?S:stop(),
        ?assertNot(is_process_alive(Pid)),
        %% The cancelled send freed its in-flight slot.
        ok = ?NIF:configure(#{max_in_flight => 1}),
        ok = msm_test_helper:wait_until(
               fun() -> case ?NIF:send_report(pool_events(1), opts(closed_url(), #{})) of
                            {ok, R} -> _ = wait_result(R, ?WAIT), true;
                            {error, overloaded} -> false
                        end
               end, ?SHORTER_THAN_THE_WAIT),
        ?assertEqual(1, length(msm_fault_server:requests(Server))),
        ?assert(filelib:is_regular(filename:join(Dir, "system_metrics_report.json")))
    after
        msm_test_helper:stop_service(),
        msm_test_helper:clear_mim_config()
    end.

%% The server has written its first answer (the 429 asking to wait).
wait_answered(Server) ->
    ok = msm_test_helper:wait_until(
           fun() -> [A || {answered, _, 429} = A <- msm_fault_server:log(Server)] =/= [] end,
           ?WAIT).

%%%===================================================================
%%% Overload
%%%===================================================================

overloaded_at_once_memory_flat(_Config) ->
    {ok, Hang} = msm_fault_server:start(),
    msm_fault_server:set_default(Hang, hang),
    try
        ok = ?NIF:configure(#{max_in_flight => 4}),
        Opts = opts(msm_fault_server:url(Hang, "/mp/collect"), #{timeout_ms => 300000}),
        Events = pool_events(25),
        Refs = [begin {ok, R} = ?NIF:send_report(Events, Opts), R end || _ <- lists:seq(1, 4)],
        wait_requests(Hang, 4),
        %% Each call answers overloaded while the four sends are still held: none waited for
        %% a slot to free (none frees while the endpoint holds every request).
        Overload = fun(N) ->
                           [{error, overloaded} = ?NIF:send_report(Events, Opts)
                            || _ <- lists:seq(1, N)],
                           ok
                   end,
        ok = Overload(5000),
        erlang:garbage_collect(),
        Rss0 = rss_kb(),
        Mem0 = erlang:memory(total),
        ok = Overload(50000),
        erlang:garbage_collect(),
        Rss1 = rss_kb(),
        Mem1 = erlang:memory(total),
        ct:log("RSS ~p -> ~p kB; erlang:memory ~p -> ~p", [Rss0, Rss1, Mem0, Mem1]),
        ?assertEqual(4, msm_fault_server:open_connections(Hang)),
        %% Flat: 50,000 refusals of ~2.5 kB plans; a leak of one plan each would be 125 MB.
        ?assert(Rss1 - Rss0 < 20 * 1024),
        ?assert(Mem1 - Mem0 < 20 * 1024 * 1024),
        %% Still exactly the four sends in flight at the endpoint.
        ?assertEqual(4, length(msm_fault_server:requests(Hang))),
        ok = ?NIF:cancel_all(),
        [?assertMatch([#{result := {error, cancelled}}], wait_result(R, ?WAIT)) || R <- Refs]
    after
        msm_fault_server:stop(Hang)
    end.

rss_kb() ->
    {ok, Status} = file:read_file("/proc/" ++ os:getpid() ++ "/status"),
    {match, [Kb]} = re:run(Status, "VmRSS:\\s+(\\d+) kB", [{capture, all_but_first, binary}]),
    binary_to_integer(Kb).
