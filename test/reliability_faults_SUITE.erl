%%% @doc Reliability of the reporting path under network faults: the fault matrix through the
%%% real NIF. For each fault, the result and the attempts in the server's own log (counted,
%%% never timed: the only time compared is the gap between two attempts the server logged,
%%% where Retry-After asks for one); then, after the HTTP client's idle timeout, no connection,
%%% descriptor, thread, port or process left. The servers are on 127.0.0.1 (msm_fault_server,
%%% HTTP and HTTPS with certificates made by msm_reliability; msm_connect_proxy).
-module(reliability_faults_SUITE).

-include("support/msm_reliability.hrl").

-compile([export_all, nowarn_export_all]).

%% The helpers every reliability suite shares.
-import(msm_reliability, [pool_events/1, opts/2, url/1, closed_url/0, send_and_wait/3,
                          wait_no_open_connections/2, start_peer/2,
                          snapshot/0, assert_nothing_left/1]).

all() ->
    [{group, faults}].

groups() ->
    [{faults, [], [connection_refused, connect_timeout, response_slower_than_timeout,
                   reset_mid_response, status_500_retried, status_503_retried,
                   status_429_short_retry_after_honoured, status_429_retry_after_over_cap,
                   status_400_not_retried, redirect_not_followed, tls_self_signed_fails,
                   tls_wrong_host_fails, tls_cacertfile_ca_passes, https_proxy_from_env,
                   nothing_left_after_idle_timeout]}].

%% The hook (msm_reliability) starts the applications, makes the certificates and resets
%% each case.
suite() ->
    [{timetrap, {minutes, 3}}, {ct_hooks, [{msm_reliability, [pki]}]}].

init_per_group(faults, Config) ->
    Pki = ?config(pki, Config),
    {ok, Plain} = msm_fault_server:start(),
    {ok, Good} = msm_fault_server:start(#{tls => maps:get(good, Pki)}),
    {ok, WrongHost} = msm_fault_server:start(#{tls => maps:get(wrong_host, Pki)}),
    {ok, SelfSigned} = msm_fault_server:start(#{tls => maps:get(self_signed, Pki)}),
    %% Warm up: the engine's runtime and a TLS handshake on each side, then the baseline.
    _ = send_and_wait(pool_events(1), opts(closed_url(), #{max_retries => 0}), 10000),
    _ = send_and_wait(pool_events(1), opts(msm_fault_server:url(Good, "/mp/collect"),
                                           #{cacertfile => maps:get(ca_file, Pki)}), 10000),
    ok = wait_no_open_connections([Good], ?IDLE_WAIT_MS),
    msm_fault_server:reset_log(Good),
    [{plain, Plain}, {good, Good}, {wrong_host, WrongHost}, {self_signed, SelfSigned},
     {baseline, snapshot()} | Config].

end_per_group(faults, Config) ->
    [msm_fault_server:stop(?config(K, Config)) || K <- [plain, good, wrong_host, self_signed]],
    ok.

%%%===================================================================
%%% Fault matrix
%%%===================================================================

%% Policy: 1 + max_retries attempts for connection errors, timeouts, 429 and 5xx; backoff
%% before retry n uniform in [0, 500 ms * 2^(n-1)]; Retry-After up to 30 s replaces it.
-define(RETRIES, 2).

connection_refused(_Config) ->
    [R] = send(closed_url(), #{max_retries => ?RETRIES, timeout_ms => 2000}),
    ?assertMatch(#{result := {error, connect_error}, requests := 3, events := 0}, R).

connect_timeout(_Config) ->
    %% A listener that never accepts, its backlog filled by the test: further SYNs are dropped
    %% by the kernel, so connecting hangs until the per-attempt timeout.
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}, {backlog, 0}]),
    {ok, Port} = inet:port(L),
    Fillers = fill_backlog(Port, []),
    try
        Timeout = 500,
        Url = "http://127.0.0.1:" ++ integer_to_list(Port) ++ "/mp/collect",
        [R] = send(Url, #{max_retries => ?RETRIES, timeout_ms => Timeout}),
        ?assertMatch(#{result := {error, timeout}, requests := 3, events := 0}, R)
    after
        [gen_tcp:close(S) || S <- Fillers],
        gen_tcp:close(L)
    end.

%% Each of the three requests was received and given up by the client before the server's
%% answer (3 s later) was written: no answer is logged before the result.
response_slower_than_timeout(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {delay, 3000, {status, 204}}),
    [R] = send(url(Server), #{max_retries => ?RETRIES, timeout_ms => 400}),
    ?assertMatch(#{result := {error, timeout}, requests := 3, events := 0}, R),
    assert_attempts(Server, 3),
    ?assertEqual([], [A || {answered, _, _} = A <- msm_fault_server:log(Server)]).

reset_mid_response(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, reset_mid_response),
    [R] = send(url(Server), #{max_retries => ?RETRIES, timeout_ms => 2000}),
    ?assertMatch(#{result := {error, connect_error}, requests := 3, events := 0}, R),
    assert_attempts(Server, 3).

status_500_retried(Config) ->
    status_retried(?config(plain, Config), 500).

status_503_retried(Config) ->
    status_retried(?config(plain, Config), 503).

status_retried(Server, Status) ->
    msm_fault_server:set_default(Server, {status, Status}),
    [R] = send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, {http_status, Status}}, requests := 3, events := 0}, R),
    assert_attempts(Server, 3).

status_429_short_retry_after_honoured(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"1">>}]}),
    [R] = send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, rate_limited}, requests := 3, events := 0}, R),
    %% The server's own log: each retry came at least the Retry-After (1 s) after the request
    %% answered with it, where the jittered backoff would allow 0 to 0.5 s and 0 to 1 s.
    [T1, T2, T3] = assert_attempts(Server, 3),
    ?assert(T2 - T1 >= 950),
    ?assert(T3 - T2 >= 950).

%% Past the cap the send ends rate_limited after the one request (waiting 31 s, twice,
%% would outlast the wait for the result).
status_429_retry_after_over_cap(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"31">>}]}),
    [R] = send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, rate_limited}, requests := 1, events := 0}, R),
    assert_attempts(Server, 1).

