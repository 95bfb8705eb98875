%%% @doc Reliability of the reporting path over a node's life: 100 application and service
%%% restarts, module reload, a missing library, VM halt with sends in flight (group
%%% `lifecycle'); atomic replacement of the report file and an unwritable report directory
%%% (group `files'). The servers are on 127.0.0.1 (ga4_stub_server, msm_fault_server); the
%%% reload, missing-library and halt cases run in peer VMs.
-module(reliability_lifecycle_SUITE).

-include("support/msm_reliability.hrl").

-compile([export_all, nowarn_export_all]).

%% The helpers every reliability suite shares.
-import(msm_reliability, [pool_events/1, opts/2, url/1, closed_url/0, send_and_wait/3,
                          wait_result/2, wait_requests/2,
                          wait_no_open_connections/2, app_ebin/0, peer_args/1, peer_args/2,
                          start_peer/2, msm_threads/0, snapshot/0, assert_nothing_left/1,
                          format_log/1]).

all() ->
    [{group, lifecycle}, {group, files}].

groups() ->
    [{lifecycle, [], [app_stop_start_100_times, service_restart_100_times,
                      reload_stub_module_keeps_vm_up, missing_library_node_up_service_idle,
                      vm_halts_promptly_with_sends_in_flight]},
     {files, [], [report_file_replaced_atomically, unwritable_log_dir_logged_reporting_continues]}].

%% The hook (msm_reliability) starts the applications and resets each case.
suite() ->
    [{timetrap, {minutes, 3}}, {ct_hooks, [{msm_reliability, []}]}].

%%%===================================================================
%%% Lifecycle
%%%===================================================================

app_stop_start_100_times(Config) ->
    hundred_rounds(Config, fun one_app_round/3,
                   fun() -> {ok, _} = application:ensure_all_started(mongoose_system_metrics) end).

%% 100 rounds of Round(Opts, Stub, I) against a stub that holds each request 5 s; what the
%% VM keeps for its lifetime (the engine's runtime, the HTTP client) exists before the
%% baseline, and nothing else is left after. Cleanup runs after the rounds.
hundred_rounds(Config, Round, Cleanup) ->
    {ok, Stub} = ga4_stub_server:start(),
    msm_test_helper:set_mim_config(),
    msm_test_helper:report_dir(Config),
    try
        ga4_stub_server:set_response(Stub, #{status => 204, delay => 5000}),
        Opts = service_opts(ga4_stub_server:url(Stub)),
        warm_up(Stub),
        Base = snapshot(),
        [Round(Opts, Stub, I) || I <- lists:seq(1, 100)],
        ?assert(length(ga4_stub_server:requests(Stub)) >= 50),
        assert_nothing_left(Base)
    after
        ga4_stub_server:stop(Stub),
        Cleanup(),
        msm_test_helper:clear_mim_config()
    end.

one_app_round(Opts, Stub, I) ->
    {ok, _} = application:ensure_all_started(mongoose_system_metrics),
    Seen = length(ga4_stub_server:requests(Stub)),
    {ok, Pid} = ?S:start(Opts),
    %% Every other round stops with a send in flight (the stub holds it for 5 s).
    case I rem 2 of
        0 -> ok = ga4_stub_server:wait_for_requests(Stub, Seen + 1, ?WAIT),
             ?assert(is_process_alive(Pid));
        1 -> ok
    end,
    ok = application:stop(mongoose_system_metrics),
    ?assertNot(is_process_alive(Pid)).

service_restart_100_times(Config) ->
    hundred_rounds(Config, fun one_service_round/3, fun msm_test_helper:stop_service/0).

one_service_round(Opts, Stub, I) ->
    Seen = length(ga4_stub_server:requests(Stub)),
    {ok, Pid} = ?S:start(Opts),
    case I rem 2 of
        0 -> ok = ga4_stub_server:wait_for_requests(Stub, Seen + 1, ?WAIT);
        1 -> ok
    end,
    ok = ?S:stop(),
    ?assertNot(is_process_alive(Pid)).

service_opts(Url) ->
    #{report => true, initial_report => 0, periodic_report => 3600000, url => Url,
      timeout => 30000, tracking_id => #{id => ?TID, secret => ?SECRET}}.

%% A send held by the stub, cancelled: the engine's runtime and HTTP client exist, and the
%% stub's connection is gone (waited for), before the baseline.
warm_up(Stub) ->
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(ga4_stub_server:url(Stub), #{})),
    ok = ga4_stub_server:wait_for_requests(Stub, 1, ?WAIT),
    ok = ?NIF:cancel(Ref),
    _ = wait_result(Ref, ?WAIT),
    ok = msm_test_helper:wait_until(fun() -> ga4_stub_server:open_connections(Stub) =:= 0 end,
                                    ?WAIT),
    ga4_stub_server:reset(Stub).

reload_stub_module_keeps_vm_up(_Config) ->
    %% In a peer: reloading changes the module for the whole VM.
    {ok, Peer} = start_peer(?MODULE, []),
    try
        ct:log("peer code path: ~p", [peer:call(Peer, code, which, [?NIF])]),
        Result = peer:call(Peer, ?MODULE, peer_reload, [closed_url()], 2 * ?WAIT),
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
    end.

%% Runs in the peer: a send to an endpoint of the peer's own that never answers, in flight
%% (its request received) when the module is reloaded.
peer_reload(ClosedUrl) ->
    {ok, Hang} = msm_fault_server:start(),
    msm_fault_server:set_default(Hang, hang),
    HangUrl = msm_fault_server:url(Hang, "/mp/collect"),
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(HangUrl, #{timeout_ms => 3000})),
    ok = msm_test_helper:wait_until(fun() -> msm_fault_server:requests(Hang) =/= [] end, ?WAIT),
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
    InFlight = receive {mongoose_system_metrics_sent, Ref, R} -> R after ?WAIT -> none end,
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
                                      args => peer_args(?MODULE, Ebin)}),
    try
        Result = peer:call(Peer, ?MODULE, peer_missing_library,
                           [ReportDir, url(Server)], ?WAIT),
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

%% Runs in the peer: the service asked to report at once and every 100 ms starts as nothing
%% (no process, so no timer that could report later).
peer_missing_library(ReportDir, Url) ->
    msm_log_capture:start(),
    msm_test_helper:set_mim_config(),
    ok = filelib:ensure_dir(filename:join(ReportDir, "x")),
    application:set_env(mongoose_system_metrics, report_dir, ReportDir),
    Started = ?S:start(#{report => true, initial_report => 0, periodic_report => 100, url => Url,
                         tracking_id => #{id => ?TID, secret => ?SECRET}}),
    undefined = whereis(?S),
    [] = supervisor:which_children(mongoose_system_metrics_sup),
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
    {ok, Peer, _} = peer:start(#{connection => standard_io, args => peer_args(?MODULE)}),
    OsPid = peer:call(Peer, os, getpid, []),
    ok = peer:call(Peer, ?MODULE, peer_start_sends, [Url, 20]),
    wait_requests(Hang, 20),
    case How of
        halt -> peer:cast(Peer, erlang, halt, []);
        init_stop -> peer:cast(Peer, init, stop, [])
    end,
    %% The sends would hold the VM for five minutes (their timeout): it is gone before.
    ok = msm_test_helper:wait_until(fun() -> not filelib:is_dir("/proc/" ++ OsPid) end, ?WAIT),
    %% Its connections went with it.
    ok = wait_no_open_connections([Hang], ?WAIT),
    catch peer:stop(Peer).

%% Runs in the peer: sends that hang, from a process that stays.
peer_start_sends(Url, N) ->
    Self = self(),
    spawn(fun() ->
                  [{ok, _} = ?NIF:send_report(pool_events(1), opts(Url, #{timeout_ms => 300000}))
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
        ok = ga4_stub_server:wait_for_requests(Stub, 3, ?WAIT),
        ok = msm_test_helper:wait_until(
               fun() -> maps:get(last_success, ?S:status()) =/= undefined end, ?WAIT),
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
