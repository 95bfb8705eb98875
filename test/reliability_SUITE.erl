%%% @doc Reliability and security of the reporting path (issue 6): a telemetry feature must never
%%% be the reason a messaging server stalls, crashes, leaks or lets anything out.
%%%
%%% Every network peer is a server this suite starts on 127.0.0.1 (msm_fault_server: HTTP and
%%% HTTPS with certificates generated here; msm_connect_proxy: an HTTPS proxy); no other
%%% address is ever contacted. Groups:
%%% <ul>
%%% <li>`faults': the fault matrix through the real NIF: for each fault, the result, the bound
%%%     the retry policy implies, and the attempts in the server's own log; then, after the
%%%     HTTP client's idle timeout, no connection, descriptor, thread, port or process left.</li>
%%% <li>`cancellation': a cancel, and a service stop, during a Retry-After wait.</li>
%%% <li>`hostile_input': PropEr properties over random and mutated terms on every engine
%%%     function: always an answer, no atom created, the VM up.</li>
%%% <li>`privacy': planted names never reach a report, a request, the file or a log line; the
%%%     api_secret never reaches a log, a result, a crash report or the file.</li>
%%% <li>`lifecycle': 100 application and service restarts, module reload, missing library,
%%%     VM halt with sends in flight.</li>
%%% <li>`files': atomic replacement of the report file; an unwritable directory.</li>
%%% <li>`overload': past the in-flight bound, `{error, overloaded}' at once and flat memory.</li>
%%% </ul>
-module(reliability_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include_lib("public_key/include/public_key.hrl").
-include_lib("proper/include/proper.hrl").

-compile([export_all, nowarn_export_all]).

-define(NIF, mongoose_system_metrics_nif).
-define(S, service_mongoose_system_metrics).
-define(SECRET, "rel-SUITE-api-s3cret-Value").
-define(TID, "G-RELIABLE1").
%% Slack on every time bound: the machine is shared and may be loaded.
-define(SLACK_MS, 3000).
%% The HTTP client's idle timeout (client.rs POOL_IDLE_TIMEOUT) is 5 s; idle connections are
%% reaped on the pool's next check, so allow up to twice that plus slack.
-define(IDLE_WAIT_MS, 15000).
%% The runtime: one worker thread and at most two blocking threads (dispatch.rs).
-define(MAX_MSM_THREADS, 3).

all() ->
    [{group, faults}, {group, cancellation}, {group, hostile_input}, {group, privacy},
     {group, lifecycle}, {group, files}, {group, overload}].

groups() ->
    [{faults, [], [connection_refused, connect_timeout, response_slower_than_timeout,
                   reset_mid_response, status_500_retried, status_503_retried,
                   status_429_short_retry_after_honoured, status_429_retry_after_over_cap,
                   status_400_not_retried, redirect_not_followed, tls_self_signed_fails,
                   tls_wrong_host_fails, tls_cacertfile_ca_passes, https_proxy_from_env,
                   nothing_left_after_idle_timeout]},
     {cancellation, [], [cancel_during_retry_after, service_stop_during_retry_after]},
     {hostile_input, [], [prop_random_terms_every_function, prop_mutated_inputs_every_function,
                          vm_and_engine_still_up]},
     {privacy, [], [prop_planted_strings_never_in_report_or_requests,
                    prop_planted_config_never_leaves_through_service,
                    secret_never_in_logs_results_crash_reports_or_file]},
     {lifecycle, [], [app_stop_start_100_times, service_restart_100_times,
                      reload_stub_module_keeps_vm_up, missing_library_node_up_service_idle,
                      vm_halts_promptly_with_sends_in_flight]},
     {files, [], [report_file_replaced_atomically, unwritable_log_dir_logged_reporting_continues]},
     {overload, [], [overloaded_at_once_memory_flat]}].

suite() ->
    [{timetrap, {minutes, 3}}].

init_per_suite(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            {ok, _} = application:ensure_all_started(jiffy),
            {ok, _} = application:ensure_all_started(ssl),
            {ok, _} = application:ensure_all_started(mongoose_system_metrics),
            Dir = ?config(priv_dir, Config),
            [{pki, make_pki(Dir)} | Config];
        Skip ->
            Skip
    end.

end_per_suite(_Config) ->
    ok.

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
     {baseline, snapshot()} | Config];
init_per_group(cancellation, Config) ->
    {ok, Server} = msm_fault_server:start(),
    [{plain, Server} | Config];
init_per_group(_, Config) ->
    Config.

end_per_group(faults, Config) ->
    [msm_fault_server:stop(?config(K, Config)) || K <- [plain, good, wrong_host, self_signed]],
    ok;
end_per_group(cancellation, Config) ->
    msm_fault_server:stop(?config(plain, Config));
end_per_group(_, _Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    [msm_fault_server:reset_log(S) || K <- [plain, good, wrong_host, self_signed],
                                      S <- [?config(K, Config)], is_pid(S)],
    case ?config(plain, Config) of
        undefined -> ok;
        Plain -> msm_fault_server:set_script(Plain, []),
                 msm_fault_server:set_default(Plain, {status, 204})
    end,
    msm_test_helper:clear_env(),
    Config.

end_per_testcase(_Case, _Config) ->
    ?NIF:cancel_all(),
    ok = ?NIF:configure(#{max_in_flight => 64}),
    flush(),
    ok.

%%%===================================================================
%%% Fault matrix
%%%===================================================================

%% Policy: 1 + max_retries attempts for connection errors, timeouts, 429 and 5xx; backoff
%% before retry n uniform in [0, 500 ms * 2^(n-1)]; Retry-After up to 30 s replaces it.
-define(RETRIES, 2).
-define(BACKOFF_CEILINGS_MS, 1500).   % 500 + 1000 for two retries

connection_refused(_Config) ->
    {Ms, [R]} = timed_send(closed_url(), #{max_retries => ?RETRIES, timeout_ms => 2000}),
    ?assertMatch(#{result := {error, connect_error}, requests := 3, events := 0}, R),
    assert_within(Ms, 0, ?BACKOFF_CEILINGS_MS + ?SLACK_MS).

connect_timeout(_Config) ->
    %% A listener that never accepts, its backlog filled by the test: further SYNs are dropped
    %% by the kernel, so connecting hangs until the per-attempt timeout.
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}, {backlog, 0}]),
    {ok, Port} = inet:port(L),
    Fillers = fill_backlog(Port, []),
    try
        Timeout = 500,
        Url = "http://127.0.0.1:" ++ integer_to_list(Port) ++ "/mp/collect",
        {Ms, [R]} = timed_send(Url, #{max_retries => ?RETRIES, timeout_ms => Timeout}),
        ?assertMatch(#{result := {error, timeout}, requests := 3, events := 0}, R),
        assert_within(Ms, 3 * Timeout, 3 * Timeout + ?BACKOFF_CEILINGS_MS + ?SLACK_MS)
    after
        [gen_tcp:close(S) || S <- Fillers],
        gen_tcp:close(L)
    end.

response_slower_than_timeout(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {delay, 3000, {status, 204}}),
    Timeout = 400,
    {Ms, [R]} = timed_send(url(Server), #{max_retries => ?RETRIES, timeout_ms => Timeout}),
    ?assertMatch(#{result := {error, timeout}, requests := 3, events := 0}, R),
    assert_within(Ms, 3 * Timeout, 3 * Timeout + ?BACKOFF_CEILINGS_MS + ?SLACK_MS),
    assert_attempts(Server, 3).

reset_mid_response(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, reset_mid_response),
    {Ms, [R]} = timed_send(url(Server), #{max_retries => ?RETRIES, timeout_ms => 2000}),
    ?assertMatch(#{result := {error, connect_error}, requests := 3, events := 0}, R),
    assert_within(Ms, 0, 3 * 100 + ?BACKOFF_CEILINGS_MS + ?SLACK_MS),
    assert_attempts(Server, 3).

status_500_retried(Config) ->
    status_retried(?config(plain, Config), 500).

status_503_retried(Config) ->
    status_retried(?config(plain, Config), 503).

status_retried(Server, Status) ->
    msm_fault_server:set_default(Server, {status, Status}),
    {Ms, [R]} = timed_send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, {http_status, Status}}, requests := 3, events := 0}, R),
    assert_within(Ms, 0, ?BACKOFF_CEILINGS_MS + ?SLACK_MS),
    assert_attempts(Server, 3).

status_429_short_retry_after_honoured(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"1">>}]}),
    {Ms, [R]} = timed_send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, rate_limited}, requests := 3, events := 0}, R),
    %% Two waits of exactly the Retry-After (1 s each), instead of the jittered backoff.
    assert_within(Ms, 2000, 2000 + ?SLACK_MS),
    [T1, T2, T3] = assert_attempts(Server, 3),
    ?assert(T2 - T1 >= 950),
    ?assert(T3 - T2 >= 950).