status_400_not_retried(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 400}),
    [R] = send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, {http_status, 400}}, requests := 1, events := 0}, R),
    assert_attempts(Server, 1).

redirect_not_followed(Config) ->
    Server = ?config(plain, Config),
    Elsewhere = list_to_binary(msm_fault_server:url(Server, "/elsewhere")),
    msm_fault_server:set_default(Server, {status, 302, [{<<"Location">>, Elsewhere}]}),
    [R] = send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, {http_status, 302}}, requests := 1, events := 0}, R),
    assert_attempts(Server, 1),
    ?assertEqual([<<"/mp/collect">>],
                 [P || {request, _, #{path := P}} <- msm_fault_server:log(Server)]).

tls_self_signed_fails(Config) ->
    Server = ?config(self_signed, Config),
    [R] = send(msm_fault_server:url(Server, "/mp/collect"), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, tls_error}, requests := 1, events := 0}, R),
    assert_tls_refused(Server).

tls_wrong_host_fails(Config) ->
    %% Signed by the CA given as cacertfile, but for another host name.
    Server = ?config(wrong_host, Config),
    Ca = maps:get(ca_file, ?config(pki, Config)),
    [R] = send(msm_fault_server:url(Server, "/mp/collect"),
               #{max_retries => ?RETRIES, cacertfile => Ca}),
    ?assertMatch(#{result := {error, tls_error}, requests := 1, events := 0}, R),
    assert_tls_refused(Server).

tls_cacertfile_ca_passes(Config) ->
    Server = ?config(good, Config),
    Ca = maps:get(ca_file, ?config(pki, Config)),
    [R] = send(msm_fault_server:url(Server, "/mp/collect"),
               #{max_retries => ?RETRIES, cacertfile => Ca}),
    ?assertMatch(#{result := ok, requests := 1, events := 1}, R),
    [{request, _, #{query := Q}}] = msm_fault_server:requests(Server),
    ?assertEqual(<<?SECRET>>, maps:get(<<"api_secret">>, Q)),
    %% Without the cacertfile the same server is not trusted.
    [R2] = send(msm_fault_server:url(Server, "/mp/collect"), #{max_retries => 0}),
    ?assertMatch(#{result := {error, tls_error}}, R2).

https_proxy_from_env(Config) ->
    %% The client reads HTTPS_PROXY when it is built: a peer node started with the variable.
    Server = ?config(good, Config),
    Ca = maps:get(ca_file, ?config(pki, Config)),
    {ok, Proxy} = msm_connect_proxy:start(),
    Url = msm_fault_server:url(Server, "/mp/collect"),
    try
        {ok, Peer} = start_peer(?MODULE, [{"HTTPS_PROXY", msm_connect_proxy:url(Proxy)},
                                          {"https_proxy", false}, {"NO_PROXY", false},
                                          {"no_proxy", false}, {"ALL_PROXY", false}]),
        try
            [R] = peer:call(Peer, msm_reliability, send_and_wait,
                            [pool_events(1), opts(Url, #{cacertfile => Ca}), ?WAIT], 2 * ?WAIT),
            ?assertMatch(#{result := ok, requests := 1, events := 1}, R),
            Target = iolist_to_binary(["127.0.0.1:", integer_to_list(msm_fault_server:port(Server))]),
            ?assertEqual([{connect, Target}], msm_connect_proxy:log(Proxy)),
            ?assertEqual(1, length(msm_fault_server:requests(Server)))
        after
            peer:stop(Peer)
        end,
        %% This node has no HTTPS_PROXY: its sends go direct.
        [R2] = send_and_wait(pool_events(1), opts(Url, #{cacertfile => Ca}), ?WAIT),
        ?assertMatch(#{result := ok}, R2),
        ?assertEqual(1, length(msm_connect_proxy:log(Proxy)))
    after
        msm_connect_proxy:stop(Proxy)
    end.

nothing_left_after_idle_timeout(Config) ->
    %% The servers keep every connection open; only the client's idle timeout closes them.
    Servers = [?config(K, Config) || K <- [plain, good, wrong_host, self_signed]],
    ok = wait_no_open_connections(Servers, ?IDLE_WAIT_MS),
    ?assert(lists:any(fun(S) -> [E || {closed, _, by_client} = E <- msm_fault_server:log(S)] =/= [] end,
                      Servers)),
    assert_nothing_left(?config(baseline, Config)).

%%%===================================================================
%%% Helpers
%%%===================================================================

send(Url, Extra) ->
    Results = send_and_wait(pool_events(1), opts(Url, Extra), ?WAIT),
    ct:log("result: ~p", [Results]),
    Results.

%% The server's log holds exactly N requests (a request the client gave up on may be logged
%% just after the result: waited for). Their times.
assert_attempts(Server, N) ->
    _ = catch msm_test_helper:wait_until(
                fun() -> length(msm_fault_server:requests(Server)) >= N end, ?WAIT),
    Requests = msm_fault_server:requests(Server),
    ?assertEqual(N, length(Requests)),
    [T || {request, T, _} <- Requests].

%% One connection, its handshake refused (logged by the server, waited for), no request.
assert_tls_refused(Server) ->
    ok = msm_test_helper:wait_until(
           fun() -> [E || {closed, _, tls_error} = E <- msm_fault_server:log(Server)] =/= [] end,
           ?WAIT),
    Log = msm_fault_server:log(Server),
    ct:log("TLS server log: ~p", [Log]),
    ?assertEqual(1, length([C || {connection, _, _} = C <- Log])),
    ?assertEqual(1, length([E || {tls_error, _, _} = E <- Log])),
    ?assertEqual([], [R || {request, _, _} = R <- Log]).

fill_backlog(Port, Acc) when length(Acc) > 64 ->
    ct:fail({backlog_never_full, Port});
fill_backlog(Port, Acc) ->
    case gen_tcp:connect({127, 0, 0, 1}, Port, [], 300) of
        {ok, S} -> fill_backlog(Port, [S | Acc]);
        {error, timeout} -> Acc
    end.

