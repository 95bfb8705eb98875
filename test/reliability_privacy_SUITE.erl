%%% @doc Privacy and secrets on the reporting path: names planted in a node's facts or its
%%% MongooseIM configuration never reach a report, a request, the report file or a log line;
%%% the api_secret never reaches a log, a result, a crash report or a file. The servers are on
%%% 127.0.0.1 (ga4_stub_server; msm_fault_server, HTTP and HTTPS).
-module(reliability_privacy_SUITE).

-include_lib("proper/include/proper.hrl").
-include("support/msm_reliability.hrl").

-compile([export_all, nowarn_export_all]).

%% The helpers every reliability suite shares.
-import(msm_reliability, [pool_events/1, opts/2, url/1, closed_url/0, send_and_wait/3,
                          run_prop/2, format_log/1]).

all() ->
    [{group, privacy}].

groups() ->
    [{privacy, [], [prop_planted_strings_never_in_report_or_requests,
                    prop_planted_config_never_leaves_through_service,
                    secret_never_in_logs_results_crash_reports_or_file,
                    bad_builtin_tracking_id_is_one_line_without_the_secret,
                    report_job_dying_in_a_nif_call_leaks_no_secret]}].

%% The hook (msm_reliability) starts the applications, makes the certificates and resets
%% each case.
suite() ->
    [{timetrap, {minutes, 3}}, {ct_hooks, [{msm_reliability, [pki]}]}].

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
    ok = ga4_stub_server:wait_for_requests(Stub, 1, ?WAIT),
    File = filename:join(Dir, "system_metrics_report.json"),
    ok = msm_test_helper:wait_until(fun() -> filelib:is_regular(File) end, ?WAIT),
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
                                     andalso not maps:get(in_flight, ?S:status()) end, ?WAIT),
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
               fun() -> msm_log_capture:matching("crash_for_test", error) =/= [] end, ?WAIT),
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
                                                                        secret => list_to_binary(lists:duplicate(4100, $s) ++ ?SECRET)}]}]],
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
        %% Every part of every log event, its metadata included.
        msm_log_capture:assert_absent(?SECRET),
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

%%%===================================================================
%%% Issue 14, points 3 and 8
%%%===================================================================

%% A built-in tracking id (application env) that is not text: one warning naming the key,
%% never the secret; the service starts and the configured id still works.
bad_builtin_tracking_id_is_one_line_without_the_secret(Config) ->
    _ = msm_test_helper:report_dir(Config),
    msm_test_helper:set_mim_config(),
    msm_log_capture:start(),
    Bad = [#{id => "G-BUILTIN1", secret => {not_text, ?SECRET}},
           #{id => 42, secret => ?SECRET},
           #{id => "G-BUILTIN1", secret => [?SECRET, self()]},
           {?SECRET}],
    try
        lists:foreach(
          fun(Value) ->
                  msm_log_capture:clear(),
                  ok = application:set_env(mongoose_system_metrics, predefined_tracking_id, Value),
                  Started = ?S:start(#{report => true, initial_report => 3600000,
                                       tracking_id => #{id => ?TID, secret => "other-secret"}}),
                  ?assertMatch({ok, _}, Started),
                  Status = ?S:status(),
                  ?assertEqual([<<?TID>>], maps:get(tracking_ids, Status)),
                  ok = ?S:stop(),
                  Lines = [E || #{what := system_metrics_bad_builtin_tracking_id} = E
                                    <- msm_log_capture:events()],
                  ?assertMatch([_], Lines),
                  msm_log_capture:assert_absent(?SECRET),
                  [#{msg := {report, #{key := {mongoose_system_metrics, predefined_tracking_id}}}}]
                      = Lines,
                  assert_no_secret([Started, Status, msm_log_capture:events()])
          end, Bad)
    after
        application:unset_env(mongoose_system_metrics, predefined_tracking_id),
        msm_log_capture:stop(),
        msm_test_helper:stop_service(),
        msm_test_helper:clear_mim_config()
    end.

%% The report job dies inside a NIF call whose arguments hold the api_secret (forced with
%% meck): no log line (report or metadata), crash report or status/0 carries the secret.
report_job_dying_in_a_nif_call_leaks_no_secret(Config) ->
    _ = msm_test_helper:report_dir(Config),   % a fresh one: no last success, so it reports now
    msm_test_helper:set_mim_config(),
    #{level := Level} = logger:get_primary_config(),
    ok = logger:set_primary_config(level, all),
    msm_log_capture:start(),
    ok = meck:new(?NIF, [no_link]),
    try
        meck:expect(?NIF, build_report, fun(_) -> {ok, pool_events(1)} end),
        meck:expect(?NIF, encode_json, fun(_) -> {ok, <<"[]">>} end),
        meck:expect(?NIF, release_rules,
                    fun(_) -> {ok, #{release => <<"6.8">>, stanza_counters => instrumentation,
                                     components => mongoose_component}} end),
        meck:expect(?NIF, new_client_id, fun() -> <<"0b5f3b2e-2f1a-4c55-9a53-1f0c3e1b2a11">> end),
        meck:expect(?NIF, load_error, fun() -> none end),
        meck:expect(?NIF, cancel, fun(_) -> ok end),
        meck:expect(?NIF, cancel_all, fun() -> ok end),
        %% The service's send call dies holding the options (and so the api_secret).
        meck:expect(?NIF, build_and_send, fun(_Info, Opts) -> error({nif_failed, Opts}) end),
        {ok, _} = ?S:start(#{report => true, initial_report => 0, periodic_report => 3600000,
                             tracking_id => #{id => ?TID, secret => ?SECRET}}),
        ok = msm_test_helper:wait_until(
               fun() -> maps:get(last_error, ?S:status()) =/= undefined end, ?WAIT),
        Status = ?S:status(),
        ?assertMatch(#{last_error := #{kind := job}}, Status),
        ?assert(meck:called(?NIF, build_and_send, '_')),
        ok = ?S:stop(),
        Logs = msm_log_capture:events(),
        ?assert([] =/= [E || #{what := report_job_failed} = E <- Logs]),
        msm_log_capture:assert_absent(?SECRET),
        assert_no_secret([Status, Logs, [format_log(E) || E <- Logs]])
    after
        msm_log_capture:stop(),
        ok = logger:set_primary_config(level, Level),
        msm_test_helper:stop_service(),
        msm_test_helper:clear_mim_config(),
        meck:unload(?NIF),
        restore_nif()
    end.

%% After meck, the real stub binds the library again (purge the copy meck left, then load).
restore_nif() ->
    case ?NIF:load_error() of
        none -> ok;
        _ ->
            _ = code:purge(?NIF),
            {module, ?NIF} = code:load_file(?NIF),
            _ = code:purge(?NIF),
            ok
    end,
    ?assertEqual(none, ?NIF:load_error()).

assert_no_secret(Terms) ->
    Text = iolist_to_binary(io_lib:format("~p", [Terms])),
    case binary:match(Text, <<?SECRET>>) of
        nomatch -> ok;
        {At, _} -> ct:fail({secret_leaked, binary:part(Text, max(0, At - 800),
                                                       min(900, byte_size(Text) - max(0, At - 800)))})
    end.
