%%% @doc The Erlang side of `make bench' (driven by bench/run.sh, one fresh VM per phase).
%%%
%%% Every measurement is printed as one line `RESULT <key> <value>'; run.sh collects them.
%%% Phases (`erl ... -run msm_bench main Phase Args...'):
%%% <ul>
%%% <li>`latency FastUrl HangUrl': threads added by the first send, CPU over 10 s idle after
%%%     a report, call times of build_report/1 (realistic node, 1,000 modules),
%%%     encode_json/1, plan_requests/2 and send_report/2 while the endpoint hangs (each on a
%%%     dirty CPU scheduler), and long_schedule events (over 1 ms) throughout.</li>
%%% <li>`sched HangUrl': a probe waking every 1 ms, idle and during a flood of sends to a
%%%     hanging endpoint (max_in_flight 5,000), with long_schedule monitoring.</li>
%%% <li>`cpu engine|mim FastUrl Reports [BodiesFile]': whole-process CPU per delivered report,
%%%     build_and_send (the service's path) versus MongooseIM's path (jiffy + httpc, see
%%%     mim_sender.erl); `engine' also writes one report's request bodies for the floor.</li>
%%% <li>`rss FastUrl HangUrl Cycles SinkStatsPortHang': RSS before/after Cycles
%%%     build+send cycles, peak RSS with 5,000 sends in flight.</li>
%%% </ul>
-module(msm_bench).

-export([main/1, node_info/1, mim_reports/1]).

-define(NIF, mongoose_system_metrics_nif).
-define(CLIENT_ID, <<"4a8e4f7e-0d3c-4c5e-9a51-3c1e2f6d7b80">>).
-define(TRACKING, #{id => <<"G-BENCH00001">>, secret => <<"bench-secret">>}).

main([Phase | Args]) ->
    try
        run(Phase, Args),
        halt(0)
    catch C:R:S ->
        io:format(standard_error, "msm_bench ~s failed: ~p:~p~n~p~n", [Phase, C, R, S]),
        halt(1)
    end.

run("latency", [FastUrl, HangUrl]) -> latency(FastUrl, HangUrl);
run("sched", [HangUrl]) -> sched(HangUrl);
run("cpu", ["engine", FastUrl, Reports, BodiesFile]) ->
    cpu_engine(FastUrl, list_to_integer(Reports), BodiesFile);
run("cpu", ["mim", FastUrl, Reports]) -> cpu_mim(FastUrl, list_to_integer(Reports));
run("rss", [FastUrl, HangUrl, Cycles, HangStatsPort]) ->
    rss(FastUrl, HangUrl, list_to_integer(Cycles), list_to_integer(HangStatsPort));
run("summary", [File]) -> summary(File).

result(Key, Value) when is_float(Value) ->
    io:format("RESULT ~s ~.3f~n", [Key, Value]);
result(Key, Value) ->
    io:format("RESULT ~s ~p~n", [Key, Value]).

%%% Inputs ------------------------------------------------------------------------------------

%% @doc A realistic node (2 host types x 30 modules = 60 module entries, 10 outgoing pools,
%% 4 c2s listeners) or one with N module entries (`{modules, N}').
node_info(realistic) ->
    Known = [{mod_mam, #{backend => rdbms, async_writer => true}},
             {mod_mam_pm, #{}},
             {mod_muc, #{backend => mnesia, online_backend => cets, host => <<"muc.@HOST@">>}},
             {mod_muc_light, #{backend => rdbms}},
             {mod_inbox, #{backend => rdbms, reset_markers => [displayed]}},
             {mod_offline, #{backend => rdbms}},
             {mod_privacy, #{backend => rdbms}},
             {mod_private, #{backend => rdbms}},
             {mod_roster, #{backend => rdbms, versioning => true}},
             {mod_vcard, #{backend => ldap}},
             {mod_last, #{backend => rdbms}},
             {mod_http_upload, #{backend => s3, max_file_size => 10485760}},
             {mod_auth_token, #{backend => rdbms}},
             {mod_event_pusher, #{backend => [push, http]}},
             {mod_event_pusher_push, #{backend => mnesia}},
             {mod_push_service_mongoosepush, #{api_version => v3}},
             {mod_adhoc, #{}}, {mod_blocking, #{}}, {mod_carboncopy, #{}}, {mod_csi, #{}},
             {mod_disco, #{}}, {mod_stream_management, #{backend => mnesia}}, {mod_time, #{}},
             {mod_version, #{}}, {mod_register, #{}}],
    Custom = [{mod_ping, #{}}, {mod_caps, #{}}, {mod_bind2, #{}}, {mod_sasl2, #{}},
              {mod_acme_billing, #{backend => rdbms}}],
    Modules = [#{module => M, opts => O} || _HostType <- [1, 2], {M, O} <- Known ++ Custom],
    base_info(Modules, 2,
              [rdbms, rdbms, rdbms, rdbms, redis, redis, http, http, rabbit, cassandra]);
node_info({modules, N}) ->
    Names = [mod_adhoc, mod_amp, mod_auth_token, mod_blocking, mod_broadcast, mod_carboncopy,
             mod_csi, mod_disco, mod_event_pusher, mod_http_upload, mod_inbox, mod_last,
             mod_mam, mod_muc, mod_muc_light, mod_offline, mod_privacy, mod_private,
             mod_roster, mod_vcard, mod_version, mod_time, mod_register, mod_sic,
             mod_stream_management, mod_acme_a, mod_acme_b, mod_acme_c, mod_ping, mod_caps],
    Opts = #{backend => rdbms, iqdisc => one_queue},
    Mods = [#{module => lists:nth(1 + (I rem length(Names)), Names), opts => Opts}
            || I <- lists:seq(0, N - 1)],
    base_info(Mods, max(1, N div length(Names)), [rdbms, redis]).

base_info(Modules, HostTypes, Pools) ->
    Stanzas = [xmppMessageSent, xmppMessageReceived, xmppIqSent, xmppIqReceived,
               xmppPresenceSent, xmppPresenceReceived],
    #{version => <<"6.4.0-12-gabc1234">>,
      uptime_seconds => 3 * 86400 + 3723,
      node_count => 3,
      component_count => 2,
      config_type => toml,
      host_type_count => HostTypes,
      domain_count => 40,
      modules => Modules,
      http_handlers => [mongoose_bosh_handler, mongoose_websocket_handler,
                        mongoose_graphql_handler, mongoose_admin_api],
      c2s_listeners => [#{proto => tcp, tls => #{mode => starttls, module => just_tls}},
                        #{proto => tcp, tls => #{mode => tls, module => fast_tls}},
                        #{proto => tcp, tls => #{mode => starttls_required, module => just_tls}},
                        #{proto => tcp}],
      outgoing_pools => Pools,
      stanza_counts => maps:from_list([{S, 100000 + I * 7} || {I, S} <- enumerate(Stanzas)]),
      previous_stanza_counts => maps:from_list([{S, 90000 + I} || {I, S} <- enumerate(Stanzas)])}.

enumerate(L) -> lists:zip(lists:seq(1, length(L)), L).

realistic_events() ->
    {ok, Events} = ?NIF:build_report(node_info(realistic)),
    Events.

%% @doc The same events as MongooseIM's collector would hold them: atom names and keys.
mim_reports(Events) ->
    [#{name => binary_to_atom(N), params => maps:from_list([{binary_to_atom(K), V}
                                                             || {K, V} <- maps:to_list(P)])}
     || #{name := N, params := P} <- Events].

send_opts(Url, Extra) ->
    maps:merge(#{client_id => ?CLIENT_ID, tracking_ids => [?TRACKING], url => list_to_binary(Url)},
               Extra).

%%% Process facts from /proc ------------------------------------------------------------------

proc() -> "/proc/" ++ os:getpid().

tasks() ->
    {ok, Names} = file:list_dir(proc() ++ "/task"),
    Names.

%% CPU time (ns) of every live thread, or only of those whose name starts with Prefix.
cpu_ns() -> cpu_ns("").
cpu_ns(Prefix) ->
    lists:sum([task_cpu(T) || T <- tasks(), lists:prefix(Prefix, comm(T))]).

%% CPU time (ns) per live thread id whose name starts with Prefix.
task_cpus(Prefix) ->
    maps:from_list([{T, task_cpu(T)} || T <- tasks(), lists:prefix(Prefix, comm(T))]).

cpu_delta(M0, M1) ->
    lists:sum([V1 - maps:get(T, M0) || {T, V1} <- maps:to_list(M1), maps:is_key(T, M0)]).

task_cpu(T) ->
    case file:read_file(proc() ++ "/task/" ++ T ++ "/schedstat") of
        {ok, Bin} -> binary_to_integer(hd(binary:split(Bin, <<" ">>)));
        _ -> 0
    end.

comm(T) ->
    case file:read_file(proc() ++ "/task/" ++ T ++ "/comm") of
        {ok, Bin} -> string:trim(binary_to_list(Bin));
        _ -> ""
    end.

%% utime + stime of the whole process (exited threads included), in ns (10 ms ticks).
stat_cpu_ns() ->
    {ok, Bin} = file:read_file(proc() ++ "/stat"),
    [_, Rest] = string:split(Bin, <<")">>, trailing),
    Fields = string:lexemes(Rest, " "),
    (binary_to_integer(lists:nth(12, Fields)) + binary_to_integer(lists:nth(13, Fields)))
        * 10000000.

status_kb(Key) ->
    {ok, Bin} = file:read_file(proc() ++ "/status"),
    [Line] = [L || L <- binary:split(Bin, <<"\n">>, [global]),
                   binary:match(L, <<Key/binary, ":">>) =:= {0, byte_size(Key) + 1}],
    [_, Kb | _] = string:lexemes(Line, " \t"),
    binary_to_integer(Kb).

rss_kb() -> status_kb(<<"VmRSS">>).

%%% Statistics ---------------------------------------------------------------------------------

%% Times each call of F (ns), N times.
time_calls(F, N) -> time_calls(F, N, []).
time_calls(_F, 0, Acc) -> Acc;
time_calls(F, N, Acc) ->
    T0 = erlang:monotonic_time(nanosecond),
    _ = F(),
    T1 = erlang:monotonic_time(nanosecond),
    time_calls(F, N - 1, [T1 - T0 | Acc]).

pct(Sorted, P) when is_tuple(Sorted) ->
    N = tuple_size(Sorted),
    element(max(1, min(N, ceil(P * N))), Sorted).

report_times(Key, TimesNs) ->
    S = list_to_tuple(lists:sort(TimesNs)),
    result(Key ++ "_samples", tuple_size(S)),
    [result(Key ++ "_" ++ Name ++ "_us", pct(S, P) / 1000)
     || {Name, P} <- [{"median", 0.5}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1.0}]],
    ok.

%%% long_schedule monitoring -------------------------------------------------------------------

start_monitor() ->
    Self = self(),
    Pid = spawn(fun() -> monitor_loop(Self, 0, 0, []) end),
    erlang:system_monitor(Pid, [{long_schedule, 1}]),
    Pid.

monitor_loop(Owner, All, Nif, Examples) ->
    receive
        {monitor, _PidOrPort, long_schedule, Info} ->
            IsNif = lists:any(fun({K, {?NIF, _, _}}) when K =:= in; K =:= out -> true;
                                 (_) -> false
                              end, Info),
            Ex = case length(Examples) < 5 of
                     true -> [Info | Examples];
                     false -> Examples
                 end,
            monitor_loop(Owner, All + 1, Nif + bool(IsNif), Ex);
        {get, From} ->
            From ! {monitor_counts, All, Nif, lists:reverse(Examples)},
            monitor_loop(Owner, All, Nif, Examples)
    end.

bool(true) -> 1;
bool(false) -> 0.

monitor_counts(Pid) ->
    Pid ! {get, self()},
    receive {monitor_counts, All, Nif, Ex} -> {All, Nif, Ex} end.

report_monitor(Key, Pid) ->
    {All, Nif, Ex} = monitor_counts(Pid),
    result(Key ++ "_long_schedule_all", All),
    result(Key ++ "_long_schedule_nif", Nif),
    [io:format(standard_error, "long_schedule (~s): ~p~n", [Key, E]) || E <- Ex],
    ok.

%%% Phase: latency -----------------------------------------------------------------------------

latency(FastUrl, HangUrl) ->
    Mon = start_monitor(),
    %% The first call in a fresh VM (set-up happens when the library loads).
    {FirstUs, {ok, _}} = timer:tc(fun() -> ?NIF:build_report(node_info(realistic)) end),
    result("first_build_report_us", FirstUs),
    Events = realistic_events(),
    result("realistic_events", length(Events)),
    {ok, Big} = ?NIF:build_report(node_info({modules, 1000})),
    result("modules1000_events", length(Big)),
    %% Threads added by the first send (the runtime is created on it).
    Threads0 = length(tasks()),
    {ok, Ref} = ?NIF:send_report(Events, send_opts(FastUrl, #{})),
    [#{result := ok}] = wait_sent(Ref, 10000),
    timer:sleep(200),
    Threads1 = length(tasks()),
    result("threads_before_first_send", Threads0),
    result("threads_added_by_first_send", Threads1 - Threads0),
    result("threads_msm", length([T || T <- tasks(), lists:prefix("msm-worker", comm(T))])),
    %% CPU over 10 s idle after that report.
    timer:sleep(100),
    {Vm0, Msm0} = {task_cpus(""), task_cpus("msm-worker")},
    timer:sleep(10000),
    {Vm1, Msm1} = {task_cpus(""), task_cpus("msm-worker")},
    %% Per thread, over the threads alive at both ends (a blocking-pool thread that exits in
    %% between takes its CPU time with it; it only sleeps, waiting for its 10 s keep-alive).
    result("idle10s_cpu_msm_threads_ms", cpu_delta(Msm0, Msm1) / 1.0e6),
    result("idle10s_cpu_whole_vm_ms", cpu_delta(Vm0, Vm1) / 1.0e6),
    result("idle10s_msm_threads_exited", maps:size(Msm0) - maps:size(maps:with(maps:keys(Msm0), Msm1))),
    result("threads_after_idle", length(tasks())),
    %% NIF call times.
    NI = node_info(realistic),
    BigNI = node_info({modules, 1000}),
    Opts = send_opts(FastUrl, #{}),
    _ = time_calls(fun() -> ?NIF:build_report(NI) end, 2000),
    report_times("build_report_realistic", time_calls(fun() -> ?NIF:build_report(NI) end, 20000)),
    _ = time_calls(fun() -> ?NIF:build_report(BigNI) end, 100),
    report_times("build_report_1000_modules",
                 time_calls(fun() -> ?NIF:build_report(BigNI) end, 3000)),
    _ = time_calls(fun() -> ?NIF:encode_json(Events) end, 2000),
    report_times("encode_json_realistic", time_calls(fun() -> ?NIF:encode_json(Events) end, 20000)),
    _ = time_calls(fun() -> ?NIF:plan_requests(Events, Opts) end, 2000),
    report_times("plan_requests_realistic",
                 time_calls(fun() -> ?NIF:plan_requests(Events, Opts) end, 20000)),
    %% A 64 MB unaligned sub-binary (the VM copies one when a NIF inspects it) as a version
    %% and as a URL: refused by size before anything inspects it.
    <<_:1, Unaligned/binary>> = <<0:1, (binary:copy(<<"x">>, 64 * 1024 * 1024))/binary>>,
    {VersionUs, {error, _}} = timer:tc(fun() -> ?NIF:build_report(#{version => Unaligned}) end),
    result("unaligned_64mb_version_build_report_us", VersionUs),
    {UrlUs, {error, _}} =
        timer:tc(fun() -> ?NIF:send_report(Events, Opts#{url => Unaligned}) end),
    result("unaligned_64mb_url_send_report_us", UrlUs),
    %% send_report while the endpoint hangs: rounds of 2,500 sends (max_in_flight 5,000),
    %% then cancel_all and collect every answer. First a report just built, as the service
    %% sends it; then the same events in another order, which no build produced. Both are
    %% decoded and checked in full.
    ok = ?NIF:configure(#{max_in_flight => 5000}),
    HangOpts = send_opts(HangUrl, #{timeout_ms => 60000, max_retries => 0}),
    Built = realistic_events(),
    Times = lists:append([send_round(Built, HangOpts, 2500) || _ <- lists:seq(1, 5)]),
    report_times("send_report_hanging", lists:nthtail(2500, Times)),
    Unbuilt = lists:reverse(Built),
    TimesUnbuilt = lists:append([send_round(Unbuilt, HangOpts, 2500) || _ <- lists:seq(1, 3)]),
    report_times("send_report_unbuilt_hanging", lists:nthtail(2500, TimesUnbuilt)),
    %% The service's path: build_and_send from the node's facts, the endpoint hanging.
    BuildSend = fun() -> {ok, _, R} = ?NIF:build_and_send(NI, HangOpts), R end,
    TimesBuildSend = lists:append([send_round(BuildSend, 2500) || _ <- lists:seq(1, 3)]),
    report_times("build_and_send_hanging", lists:nthtail(2500, TimesBuildSend)),
    %% cancel_all with 2,500 sends in flight, once per round (8 calls).
    report_times("cancel_all_2500_in_flight", get_list(cancel_all_ns)),
    report_monitor("latency_phase", Mon).

send_round(Events, Opts, N) ->
    send_round(fun() -> {ok, R} = ?NIF:send_report(Events, Opts), R end, N).

send_round(Send, N) ->
    Timed = [begin
                 T0 = erlang:monotonic_time(nanosecond),
                 R = Send(),
                 T1 = erlang:monotonic_time(nanosecond),
                 {T1 - T0, R}
             end || _ <- lists:seq(1, N)],
    timer:sleep(300),
    C0 = erlang:monotonic_time(nanosecond),
    ok = ?NIF:cancel_all(),
    C1 = erlang:monotonic_time(nanosecond),
    [cancelled = sent_reason(wait_sent(R, 30000)) || {_, R} <- Timed],
    put(cancel_all_ns, [C1 - C0 | get_list(cancel_all_ns)]),
    [T || {T, _} <- Timed].

get_list(Key) ->
    case get(Key) of
        undefined -> [];
        L -> L
    end.

sent_reason([#{result := {error, Reason}}]) -> Reason;
sent_reason([#{result := ok}]) -> ok.

wait_sent(Ref, Timeout) ->
    receive {mongoose_system_metrics_sent, Ref, Results} -> Results
    after Timeout -> error({no_answer, Ref})
    end.

%%% Phase: sched -------------------------------------------------------------------------------

sched(HangUrl) ->
    Events = realistic_events(),
    %% The runtime exists before we start, as on a node that has reported once.
    ok = ?NIF:configure(#{max_in_flight => 5000}),
    HangOpts = send_opts(HangUrl, #{timeout_ms => 60000, max_retries => 0}),
    {ok, R0} = ?NIF:send_report(Events, HangOpts),
    ok = ?NIF:cancel(R0),
    _ = wait_sent(R0, 10000),
    Duration = 5000,
    Idle = probe(Duration),
    report_probe("probe_idle", Idle),
    Mon = start_monitor(),
    Self = self(),
    Flooder = spawn_link(fun() -> flood(Self, Events, HangOpts, Duration + 500) end),
    timer:sleep(300),
    Flood = probe(Duration),
    receive {flood_done, Flooder, Stats} -> ok end,
    report_probe("probe_flood", Flood),
    [result("flood_" ++ atom_to_list(K), V) || {K, V} <- Stats],
    report_monitor("flood", Mon),
    pct_ratio(Idle, Flood).

pct_ratio(Idle, Flood) ->
    I = pct(list_to_tuple(lists:sort(Idle)), 0.99),
    F = pct(list_to_tuple(lists:sort(Flood)), 0.99),
    result("probe_p99_flood_over_idle", F / max(1, I)).

%% A process waking every 1 ms (absolute timer); lateness of each wake-up in ns.
probe(DurationMs) ->
    Self = self(),
    Pid = spawn_link(fun() ->
                             Start = erlang:monotonic_time(millisecond) + 1,
                             Self ! {probe, self(), probe_loop(Start, Start + DurationMs, [])}
                     end),
    receive {probe, Pid, L} -> L end.

probe_loop(Next, End, Acc) when Next >= End -> Acc;
probe_loop(Next, End, Acc) ->
    erlang:send_after(Next, self(), tick, [{abs, true}]),
    receive tick -> ok end,
    Late = erlang:monotonic_time(nanosecond) - erlang:convert_time_unit(Next, millisecond,
                                                                       nanosecond),
    probe_loop(Next + 1, End, [Late | Acc]).

report_probe(Key, Lateness) ->
    S = list_to_tuple(lists:sort(Lateness)),
    result(Key ++ "_samples", tuple_size(S)),
    [result(Key ++ "_" ++ Name ++ "_us", pct(S, P) / 1000)
     || {Name, P} <- [{"median", 0.5}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1.0}]],
    ok.

%% Bursts of 50 sends every 10 ms to a hanging endpoint; when 4,500 are in flight,
%% cancel_all (the answers come back as messages and are drained).
flood(Owner, Events, Opts, DurationMs) ->
    End = erlang:monotonic_time(millisecond) + DurationMs,
    Stats = flood_loop(End, Events, Opts, #{sent => 0, answered => 0, overloaded => 0,
                                             cancel_alls => 0, cancel_all_max_us => 0,
                                             max_in_flight_seen => 0}),
    ok = ?NIF:cancel_all(),
    Final = drain_all(Stats, 10000),
    Owner ! {flood_done, self(), lists:sort(maps:to_list(Final))}.

flood_loop(End, Events, Opts, S0) ->
    case erlang:monotonic_time(millisecond) >= End of
        true -> S0;
        false ->
            S1 = burst(50, Events, Opts, S0),
            S2 = drain(S1),
            InFlight = maps:get(sent, S2) - maps:get(answered, S2),
            S3 = S2#{max_in_flight_seen => max(InFlight, maps:get(max_in_flight_seen, S2))},
            S4 = case InFlight >= 4500 of
                     true -> C0 = erlang:monotonic_time(nanosecond),
                             ok = ?NIF:cancel_all(),
                             Took = (erlang:monotonic_time(nanosecond) - C0) div 1000,
                             S3#{cancel_alls => maps:get(cancel_alls, S3) + 1,
                                 cancel_all_max_us => max(Took, maps:get(cancel_all_max_us, S3))};
                     false -> S3
                 end,
            timer:sleep(10),
            flood_loop(End, Events, Opts, S4)
    end.

burst(0, _Events, _Opts, S) -> S;
burst(N, Events, Opts, S) ->
    S1 = case ?NIF:send_report(Events, Opts) of
             {ok, _} -> S#{sent => maps:get(sent, S) + 1};
             {error, overloaded} -> S#{overloaded => maps:get(overloaded, S) + 1}
         end,
    burst(N - 1, Events, Opts, S1).

drain(S) ->
    receive {mongoose_system_metrics_sent, _, _} -> drain(S#{answered => maps:get(answered, S) + 1})
    after 0 -> S
    end.

drain_all(S, Timeout) ->
    case maps:get(sent, S) - maps:get(answered, S) of
        0 -> S;
        _ ->
            receive {mongoose_system_metrics_sent, _, _} ->
                    drain_all(S#{answered => maps:get(answered, S) + 1}, Timeout)
            after Timeout -> S
            end
    end.

%%% Phase: cpu ---------------------------------------------------------------------------------

-define(CPU_WARMUP, 200).

cpu_engine(Url, Reports, BodiesFile) ->
    NI = node_info(realistic),
    Opts = send_opts(Url, #{}),
    {ok, Planned} = ?NIF:plan_requests(realistic_events(), Opts),
    Bodies = [B || #{body := B} <- Planned],
    ok = file:write_file(BodiesFile, [<<(length(Bodies)):32>>
                                      | [<<(byte_size(B)):32, B/binary>> || B <- Bodies]]),
    result("requests_per_report", length(Bodies)),
    %% The service's path: one call builds and sends.
    One = fun() ->
                  {ok, _Events, Ref} = ?NIF:build_and_send(NI, Opts),
                  [#{result := ok, requests := N}] = wait_sent(Ref, 10000),
                  N
          end,
    measure_cpu("engine", One, Reports, length(Bodies)).

cpu_mim(Url, Reports) ->
    {ok, _} = application:ensure_all_started(inets),
    MimReports = mim_reports(realistic_events()),
    Tracking = #{id => binary_to_list(maps:get(id, ?TRACKING)),
                 secret => binary_to_list(maps:get(secret, ?TRACKING))},
    Batches = (length(MimReports) + 24) div 25,
    One = fun() -> mim_sender:send(Url, ?CLIENT_ID, MimReports, [Tracking]) end,
    measure_cpu("mim", One, Reports, Batches).

measure_cpu(Key, One, Reports, Expected) ->
    [Expected = One() || _ <- lists:seq(1, ?CPU_WARMUP)],
    erlang:garbage_collect(),
    {Cpu0, Stat0, W0} = {cpu_ns(), stat_cpu_ns(), erlang:monotonic_time(nanosecond)},
    Delivered = lists:sum([One() || _ <- lists:seq(1, Reports)]),
    {Cpu1, Stat1, W1} = {cpu_ns(), stat_cpu_ns(), erlang:monotonic_time(nanosecond)},
    Delivered =:= Reports * Expected orelse error({not_all_delivered, Delivered}),
    result("cpu_" ++ Key ++ "_reports", Reports),
    result("cpu_" ++ Key ++ "_requests_ok", Delivered),
    result("cpu_" ++ Key ++ "_ns_per_report", (Cpu1 - Cpu0) div Reports),
    result("cpu_" ++ Key ++ "_ns_per_report_stat", (Stat1 - Stat0) div Reports),
    result("cpu_" ++ Key ++ "_wall_ns_per_report", (W1 - W0) div Reports).

%%% Phase: rss ---------------------------------------------------------------------------------

rss(FastUrl, HangUrl, Cycles, HangStatsPort) ->
    NI = node_info(realistic),
    Opts = send_opts(FastUrl, #{}),
    result("rss_start_kb", rss_kb()),
    ok = cycles(NI, Opts, 2000, 32),
    settle(),
    Warm = rss_kb(),
    result("rss_after_warmup_kb", Warm),
    T0 = erlang:monotonic_time(millisecond),
    ok = cycles(NI, Opts, Cycles, 32),
    result("rss_cycles", Cycles),
    result("rss_cycles_wall_s", (erlang:monotonic_time(millisecond) - T0) / 1000),
    settle(),
    After = rss_kb(),
    result("rss_after_cycles_kb", After),
    result("rss_growth_kb", After - Warm),
    %% 5,000 sends in flight to a hanging endpoint.
    Events = realistic_events(),
    ok = ?NIF:configure(#{max_in_flight => 5000}),
    HangOpts = send_opts(HangUrl, #{timeout_ms => 120000, max_retries => 0}),
    Before = rss_kb(),
    Refs = [begin {ok, R} = ?NIF:send_report(Events, HangOpts), R end
            || _ <- lists:seq(1, 5000)],
    Open = wait_open(HangStatsPort, 5000, 30000),
    result("inflight_sink_connections", Open),
    Peak = rss_kb(),
    result("rss_before_5000_inflight_kb", Before),
    result("rss_with_5000_inflight_kb", Peak),
    result("rss_5000_inflight_added_kb", Peak - Before),
    result("vm_hwm_kb", status_kb(<<"VmHWM">>)),
    ok = ?NIF:cancel_all(),
    [cancelled = sent_reason(wait_sent(R, 30000)) || R <- Refs],
    settle(),
    result("rss_after_5000_cancelled_kb", rss_kb()).

settle() ->
    [erlang:garbage_collect(P) || P <- processes()],
    timer:sleep(6000),  % the HTTP client closes idle connections after 5 s
    [erlang:garbage_collect(P) || P <- processes()],
    ok.

%% Cycles build_report + send_report to a fast sink, at most Window sends in flight.
cycles(NI, Opts, N, Window) -> cycles(NI, Opts, N, Window, 0).

cycles(_NI, _Opts, 0, _Window, 0) -> ok;
cycles(NI, Opts, N, Window, InFlight) when N > 0, InFlight < Window ->
    {ok, Events} = ?NIF:build_report(NI),
    {ok, _} = ?NIF:send_report(Events, Opts),
    cycles(NI, Opts, N - 1, Window, InFlight + 1);
cycles(NI, Opts, N, Window, InFlight) ->
    receive
        {mongoose_system_metrics_sent, _, [#{result := ok}]} ->
            cycles(NI, Opts, N, Window, InFlight - 1);
        {mongoose_system_metrics_sent, _, Other} ->
            error({send_failed, Other})
    after 30000 -> error(cycles_stuck)
    end.

%% Polls the hanging sink's /stats until Want connections are open (or the time is up).
wait_open(Port, Want, TimeoutMs) ->
    Deadline = erlang:monotonic_time(millisecond) + TimeoutMs,
    wait_open_loop(Port, Want, Deadline).

wait_open_loop(Port, Want, Deadline) ->
    Open = sink_open(Port),
    case Open >= Want orelse erlang:monotonic_time(millisecond) > Deadline of
        true -> Open;
        false -> timer:sleep(100), wait_open_loop(Port, Want, Deadline)
    end.

sink_open(Port) ->
    {ok, S} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    ok = gen_tcp:send(S, <<"GET /stats HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n">>),
    {ok, Data} = recv_all(S, <<>>),
    gen_tcp:close(S),
    {match, [Open]} = re:run(Data, <<"open=([0-9]+)">>, [{capture, all_but_first, binary}]),
    binary_to_integer(Open) - 1.  % not counting this connection

recv_all(S, Acc) ->
    case re:run(Acc, <<"open=[0-9]+\n">>) of
        {match, _} -> {ok, Acc};
        nomatch ->
            {ok, More} = gen_tcp:recv(S, 0, 5000),
            recv_all(S, <<Acc/binary, More/binary>>)
    end.

%%% Summary ------------------------------------------------------------------------------------

%% Reads bench/results/latest.txt and prints the table of measurements and targets.
summary(File) ->
    {ok, Bin} = file:read_file(File),
    Lines = [string:lexemes(L, " ") || L <- binary:split(Bin, <<"\n">>, [global]), L =/= <<>>],
    R = maps:from_list([{binary_to_list(K), num(V)} || [<<"RESULT">>, K, V | _] <- Lines]),
    G = fun(K) -> maps:get(K, R, undefined) end,
    Div = fun(A, B) when is_number(A), is_number(B), B > 0 -> A / B; (_, _) -> undefined end,
    io:format("~n~-58s ~14s ~12s  ~s~n", ["measurement", "measured", "target", "status"]),
    io:format("~s~n", [lists:duplicate(96, $-)]),
    Row = fun(Name, Value, Unit, Target, Check) ->
                  Status = case {Value, Check} of
                               {undefined, _} -> "not measured";
                               {_, none} -> "";
                               _ -> case Check(Value) of true -> "met"; false -> "MISSED" end
                           end,
                  io:format("~-58s ~14s ~12s  ~s~n", [Name, fmt(Value, Unit), Target, Status])
          end,
    Le = fun(Max) -> fun(V) -> V =< Max end end,
    Lt = fun(Max) -> fun(V) -> V < Max end end,
    [Row("NIF " ++ Fn ++ " " ++ P, G(Key ++ "_" ++ Sfx ++ "_us"), "us", T, C)
     || {Fn, Key, Checks} <-
            %% Each of these runs on a dirty CPU scheduler: no per-call target in microseconds
            %% (contract revised 2026-11-30); the scheduler probe and long_schedule rows below
            %% show what the host feels.
            [{"build_report (realistic node)", "build_report_realistic", []},
             {"build_report (1,000 modules)", "build_report_1000_modules", []},
             {"encode_json (realistic)", "encode_json_realistic", []},
             {"plan_requests (realistic)", "plan_requests_realistic", []},
             {"send_report (a report just built, endpoint hangs)", "send_report_hanging", []},
             {"send_report (the same events reordered, hangs)", "send_report_unbuilt_hanging",
              []},
             {"build_and_send (realistic node, hangs)", "build_and_send_hanging", []},
             {"cancel_all (2,500 in flight; 8 calls)", "cancel_all_2500_in_flight", []}],
        {P, Sfx, T, C} <- [begin
                               {T0, C0} = case lists:keyfind(P0, 1, Checks) of
                                              {_, T1, C1} -> {T1, C1};
                                              false -> {"", none}
                                          end,
                               {P0, S0, T0, C0}
                           end || {P0, S0} <- [{"median", "median"}, {"p99", "p99"},
                                               {"p99.9", "p999"}, {"max", "max"}]]],
    Row("NIF build_report, first call in a fresh VM", G("first_build_report_us"), "us", "", none),
    Row("NIF build_report, 64 MB unaligned version", G("unaligned_64mb_version_build_report_us"),
        "us", "", none),
    Row("NIF send_report, 64 MB unaligned url", G("unaligned_64mb_url_send_report_us"), "us", "",
        none),
    Row("probe lateness p99, idle", G("probe_idle_p99_us"), "us", "", none),
    Row("probe lateness p99, under flood", G("probe_flood_p99_us"), "us", "", none),
    Row("probe p99 flood / idle", G("probe_p99_flood_over_idle"), "x", "", none),
    NifLs = case {G("latency_phase_long_schedule_nif"), G("flood_long_schedule_nif")} of
                {A, B} when is_number(A), is_number(B) -> A + B;
                _ -> undefined
            end,
    Row("long_schedule > 1 ms in the NIF (all phases)", NifLs, "", "0", Le(0)),
    Row("long_schedule > 1 ms, any cause (latency+flood)",
        sum([G("latency_phase_long_schedule_all"), G("flood_long_schedule_all")]), "", "", none),
    Row("flood: sends accepted", G("flood_sent"), "", "", none),
    Row("flood: slowest cancel_all (4,500 in flight)", G("flood_cancel_all_max_us"), "us", "",
        none),
    [begin
         Mim = G("cpu_" ++ Tag ++ "_mim_ns_per_report"),
         Eng = G("cpu_" ++ Tag ++ "_engine_ns_per_report"),
         Row("CPU/report, MongooseIM path (jiffy+httpc), " ++ Tag, us(Mim), "us", "", none),
         Row("CPU/report, engine (build_and_send), " ++ Tag, us(Eng), "us", "", none),
         Row("CPU engine / MongooseIM, " ++ Tag, Div(Eng, Mim), "x", "<= 0.6x",
             case Tag of "nobusywait" -> Le(0.6); _ -> none end)
     end || Tag <- ["nobusywait", "default"]],
    Floor = G("floor_cpu_ns_per_report"),
    Row("CPU/report, floor (bare Rust client)", us(Floor), "us", "", none),
    Row("CPU engine / floor (nobusywait)", Div(G("cpu_nobusywait_engine_ns_per_report"), Floor),
        "x", "", none),
    Row("threads added by the first send", G("threads_added_by_first_send"), "", "<= 2", Le(2)),
    Row("CPU of engine threads, 10 s idle after a report", G("idle10s_cpu_msm_threads_ms"),
        "ms", "~0", Lt(1)),
    Row("CPU of whole VM, 10 s idle after a report", G("idle10s_cpu_whole_vm_ms"), "ms", "", none),
    Row("RSS after warm-up", G("rss_after_warmup_kb"), "kB", "", none),
    Row("RSS growth over " ++ integer_to_list(trunc(num_or(G("rss_cycles"), 0))) ++
            " build+send cycles", G("rss_growth_kb"), "kB", "< 5120 kB", Lt(5120)),
    Row("RSS added by 5,000 sends in flight", G("rss_5000_inflight_added_kb"), "kB", "", none),
    Row("peak RSS (VmHWM) with 5,000 in flight", G("vm_hwm_kb"), "kB", "", none),
    [Row("criterion " ++ lists:sublist(K, 11, length(K) - 13), V / 1000, "us", "", none)
     || {K, V} <- lists:sort(maps:to_list(R)), lists:prefix("criterion_", K)],
    io:format("~nload (1/5/15 min):~n"),
    [io:format("  ~-16s ~s~n", [W, lists:join(" ", Rest)])
     || [<<"LOAD">>, W | Rest] <- Lines],
    ok.

num(V) ->
    S = binary_to_list(V),
    case string:to_float(S) of
        {F, []} -> F;
        _ -> case string:to_integer(S) of
                 {I, []} -> I;
                 _ -> S
             end
    end.

num_or(V, _) when is_number(V) -> V;
num_or(_, D) -> D.

sum(L) ->
    case lists:all(fun is_number/1, L) of
        true -> lists:sum(L);
        false -> undefined
    end.

us(V) when is_number(V) -> V / 1000;
us(V) -> V.

fmt(undefined, _) -> "-";
fmt(V, Unit) when is_integer(V) -> integer_to_list(V) ++ " " ++ Unit;
fmt(V, Unit) when is_float(V), abs(V) >= 100 -> float_to_list(V, [{decimals, 0}]) ++ " " ++ Unit;
fmt(V, Unit) when is_float(V) -> io_lib:format("~.2f ~s", [V, Unit]);
fmt(V, _) -> V.