status_429_retry_after_over_cap(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 429, [{<<"Retry-After">>, <<"31">>}]}),
    {Ms, [R]} = timed_send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, rate_limited}, requests := 1, events := 0}, R),
    assert_within(Ms, 0, ?SLACK_MS),
    assert_attempts(Server, 1).

status_400_not_retried(Config) ->
    Server = ?config(plain, Config),
    msm_fault_server:set_default(Server, {status, 400}),
    {Ms, [R]} = timed_send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, {http_status, 400}}, requests := 1, events := 0}, R),
    assert_within(Ms, 0, ?SLACK_MS),
    assert_attempts(Server, 1).

redirect_not_followed(Config) ->
    Server = ?config(plain, Config),
    Elsewhere = list_to_binary(msm_fault_server:url(Server, "/elsewhere")),
    msm_fault_server:set_default(Server, {status, 302, [{<<"Location">>, Elsewhere}]}),
    {Ms, [R]} = timed_send(url(Server), #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, {http_status, 302}}, requests := 1, events := 0}, R),
    assert_within(Ms, 0, ?SLACK_MS),
    assert_attempts(Server, 1),
    ?assertEqual([<<"/mp/collect">>],
                 [P || {request, _, #{path := P}} <- msm_fault_server:log(Server)]).

tls_self_signed_fails(Config) ->
    Server = ?config(self_signed, Config),
    {Ms, [R]} = timed_send(msm_fault_server:url(Server, "/mp/collect"),
                           #{max_retries => ?RETRIES}),
    ?assertMatch(#{result := {error, tls_error}, requests := 1, events := 0}, R),
    assert_within(Ms, 0, ?SLACK_MS),
    assert_tls_refused(Server).

tls_wrong_host_fails(Config) ->
    %% Signed by the CA given as cacertfile, but for another host name.
    Server = ?config(wrong_host, Config),
    Ca = maps:get(ca_file, ?config(pki, Config)),
    {Ms, [R]} = timed_send(msm_fault_server:url(Server, "/mp/collect"),
                           #{max_retries => ?RETRIES, cacertfile => Ca}),
    ?assertMatch(#{result := {error, tls_error}, requests := 1, events := 0}, R),
    assert_within(Ms, 0, ?SLACK_MS),
    assert_tls_refused(Server).

tls_cacertfile_ca_passes(Config) ->
    Server = ?config(good, Config),
    Ca = maps:get(ca_file, ?config(pki, Config)),
    {Ms, [R]} = timed_send(msm_fault_server:url(Server, "/mp/collect"),
                           #{max_retries => ?RETRIES, cacertfile => Ca}),
    ?assertMatch(#{result := ok, requests := 1, events := 1}, R),
    assert_within(Ms, 0, ?SLACK_MS),
    [{request, _, #{query := Q}}] = msm_fault_server:requests(Server),
    ?assertEqual(<<?SECRET>>, maps:get(<<"api_secret">>, Q)),
    %% Without the cacertfile the same server is not trusted.
    {_, [R2]} = timed_send(msm_fault_server:url(Server, "/mp/collect"), #{max_retries => 0}),
    ?assertMatch(#{result := {error, tls_error}}, R2).

https_proxy_from_env(Config) ->
    %% The client reads HTTPS_PROXY when it is built: a peer node started with the variable.
    Server = ?config(good, Config),
    Ca = maps:get(ca_file, ?config(pki, Config)),
    {ok, Proxy} = msm_connect_proxy:start(),
    Url = msm_fault_server:url(Server, "/mp/collect"),
    try
        {ok, Peer} = start_peer([{"HTTPS_PROXY", msm_connect_proxy:url(Proxy)},
                                 {"https_proxy", false}, {"NO_PROXY", false},
                                 {"no_proxy", false}, {"ALL_PROXY", false}]),
        try
            Started = erlang:monotonic_time(millisecond),
            [R] = peer:call(Peer, ?MODULE, send_and_wait,
                            [pool_events(1), opts(Url, #{cacertfile => Ca}), 10000], 15000),
            Ms = erlang:monotonic_time(millisecond) - Started,
            ?assertMatch(#{result := ok, requests := 1, events := 1}, R),
            assert_within(Ms, 0, ?SLACK_MS + 2000),
            Target = iolist_to_binary(["127.0.0.1:", integer_to_list(msm_fault_server:port(Server))]),
            ?assertEqual([{connect, Target}], msm_connect_proxy:log(Proxy)),
            ?assertEqual(1, length(msm_fault_server:requests(Server)))
        after
            peer:stop(Peer)
        end,
        %% This node has no HTTPS_PROXY: its sends go direct.
        [R2] = send_and_wait(pool_events(1), opts(Url, #{cacertfile => Ca}), 10000),
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
%%% Hostile input (PropEr)
%%%===================================================================

-define(HOSTILE_CASES, 2000).

prop_random_terms_every_function(_Config) ->
    run_prop(?FORALL({A, B}, {hostile_term(), hostile_term()}, every_function_answers(A, B)),
             ?HOSTILE_CASES).

prop_mutated_inputs_every_function(_Config) ->
    Gen = ?LET({Which, Muts}, {oneof([node_info, events, opts]),
                               ?LET(N, range(1, 4), vector(N, mutation()))},
               {Which, apply_mutations(valid_input(Which), Muts)}),
    run_prop(?FORALL({Which, Term}, Gen,
                     case Which of
                         node_info -> every_function_answers(Term, valid_input(opts));
                         events -> every_function_answers(Term, valid_input(opts));
                         opts -> every_function_answers(valid_input(events), Term)
                     end),
             ?HOSTILE_CASES).

vm_and_engine_still_up(_Config) ->
    ?assertEqual(none, ?NIF:load_error()),
    ?assertMatch({ok, [_ | _]}, ?NIF:build_report(#{})),
    [R] = send_and_wait(pool_events(1), opts(closed_url(), #{max_retries => 0}), 10000),
    ?assertMatch(#{result := {error, connect_error}}, R).

run_prop(Prop, N) ->
    Result = proper:quickcheck(Prop, [{numtests, N}, long_result,
                                      {on_output, fun(".", []) -> ok;
                                                     (F, A) -> ct:log(F, A)
                                                  end}]),
    flush(),
    ok = ?NIF:configure(#{max_in_flight => 64}),
    case Result of
        true -> ok;
        Other -> ct:fail({property_failed, Other})
    end.

%% Every engine function on (A, B): an answer, never an exception, never a new atom.
every_function_answers(A, B) ->
    Url = case get(closed_url) of
              undefined -> U = closed_url(), put(closed_url, U), U;
              U -> U
          end,
    Opts = case B of
               #{} -> B#{url => Url};   % a send never goes anywhere else
               _ -> B
           end,
    Calls = [{build_report, [A]}, {encode_json, [A]}, {plan_requests, [A, B]},
             {send_report, [A, Opts]}, {cancel, [A]}, {configure, [A]}, {cancel_all, []}],
    Bad = [{F, R} || {F, Args} <- Calls, R <- [checked_call(F, Args)], R =/= ok],
    flush(),
    _ = ?NIF:configure(#{max_in_flight => 64}),
    ?WHENFAIL(ct:log("failed: ~p~non ~P~nand ~P", [Bad, A, 30, B, 30]), Bad =:= []).

checked_call(F, Args) ->
    case atoms_grow(F, Args) of
        {answer, _, 0} -> ok;
        {answer, _, _} ->
            %% Another process may have made an atom meanwhile: grows twice is the engine.
            case atoms_grow(F, Args) of
                {answer, _, 0} -> ok;
                {answer, R, N} -> {atoms_created, N, R};
                Bad -> Bad
            end;
        Bad -> Bad
    end.

atoms_grow(F, Args) ->
    Before = erlang:system_info(atom_count),
    R = try apply(?NIF, F, Args) catch C:E -> {raised, C, E} end,
    After = erlang:system_info(atom_count),
    case answer_ok(F, R) of
        true -> {answer, R, After - Before};
        false -> {bad_answer, R}
    end.

answer_ok(F, ok) when F =:= cancel; F =:= configure; F =:= cancel_all -> true;
answer_ok(_, {ok, _}) -> true;
answer_ok(_, {error, _}) -> true;
answer_ok(_, _) -> false.

%% Generators

hostile_term() ->
    frequency([{8, nested_term(3)}, {1, deep_term()}, {1, huge_term()}]).

nested_term(0) ->
    hostile_leaf();
nested_term(D) ->
    Sub = ?LAZY(nested_term(D - 1)),
    frequency([{4, hostile_leaf()},
               {2, short_list(Sub)},
               {2, ?LET(L, short_list({oneof([schema_atom(), hostile_leaf()]), Sub}),
                        maps:from_list(L))},
               {1, ?LET({L, T}, {short_list(Sub), Sub}, improper(L, T))},
               {1, ?LET(L, short_list(Sub), list_to_tuple(L))}]).

short_list(G) ->
    ?LET(N, range(0, 6), vector(N, G)).

improper([], T) -> [T | T];
improper(L, T) -> lists:foldr(fun(X, Acc) -> [X | Acc] end, T, L).

hostile_leaf() ->
    oneof([schema_atom(), existing_atom(), integer(), largeint(),
           exactly(1 bsl 64), exactly(-(1 bsl 63) - 1), float(),
           binary(), non_utf8_binary(), bitstring(), utf8_string(),
           exactly(self()), exactly(fun() -> ok end), ?LET(_, integer(), make_ref()),
           exactly(hd(erlang:ports())), exactly(<<>>), exactly([])]).

schema_atom() ->
    elements([version, uptime_seconds, node_count, component_count, config_type,
              host_type_count, domain_count, modules, http_handlers, c2s_listeners,
              outgoing_pools, stanza_counts, previous_stanza_counts, module, opts, backend,
              proto, tls, mode, name, params, client_id, tracking_ids, id, secret, url,
              timeout_ms, max_retries, cacertfile, notify, max_in_flight, toml, mod_mam,
              xmppMessageSent, collect, validate, true, false, undefined]).

existing_atom() ->
    elements([ok, error, badarg, erlang, lists, self, node, infinity, '', 'é', 'a b']).

non_utf8_binary() ->
    ?LET(B, binary(), <<255, 254, B/binary, 192>>).

utf8_string() ->
    ?LET(S, list(range(0, 16#10FFFF - 16#800)), [C || C <- S, C < 16#D800 orelse C > 16#DFFF]).

deep_term() ->
    ?LET({D, Kind}, {range(1, 5000), elements([list, map, modules])},
         nest(D, Kind, x)).

nest(0, _, T) -> T;
nest(N, list, T) -> nest(N - 1, list, [T]);
nest(N, map, T) -> nest(N - 1, map, #{opts => T});
nest(N, modules, T) -> nest(N - 1, modules, #{modules => [#{module => mod_mam, opts => T}]}).

huge_term() ->
    oneof([?LET(N, range(9990, 10010), lists:duplicate(N, #{module => mod_acme})),
           ?LET(N, range(9990, 10010), #{outgoing_pools => lists:duplicate(N, rdbms)}),
           ?LET(N, range(250, 300), #{version => binary:copy(<<"6">>, N)}),
           exactly(#{version => binary:copy(<<"x">>, 1 bsl 20)}),
           ?LET(N, range(9990, 10010), maps:from_list([{I, I} || I <- lists:seq(1, N)])),
           ?LET(N, range(20, 30), [#{name => <<"outgoing_pool">>,
                                      params => #{<<"value">> => <<"rdbms">>}}
                                    || _ <- lists:seq(1, N)])]).

%% Mutations of valid inputs: a path into the term (as choices) and what to do there.
mutation() ->
    {list(range(0, 20)), frequency([{6, {replace, nested_term(2)}}, {3, delete},
                                    {3, {add_key, hostile_leaf()}}, {2, wrap},
                                    {1, {replace, deep_term()}}, {1, {replace, huge_term()}}])}.

apply_mutations(Term, Muts) ->
    lists:foldl(fun({Path, Op}, T) -> mutate(T, Path, Op) end, Term, Muts).

mutate(T, [], Op) -> mutate_here(T, Op);
mutate(T, [I | Rest], Op) when is_map(T), map_size(T) > 0 ->
    Keys = lists:sort(maps:keys(T)),
    K = lists:nth(I rem length(Keys) + 1, Keys),
    case Rest of
        [] when Op =:= delete -> maps:remove(K, T);
        _ -> T#{K => mutate(maps:get(K, T), Rest, Op)}
    end;
mutate(T, [I | Rest], Op) when is_list(T), T =/= [] ->
    try length(T) of
        Len ->
            N = I rem Len + 1,
            case Rest of
                [] when Op =:= delete -> lists:sublist(T, N - 1) ++ lists:nthtail(N, T);
                _ -> lists:sublist(T, N - 1) ++ [mutate(lists:nth(N, T), Rest, Op)]
                         ++ lists:nthtail(N, T)
            end
    catch error:badarg -> mutate_here(T, Op)
    end;
mutate(T, _, Op) ->
    mutate_here(T, Op).

mutate_here(_, {replace, New}) -> New;
mutate_here(T, delete) when is_map(T) -> maps:remove(hd(lists:sort(maps:keys(T)) ++ [x]), T);
mutate_here(_, delete) -> undefined;
mutate_here(T, {add_key, K}) when is_map(T) -> T#{K => K};
mutate_here(T, {add_key, K}) -> [K | T];
mutate_here(T, wrap) -> [T].

valid_input(node_info) ->
    #{version => <<"6.4.0-12-gabc1234">>, uptime_seconds => 3661, node_count => 2,
      component_count => 1, config_type => toml, host_type_count => 2, domain_count => 3,
      modules => [#{module => mod_mam, opts => #{backend => rdbms}},
                  #{module => mod_muc, opts => #{backend => mnesia, online_backend => cets}},
                  #{module => mod_event_pusher, opts => #{backend => [sns, push]}},
                  #{module => mod_acme}],
      http_handlers => [mongoose_bosh_handler, acme_handler],
      c2s_listeners => [#{proto => tcp, tls => #{mode => starttls, module => just_tls}},
                        #{proto => tcp}],
      outgoing_pools => [rdbms, http],
      stanza_counts => #{xmppMessageSent => 3, xmppIqSent => 1},
      previous_stanza_counts => #{xmppMessageSent => 2}};
valid_input(events) ->
    {ok, Events} = ?NIF:build_report(valid_input(node_info)),
    Events;
valid_input(opts) ->
    opts(closed_url(), #{max_retries => 0, timeout_ms => 1000, mode => collect}).

%%%===================================================================
%%% Privacy and secrets
%%%===================================================================

prop_planted_strings_never_in_report_or_requests(_Config) ->
    run_prop(?FORALL({Word, Variant}, {planted_word(), range(0, 3)},
                     begin
                         Info = planted_node_info(Word, Variant),
                         {ok, Events} = ?NIF:build_report(Info),
                         {ok, Json} = ?NIF:encode_json(Events),
                         {ok, Reqs} = ?NIF:plan_requests(Events, opts(closed_url(), #{})),
                         Text = iolist_to_binary([io_lib:format("~p", [Events]), Json,
                                                  [[U, B] || #{url := U, body := B} <- Reqs]]),
                         ?WHENFAIL(ct:log("~s leaked:~n~s", [Word, Text]),
                                   binary:match(Text, [list_to_binary(Word), <<"example">>])
                                   =:= nomatch)
                     end),
             1000).

planted_word() ->
    ?LET(L, vector(8, range($a, $z)), "plant" ++ L).

planted_node_info(Word, Variant) ->
    W = list_to_binary(Word),
    A = binary_to_atom(W),
    Mod = binary_to_atom(<<"mod_", W/binary>>),
    Version = case Variant of
                  0 -> <<"6.4.0-", W/binary, "-prod">>;
                  1 -> <<W/binary, "-6.4.0">>;
                  2 -> <<"6.4.0-12-g", W/binary>>;
                  3 -> <<"6.4.0-acme-", W/binary>>
              end,
    #{version => Version,
      modules => [#{module => Mod, opts => #{backend => A}},
                  #{module => mod_mam, opts => #{backend => A, online_backend => W,
                                                 host => <<W/binary, ".example.com">>,
                                                 jid => <<"alice@", W/binary, ".example.com/res">>}},
                  #{module => mod_event_pusher, opts => #{backend => [A, W, sns]}},
                  #{module => mod_push_service_mongoosepush, opts => #{api_version => W}}],
      http_handlers => [A, Mod],
      c2s_listeners => [#{proto => A, tls => #{mode => A, module => Mod}}],
      outgoing_pools => [A],
      stanza_counts => #{A => 5, xmppIqSent => 1},
      previous_stanza_counts => #{A => 1}}.

prop_planted_config_never_leaves_through_service(Config) ->
    {ok, Stub} = ga4_stub_server:start(),
    try
        run_prop(?FORALL(Word, planted_word(),
                         planted_config_case(Config, Stub, Word)),
                 20)
    after
        ga4_stub_server:stop(Stub),
        _ = application:stop(mongooseim),
        _ = application:unload(mongooseim),
        msm_test_helper:clear_mim_config(),
        msm_log_capture:stop()
    end.

planted_config_case(Config, Stub, Word) ->
    W = list_to_binary(Word),
    A = binary_to_atom(W),
    Mod = binary_to_atom(<<"mod_", W/binary>>),
    Domain = <<W/binary, ".example.com">>,
    _ = application:stop(mongooseim),
    _ = application:unload(mongooseim),
    ok = application:load({application, mongooseim,
                           [{vsn, "6.4.0-" ++ Word ++ "-prod"}, {modules, []},
                            {registered, []}, {applications, [kernel, stdlib]}]}),
    ok = application:start(mongooseim),
    Base = msm_test_helper:sample_config(),
    msm_test_helper:set_mim_config(
      #{hosts => [Domain], host_types => [<<W/binary, "_type">>],
        dynamic_domains => [<<"dyn.", Domain/binary>>],
        {modules, Domain} => #{mod_vcard => #{backend => A}, Mod => #{host => Domain},
                               mod_event_pusher => #{A => #{}}},
        {modules, <<W/binary, "_type">>} => #{mod_last => #{backend => A}},
        listen => [#{module => ejabberd_cowboy, port => 5280,
                     handlers => [#{module => A}, #{module => mongoose_bosh_handler}]},
                   #{module => mongoose_c2s_listener, port => 5222, proto => A,
                     tls => #{mode => A, module => Mod}}],
        outgoing_pools => [#{type => A, scope => global, tag => A}],
        components => [{<<"comp.", Domain/binary>>, node()}],
        services => maps:get(services, Base)}),
    mongoose_config:set_opt(google_analytics_url, ga4_stub_server:url(Stub)),
    Dir = msm_test_helper:report_dir(Config),
    ga4_stub_server:reset(Stub),
    msm_log_capture:start(),
    {ok, _} = ?S:start(#{initial_report => 0, periodic_report => 3600000,
                         tracking_id => #{id => ?TID, secret => ?SECRET}}),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, 10000),
    File = filename:join(Dir, "system_metrics_report.json"),
    ok = msm_test_helper:wait_until(fun() -> filelib:is_regular(File) end, 5000),
    %% Let the job finish and log what it logs.
    ok = msm_test_helper:wait_until(fun() -> maps:get(last_success, ?S:status()) =/= undefined end,
                                    10000),
    ok = ?S:stop(),
    {ok, FileText} = file:read_file(File),
    Requests = ga4_stub_server:requests(Stub),
    Sent = [[B, io_lib:format("~p", [Q])] || #{body := B, query := Q} <- Requests],
    Logs = [io_lib:format("~p", [E]) || E <- msm_log_capture:events()],
    msm_log_capture:stop(),
    Text = iolist_to_binary([FileText, Sent, Logs]),
    Leaks = binary:matches(Text, [W, <<"example.com">>]),
    ?WHENFAIL(ct:log("~s leaked in:~n~s", [Word, Text]),
              Leaks =:= [] andalso Requests =/= [] andalso Logs =/= []
              andalso [] =:= ga4_stub_server:violations(Stub)).

secret_never_in_logs_results_crash_reports_or_file(Config) ->
    %% Every failure kind the service can meet, with its logs captured at every level, the
    %% results kept, a crash report forced, and the state printed.
    Pki = ?config(pki, Config),
    {ok, Server} = msm_fault_server:start(),
    {ok, Tls} = msm_fault_server:start(#{tls => maps:get(self_signed, Pki)}),
    Dir = msm_test_helper:report_dir(Config),
    msm_test_helper:set_mim_config(),
    #{level := Level} = logger:get_primary_config(),
    ok = logger:set_primary_config(level, all),
    msm_log_capture:start(),
    try
        Urls = [{url(Server), {status, 500}}, {url(Server), {status, 400}},
                {url(Server), {delay, 1500, {status, 204}}}, {url(Server), reset_mid_response},
                {url(Server), {status, 429, [{<<"Retry-After">>, <<"99">>}]}},
                {closed_url(), none}, {msm_fault_server:url(Tls, "/mp/collect"), none},
                {url(Server), {status, 204}}],
        Outcomes =
            [begin
                 _ = Action =:= none orelse msm_fault_server:set_default(Server, Action),
                 {ok, _} = ?S:start(#{report => true, initial_report => 0,
                                      periodic_report => 3600000, max_retries => 0,
                                      timeout => 500, url => U,
                                      tracking_id => #{id => ?TID, secret => ?SECRET}}),
                 ok = msm_test_helper:wait_until(
                        fun() -> maps:get(last_attempt, ?S:status()) =/= undefined
                                     andalso not maps:get(in_flight, ?S:status()) end, 10000),
                 Status = ?S:status(),
                 SysStatus = sys:get_status(?S),
                 ok = ?S:stop(),
                 {Status, SysStatus}
             end || {U, Action} <- Urls],
        %% A crash report of the service, with its state printed.
        {ok, Pid} = ?S:start(#{report => true, initial_report => 3600000,
                               tracking_id => #{id => ?TID, secret => ?SECRET}}),
        unlink(Pid),
        catch sys:terminate(Pid, {crash_for_test, self()}, 2000),
        ok = msm_test_helper:wait_until(
               fun() -> msm_log_capture:matching("crash_for_test", error) =/= [] end, 5000),
        %% The NIF's own answers: results of failing sends and errors on bad options.
        NifResults = [send_and_wait(pool_events(1), opts(U, #{max_retries => 0, timeout_ms => 500}),
                                    10000) || {U, _} <- Urls],
        BadOpts = [?NIF:plan_requests(pool_events(1), O)
                   || O <- [#{client_id => <<"c">>, tracking_ids => [#{id => <<"bad id">>,
                                                                        secret => ?SECRET}]},
                            #{client_id => <<"c">>, tracking_ids => [#{id => "G-1",
                                                                        secret => ?SECRET ++ "\n"}]},
                            #{client_id => ?SECRET ++ " ", tracking_ids => [#{id => "G-1",
                                                                               secret => ?SECRET}]},
                            #{client_id => <<"c">>, tracking_ids => [#{id => "G-1",
                                                                        secret => list_to_binary(lists:duplicate(300, $s) ++ ?SECRET)}]}]],
        %% An invalid id or secret plans nothing (it stands alone); the rest are errors.
        ?assertMatch([{ok, []}, {ok, []}, {error, _}, {error, _}], BadOpts),
        Logs = msm_log_capture:events(),
        ?assert(length(Logs) >= 3),
        {ok, FileText} = file:read_file(filename:join(Dir, "system_metrics_report.json")),
        {ok, Files} = file:list_dir(Dir),
        States = [file:read_file(filename:join(Dir, F)) || F <- Files],
        Everything = [io_lib:format("~p", [X])
                      || X <- [Logs, Outcomes, NifResults, BadOpts, States]]
            ++ [format_log(E) || E <- Logs] ++ [FileText],
        Text = iolist_to_binary(Everything),
        case binary:match(Text, <<?SECRET>>) of
            nomatch -> ok;
            {At, _} -> ct:fail({secret_leaked, binary:part(Text, max(0, At - 1500),
                                                           min(1600, byte_size(Text) - max(0, At - 1500)))})
        end,
        %% The servers did receive it (so the check above is not vacuous).
        ?assert(lists:any(fun({request, _, #{query := Q}}) ->
                                  maps:get(<<"api_secret">>, Q, <<>>) =:= <<?SECRET>>
                          end, msm_fault_server:requests(Server)))
    after
        msm_log_capture:stop(),
        ok = logger:set_primary_config(level, Level),
        msm_test_helper:stop_service(),
        msm_test_helper:clear_mim_config(),
        msm_fault_server:stop(Server),
        msm_fault_server:stop(Tls)
    end.

%% A log event as the default formatter prints it.
format_log(#{level := L, msg := Msg}) ->
    logger_formatter:format(#{level => L, msg => Msg, meta => #{time => 0}},
                            #{single_line => false, depth => unlimited, chars_limit => unlimited}).

%%%===================================================================
%%% Lifecycle
%%%===================================================================

app_stop_start_100_times(Config) ->
    {ok, Stub} = ga4_stub_server:start(),
    msm_test_helper:set_mim_config(),
    msm_test_helper:report_dir(Config),
    try
        ga4_stub_server:set_response(Stub, #{status => 204, delay => 5000}),
        Opts = service_opts(ga4_stub_server:url(Stub)),
        %% What stays for the VM's lifetime (the engine's runtime, the HTTP client) exists
        %% before the baseline.
        warm_up(Stub),
        Base = snapshot(),
        [one_app_round(Opts, Stub, I) || I <- lists:seq(1, 100)],
        ?assert(length(ga4_stub_server:requests(Stub)) >= 50),
        assert_nothing_left(Base)
    after
        ga4_stub_server:stop(Stub),
        {ok, _} = application:ensure_all_started(mongoose_system_metrics),
        msm_test_helper:clear_mim_config()
    end.

one_app_round(Opts, Stub, I) ->
    {ok, _} = application:ensure_all_started(mongoose_system_metrics),
    Seen = length(ga4_stub_server:requests(Stub)),
    {ok, Pid} = ?S:start(Opts),
    %% Every other round stops with a send in flight (the stub holds it for 5 s).
    case I rem 2 of
        0 -> ok = ga4_stub_server:wait_for_requests(Stub, Seen + 1, 5000),
             ?assert(is_process_alive(Pid));
        1 -> ok
    end,
    ok = application:stop(mongoose_system_metrics),
    ?assertNot(is_process_alive(Pid)).

service_restart_100_times(Config) ->
    {ok, Stub} = ga4_stub_server:start(),
    msm_test_helper:set_mim_config(),
    msm_test_helper:report_dir(Config),
    try
        ga4_stub_server:set_response(Stub, #{status => 204, delay => 5000}),
        Opts = service_opts(ga4_stub_server:url(Stub)),
        warm_up(Stub),
        Base = snapshot(),
        [one_service_round(Opts, Stub, I) || I <- lists:seq(1, 100)],
        ?assert(length(ga4_stub_server:requests(Stub)) >= 50),
        assert_nothing_left(Base)
    after
        ga4_stub_server:stop(Stub),
        msm_test_helper:stop_service(),
        msm_test_helper:clear_mim_config()
    end.

one_service_round(Opts, Stub, I) ->
    Seen = length(ga4_stub_server:requests(Stub)),
    {ok, Pid} = ?S:start(Opts),
    case I rem 2 of
        0 -> ok = ga4_stub_server:wait_for_requests(Stub, Seen + 1, 5000);
        1 -> ok
    end,
    ok = ?S:stop(),
    ?assertNot(is_process_alive(Pid)).

service_opts(Url) ->
    #{report => true, initial_report => 0, periodic_report => 3600000, url => Url,
      timeout => 30000, tracking_id => #{id => ?TID, secret => ?SECRET}}.

%% A send held by the stub, cancelled: the engine's runtime and HTTP client exist, and the
%% stub's connection is gone, before the baseline.
warm_up(Stub) ->
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(ga4_stub_server:url(Stub), #{})),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, 5000),
    ok = ?NIF:cancel(Ref),
    _ = wait_result(Ref, 5000),
    ga4_stub_server:reset(Stub),
    timer:sleep(5500).

reload_stub_module_keeps_vm_up(_Config) ->
    %% In a peer: reloading changes the module for the whole VM.
    {ok, Hang} = msm_fault_server:start(),
    msm_fault_server:set_default(Hang, hang),
    try
        {ok, Peer} = start_peer([]),
        try
            Url = msm_fault_server:url(Hang, "/mp/collect"),
            ct:log("peer code path: ~p", [peer:call(Peer, code, which, [?NIF])]),
            Result = peer:call(Peer, ?MODULE, peer_reload, [Url, closed_url()], 30000),
            ct:log("reload: ~p", [Result]),
            #{in_flight := InFlight, reloaded := Reloaded, after_purge := AfterPurge,
              after_reload_twice := Twice, old_code_kept := OldKept} = Result,
            %% The send started before the reload still answers (on the first copy's runtime).
            ?assertMatch([#{result := {error, timeout}}], InFlight),
            %% The reloaded copy cannot load the library again: it answers nif_not_loaded.
            ?assertMatch({error, {nif_not_loaded, {upgrade, _}}}, maps:get(build, Reloaded)),
            ?assertMatch({error, {nif_not_loaded, {upgrade, _}}}, maps:get(send, Reloaded)),
            %% Once the old copy is purged, loading binds the library again.
            ?assertMatch({ok, _}, maps:get(build, AfterPurge)),
            ?assertMatch([#{result := {error, connect_error}}], maps:get(send, AfterPurge)),
            ?assertMatch({error, {nif_not_loaded, {upgrade, _}}}, maps:get(reloaded, Twice)),
            ?assertMatch({ok, _}, maps:get(build, Twice)),
            ?assert(OldKept)
        after
            peer:stop(Peer)
        end
    after
        msm_fault_server:stop(Hang)
    end.

%% Runs in the peer.
peer_reload(HangUrl, ClosedUrl) ->
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(HangUrl, #{timeout_ms => 3000})),
    timer:sleep(300),
    {module, _} = code:load_file(?NIF),
    Reloaded = #{build => ?NIF:build_report(#{}),
                 send => ?NIF:send_report(pool_events(1), opts(ClosedUrl, #{}))},
    Old = erlang:check_old_code(?NIF),
    _ = code:purge(?NIF),
    {module, _} = code:load_file(?NIF),
    AfterPurge = #{build => ?NIF:build_report(#{}),
                   send => send_and_wait(pool_events(1), opts(ClosedUrl, #{max_retries => 0}),
                                         10000)},
    %% And again: the same cycle gives the same answers.
    _ = code:purge(?NIF),
    {module, _} = code:load_file(?NIF),
    Again = ?NIF:build_report(#{}),
    _ = code:purge(?NIF),
    {module, _} = code:load_file(?NIF),
    Twice = #{reloaded => Again, build => ?NIF:build_report(#{})},
    InFlight = receive {mongoose_system_metrics_sent, Ref, R} -> R after 5000 -> none end,
    #{in_flight => InFlight, reloaded => Reloaded, after_purge => AfterPurge,
      after_reload_twice => Twice, old_code_kept => Old}.

missing_library_node_up_service_idle(Config) ->
    %% A copy of the application without priv/*.so, in a fresh VM.
    Root = filename:join(?config(priv_dir, Config), "nolib/mongoose_system_metrics-0.0.0"),
    Ebin = filename:join(Root, "ebin"),
    ok = filelib:ensure_dir(filename:join(Ebin, "x")),
    ok = filelib:ensure_dir(filename:join([Root, "priv", "x"])),
    [{ok, _} = file:copy(F, filename:join(Ebin, filename:basename(F)))
     || F <- filelib:wildcard(filename:join(app_ebin(), "*"))],
    ReportDir = filename:join(?config(priv_dir, Config), "nolib_report"),
    {ok, Server} = msm_fault_server:start(),
    {ok, Peer, _} = peer:start_link(#{connection => standard_io,
                                      args => ["-pa", Ebin, "-pa", test_dir(), "-pa", support_dir(), "-pa", standins_dir()]}),
    try
        Result = peer:call(Peer, ?MODULE, peer_missing_library,
                           [ReportDir, url(Server)], 30000),
        ct:log("missing library: ~p", [Result]),
        #{started := Started, logs := Logs, status := Status, threads := Threads,
          load_error := LoadError, answers := Answers} = Result,
        ?assertNotEqual(none, LoadError),
        ?assertEqual([{error, {nif_not_loaded, LoadError}}], lists:usort(Answers)),
        %% Idle: started as nothing, no engine thread, nothing written or sent.
        ?assertEqual({ok, undefined}, Started),
        ?assertMatch(#{running := false}, Status),
        ?assertEqual(0, Threads),
        ?assertEqual({ok, []}, file:list_dir(ReportDir)),
        ?assertEqual([], msm_fault_server:log(Server)),
        %% Exactly one line, naming the cause.
        ?assertMatch([_], Logs),
        [Line] = Logs,
        ?assertNotEqual(nomatch, string:find(Line, "system_metrics_engine_unavailable")),
        ?assertNotEqual(nomatch, string:find(Line, "libmongoose_system_metrics_nif.so")),
        %% The node is up and works.
        ?assert(is_integer(peer:call(Peer, erlang, system_info, [process_count])))
    after
        peer:stop(Peer),
        msm_fault_server:stop(Server)
    end.

%% Runs in the peer: the service asked to report every 100 ms, watched for a second.
peer_missing_library(ReportDir, Url) ->
    msm_log_capture:start(),
    msm_test_helper:set_mim_config(),
    ok = filelib:ensure_dir(filename:join(ReportDir, "x")),
    application:set_env(mongoose_system_metrics, report_dir, ReportDir),
    Started = ?S:start(#{report => true, initial_report => 0, periodic_report => 100, url => Url,
                         tracking_id => #{id => ?TID, secret => ?SECRET}}),
    timer:sleep(1000),
    Answers = [?NIF:build_report(#{}), ?NIF:encode_json([]), ?NIF:cancel_all(),
               ?NIF:send_report(pool_events(1), opts(Url, #{}))],
    Logs = [format_log(E) || #{level := L} = E <- msm_log_capture:events(),
                             logger:compare_levels(L, info) =:= gt],
    #{started => Started, logs => [unicode:characters_to_list(L) || L <- Logs],
      status => ?S:status(), threads => msm_threads(), load_error => ?NIF:load_error(),
      answers => Answers}.

vm_halts_promptly_with_sends_in_flight(_Config) ->
    {ok, Hang} = msm_fault_server:start(),
    msm_fault_server:set_default(Hang, hang),
    Url = msm_fault_server:url(Hang, "/mp/collect"),
    try
        [halt_with_sends(Url, Hang, How) || How <- [halt, init_stop]]
    after
        msm_fault_server:stop(Hang)
    end.

halt_with_sends(Url, Hang, How) ->
    msm_fault_server:reset_log(Hang),
    {ok, Peer, _} = peer:start(#{connection => standard_io,
                                 args => ["-pa", app_ebin(), "-pa", test_dir(), "-pa", support_dir(), "-pa", standins_dir()]}),
    OsPid = peer:call(Peer, os, getpid, []),
    ok = peer:call(Peer, ?MODULE, peer_start_sends, [Url, 20]),
    wait_requests(Hang, 20),
    Started = erlang:monotonic_time(millisecond),
    case How of
        halt -> peer:cast(Peer, erlang, halt, []);
        init_stop -> peer:cast(Peer, init, stop, [])
    end,
    ok = msm_test_helper:wait_until(fun() -> not filelib:is_dir("/proc/" ++ OsPid) end, 10000),
    Ms = erlang:monotonic_time(millisecond) - Started,
    ct:log("~p: the VM was gone after ~p ms", [How, Ms]),
    assert_within(Ms, 0, 5000),
    %% Its connections went with it.
    ok = wait_no_open_connections([Hang], 5000),
    catch peer:stop(Peer).

%% Runs in the peer: sends that hang, from a process that stays.
peer_start_sends(Url, N) ->
    Self = self(),
    spawn(fun() ->
                  [{ok, _} = ?NIF:send_report(pool_events(1), opts(Url, #{timeout_ms => 60000}))
                   || _ <- lists:seq(1, N)],
                  Self ! started,
                  receive never -> ok end
          end),
    receive started -> ok end.

%%%===================================================================
%%% Files
%%%===================================================================

report_file_replaced_atomically(Config) ->
    %% The reader is another OS process (a shell loop printing the file's size), so that it
    %% runs truly alongside the VM's writes; a plain truncate-and-write is caught by it.
    Dir = msm_test_helper:report_dir(Config),
    File = filename:join(Dir, "system_metrics_report.json"),
    Small = pool_events(1),
    Large = pool_events(1500),   % about 100 kB, near the 10,000-item input limit
    {ok, SmallJson} = ?NIF:encode_json(Small),
    {ok, LargeJson} = ?NIF:encode_json(Large),
    Valid = [byte_size(SmallJson), byte_size(LargeJson)],
    ok = mongoose_system_metrics_file:save(Small),
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", "while :; do wc -c < \"$0\"; done", File]},
                      {line, 64}, binary, exit_status]),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    try
        [ok = mongoose_system_metrics_file:save(case I rem 2 of 0 -> Small; 1 -> Large end)
         || I <- lists:seq(1, 300)]
    after
        os:cmd("kill " ++ integer_to_list(OsPid))
    end,
    Sizes = port_lines(Port, []),
    Bad = [S || S <- Sizes, not lists:member(S, Valid)],
    ct:log("~p reads of ~p, ~p partial", [length(Sizes), Valid, length(Bad)]),
    ?assert(length(Sizes) >= 20),
    ?assertEqual([], Bad),
    %% The last write is whole, and no temporary file is left behind.
    ?assertEqual({ok, SmallJson}, file:read_file(File)),
    ?assertEqual(["system_metrics_report.json"], element(2, file:list_dir(Dir))).

port_lines(Port, Acc) ->
    receive
        {Port, {data, {eol, Line}}} ->
            port_lines(Port, [binary_to_integer(string:trim(Line)) | Acc]);
        {Port, {exit_status, _}} ->
            lists:reverse(Acc)
    after 5000 ->
            lists:reverse(Acc)
    end.

unwritable_log_dir_logged_reporting_continues(Config) ->
    %% A directory below a regular file can be neither created nor written, even by root.
    Blocker = filename:join(?config(priv_dir, Config), "not_a_dir"),
    ok = file:write_file(Blocker, <<"x">>),
    application:set_env(mongoose_system_metrics, report_dir, filename:join(Blocker, "logs")),
    {ok, Stub} = ga4_stub_server:start(),
    msm_test_helper:set_mim_config(),
    msm_log_capture:start(),
    try
        {ok, _} = ?S:start(#{report => true, initial_report => 0, periodic_report => 300,
                             url => ga4_stub_server:url(Stub),
                             tracking_id => #{id => ?TID, secret => ?SECRET}}),
        ok = ga4_stub_server:wait_for_requests(Stub, 3, 10000),
        ok = msm_test_helper:wait_until(
               fun() -> maps:get(last_success, ?S:status()) =/= undefined end, 5000),
        FileLogs = [E || #{what := W} = E <- msm_log_capture:events(),
                         W =:= report_file_write_failed],
        ?assertMatch([_], FileLogs),
        ?assertMatch(#{running := true, last_error := #{kind := file}}, ?S:status()),
        ?assertEqual([], ga4_stub_server:violations(Stub))
    after
        msm_log_capture:stop(),
        msm_test_helper:stop_service(),
        msm_test_helper:clear_mim_config(),
        ga4_stub_server:stop(Stub)
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

%%%===================================================================
%%% Helpers
%%%===================================================================

pool_events(N) ->
    [#{name => <<"outgoing_pool">>, params => #{<<"value">> => <<"rdbms">>}}
     || _ <- lists:seq(1, N)].

opts(Url, Extra) ->
    maps:merge(#{client_id => <<"reliability-client">>,
                 tracking_ids => [#{id => ?TID, secret => ?SECRET}],
                 url => Url, timeout_ms => 2000, max_retries => 0}, Extra).

url(Server) -> msm_fault_server:url(Server, "/mp/collect").

closed_url() ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    gen_tcp:close(L),
    "http://127.0.0.1:" ++ integer_to_list(Port) ++ "/mp/collect".

send_and_wait(Events, Opts, Timeout) ->
    {ok, Ref} = ?NIF:send_report(Events, Opts),
    wait_result(Ref, Timeout).

timed_send(Url, Extra) ->
    Started = erlang:monotonic_time(millisecond),
    Results = send_and_wait(pool_events(1), opts(Url, Extra), 60000),
    Ms = erlang:monotonic_time(millisecond) - Started,
    ct:log("result after ~p ms: ~p", [Ms, Results]),
    {Ms, Results}.

wait_result(Ref, Timeout) ->
    receive {mongoose_system_metrics_sent, Ref, Results} -> Results
    after Timeout -> ct:fail({no_result_message, Ref})
    end.

flush() ->
    receive {mongoose_system_metrics_sent, _, _} -> flush() after 0 -> ok end.

assert_within(Ms, Min, Max) ->
    case Ms >= Min andalso Ms =< Max of
        true -> ok;
        false -> ct:fail({out_of_bounds, Ms, {min, Min}, {max, Max}})
    end.

%% The server saw exactly N requests, and no more come after the result. Their times.
assert_attempts(Server, N) ->
    timer:sleep(300),
    Requests = msm_fault_server:requests(Server),
    ?assertEqual(N, length(Requests)),
    [T || {request, T, _} <- Requests].

assert_tls_refused(Server) ->
    timer:sleep(300),
    Log = msm_fault_server:log(Server),
    ct:log("TLS server log: ~p", [Log]),
    ?assertEqual(1, length([C || {connection, _, _} = C <- Log])),
    ?assertEqual(1, length([E || {tls_error, _, _} = E <- Log])),
    ?assertEqual([], [R || {request, _, _} = R <- Log]).

wait_requests(Server, N) ->
    ok = msm_test_helper:wait_until(
           fun() -> length(msm_fault_server:requests(Server)) >= N end, 10000).

wait_no_open_connections(Servers, Timeout) ->
    msm_test_helper:wait_until(
      fun() -> lists:all(fun(S) -> msm_fault_server:open_connections(S) =:= 0 end, Servers) end,
      Timeout, 100).

fill_backlog(Port, Acc) when length(Acc) > 64 ->
    ct:fail({backlog_never_full, Port});
fill_backlog(Port, Acc) ->
    case gen_tcp:connect({127, 0, 0, 1}, Port, [], 300) of
        {ok, S} -> fill_backlog(Port, [S | Acc]);
        {error, timeout} -> Acc
    end.

%% The application's own ebin (its priv/ holds the library); the test directory holds copies
%% of the modules but no priv/.
app_ebin() ->
    filename:join(code:lib_dir(mongoose_system_metrics), "ebin").

test_dir() ->
    filename:dirname(code:which(?MODULE)).

%% Where the stand-ins of MongooseIM's modules are compiled (test/mim_standins).
standins_dir() ->
    filename:dirname(code:which(mongoose_config)).

%% Where the suites' helpers are compiled (test/support).
support_dir() ->
    filename:dirname(code:which(msm_test_helper)).

start_peer(Env) ->
    {ok, Peer, _} = peer:start_link(#{connection => standard_io, env => Env,
                                      args => ["-pa", app_ebin(), "-pa", test_dir(), "-pa", support_dir(), "-pa", standins_dir()]}),
    {ok, Peer}.

%% Threads, descriptors, ports and processes of this VM.

threads() ->
    Dir = "/proc/" ++ os:getpid() ++ "/task",
    {ok, Tids} = file:list_dir(Dir),
    [case file:read_file(filename:join([Dir, T, "comm"])) of
         {ok, Comm} -> string:trim(Comm);
         {error, _} -> <<"gone">>
     end || T <- Tids].

msm_threads() ->
    length([T || T <- threads(), T =:= <<"msm-worker">>]).

fds() ->
    length(fd_targets()).

fd_targets() ->
    Dir = "/proc/" ++ os:getpid() ++ "/fd",
    {ok, Fds} = file:list_dir(Dir),
    [case file:read_link(filename:join(Dir, Fd)) of
         {ok, Target} -> Target;
         {error, _} -> "gone"
     end || Fd <- Fds].

snapshot() ->
    Threads = threads(),
    Msm = length([T || T <- Threads, T =:= <<"msm-worker">>]),
    #{processes => processes(), ports => length(erlang:ports()), fds => fds(),
      fd_targets => fd_targets(), other_threads => length(Threads) - Msm}.

leftovers(#{processes := Procs, ports := Ports, fds := Fds, other_threads := Other} = Base) ->
    Threads = threads(),
    Msm = length([T || T <- Threads, T =:= <<"msm-worker">>]),
    NewProcs = [{P, Info} || P <- processes() -- Procs, P =/= self(),
                             Info <- [process_info(P, [registered_name, initial_call,
                                                       current_function])],
                             Info =/= undefined, not common_test_process(Info)],
    [{processes, NewProcs} || NewProcs =/= []]
        ++ [{ports, length(erlang:ports()), Ports} || length(erlang:ports()) > Ports]
        ++ [{fds, fds(), Fds, fd_targets() -- maps:get(fd_targets, Base)} || fds() > Fds]
        ++ [{threads, length(Threads) - Msm, Other} || length(Threads) - Msm > Other]
        ++ [{msm_threads, Msm} || Msm > ?MAX_MSM_THREADS].

%% Common Test's own processes for a test case: its timetrap and its log file (this code
%% never opens a file as an I/O server; it reads and writes whole files).
common_test_process(Info) ->
    {initial_call, {M, _, _}} = lists:keyfind(initial_call, 1, Info),
    {current_function, {F, _, _}} = lists:keyfind(current_function, 1, Info),
    lists:member(M, [test_server_sup, test_server, test_server_io, test_server_gl])
        orelse F =:= file_io_server.

assert_nothing_left(Base) ->
    try msm_test_helper:wait_until(fun() -> leftovers(Base) =:= [] end, ?IDLE_WAIT_MS, 200)
    catch error:{wait_until_timeout, _} -> ct:fail({left_over, leftovers(Base)})
    end.

%% Certificates, made here: a CA, a server certificate for 127.0.0.1 signed by it, one for
%% another host name signed by it, and a self-signed one for 127.0.0.1.
make_pki(Dir) ->
    %% RSA keys: OTP encodes ECDSA signature algorithm identifiers with the curve as parameters,
    %% which webpki (rightly, RFC 5758) does not accept.
    Key = {rsa, 2048, 65537},
    San = fun(Names) -> #'Extension'{extnID = ?'id-ce-subjectAltName', critical = false,
                                     extnValue = Names} end,
    Ip = [{iPAddress, <<127, 0, 0, 1>>}],
    Root = public_key:pkix_test_root_cert("reliability test CA", [{key, Key}, {digest, sha256}]),
    Issue = fun(Names) ->
                    #{server_config := S} =
                        public_key:pkix_test_data(
                          #{server_chain => #{root => Root,
                                              peer => [{key, Key}, {digest, sha256},
                                                       {extensions, [San(Names)]}]},
                            client_chain => #{root => [{key, Key}, {digest, sha256}],
                                              peer => [{key, Key}, {digest, sha256}]}}),
                    #{cert => proplists:get_value(cert, S), key => proplists:get_value(key, S)}
            end,
    #{cert := SelfCert, key := SelfKey} =
        public_key:pkix_test_root_cert("reliability self-signed",
                                       [{key, Key}, {digest, sha256}, {extensions, [San(Ip)]}]),
    CaFile = filename:join(Dir, "reliability-ca.pem"),
    ok = file:write_file(CaFile, public_key:pem_encode([{'Certificate', maps:get(cert, Root),
                                                         not_encrypted}])),
    #{good => Issue(Ip),
      wrong_host => Issue([{dNSName, "wrong.host.example"}]),
      self_signed => #{cert => SelfCert, key => key_entry(SelfKey)},
      ca_file => CaFile}.

key_entry(#'RSAPrivateKey'{} = K) ->
    {'RSAPrivateKey', public_key:der_encode('RSAPrivateKey', K)};
key_entry({_, Der} = K) when is_binary(Der) -> K.
