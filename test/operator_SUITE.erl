%%% @doc What an operator sees and runs: the main-job command (`make demo', run for real),
%%% the preview (in process, and the `scripts/msm-preview' escript against a running node),
%%% and the single log line when TLS verification fails, naming `cacertfile' (against a real
%%% HTTPS sink on 127.0.0.1), with the cacertfile remedy shown to work.
%%% MongooseIM is not running here: the stand-in modules in test/ answer for it.
-module(operator_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

-define(SERVICE, service_mongoose_system_metrics).
-define(SECRET, "operator-suite-secret-value").

all() ->
    [demo_command_sends_one_report, preview_in_process_sends_nothing,
     preview_escript_against_running_node, tls_failure_logs_one_line_naming_cacertfile,
     cacertfile_makes_tls_pass].

init_per_suite(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            {ok, _} = application:ensure_all_started(jiffy),
            {ok, _} = application:ensure_all_started(mongoose_system_metrics),
            [{root, project_root()} | Config];
        Skip ->
            Skip
    end.

end_per_suite(_Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    msm_test_helper:clear_env(),
    msm_test_helper:set_mim_config(),
    msm_test_helper:report_dir(Config),
    msm_log_capture:start(),
    Config.

end_per_testcase(_Case, _Config) ->
    msm_test_helper:stop_service(),
    msm_log_capture:stop(),
    msm_test_helper:clear_mim_config(),
    msm_test_helper:clear_env(),
    ok.

%% The repository root: rebar3 ct runs from it (PWD); checked by looking for our files.
project_root() ->
    Candidates = [os:getenv("PWD", ""), filename:absname("../../../..")],
    case [D || D <- Candidates, filelib:is_regular(filename:join([D, "scripts", "demo.sh"]))] of
        [Root | _] -> Root;
        [] -> ct:fail({project_root_not_found, Candidates})
    end.

%% Runs a shell command in Dir, with the environment kill switches cleared.
run(Dir, Cmd, Timeout) ->
    msm_test_helper:run_cmd(Dir, Cmd, [{"MONGOOSEIM_SYSTEM_METRICS", false},
                                       {"DO_NOT_TRACK", false}], Timeout).

contains(Haystack, Needle) ->
    binary:match(Haystack, Needle) =/= nomatch.

%%% Cases

demo_command_sends_one_report(Config) ->
    {Status, Out} = run(?config(root, Config), "sh scripts/demo.sh", 300000),
    ct:log("~ts", [Out]),
    ?assertEqual(0, Status),
    [?assert(contains(Out, Text)) || Text <- [<<"DEMO OK">>,
                                              <<"GA4 rule violations: 0">>,
                                              <<"\"client_id\" : ">>,
                                              <<"\"name\" : \"cluster\"">>,
                                              <<"validationMessages: []">>,
                                              <<"system_metrics_report.json">>]],
    %% The demo printed the collector's own URL, on loopback only.
    {match, [Url]} = re:run(Out, "listening on (\\S+)", [{capture, all_but_first, binary}]),
    ?assertMatch(<<"http://127.0.0.1:", _/binary>>, Url).

preview_in_process_sends_nothing(_Config) ->
    {ok, Sink} = ga4_stub_server:start(),
    try
        {ok, _} = msm_test_helper:start_service(
                    #{initial_report => 3600000, periodic_report => 3600000, report => true,
                      url => list_to_binary(ga4_stub_server:url(Sink)),
                      tracking_id => #{id => "G-OPERATOR1", secret => ?SECRET}}),
        {ok, Text} = mongoose_system_metrics_preview:text(),
        ct:log("~ts", [Text]),
        ?assert(contains(Text, <<"nothing has been sent">>)),
        ?assert(contains(Text, <<"measurement_id=G-OPERATOR1&api_secret=***">>)),
        ?assert(contains(Text, <<"module_with_opt        backend=rdbms, module=mod_vcard">>)),
        ?assert(contains(Text, <<"\"client_id\":">>)),
        ?assertNot(contains(Text, <<?SECRET>>)),
        ?assertNot(contains(Text, <<"acme">>)),
        ?assertEqual([], ga4_stub_server:requests(Sink))
    after
        ga4_stub_server:stop(Sink)
    end.

preview_escript_against_running_node(Config) ->
    Root = ?config(root, Config),
    {ok, Sink} = ga4_stub_server:start(),
    Cookie = "msm_operator_cookie",
    Ebin = filename:absname(filename:join(code:lib_dir(mongoose_system_metrics), "ebin"), Root),
    TestEbin = filename:absname(filename:dirname(code:which(?MODULE)), Root),
    SupportEbin = filename:absname(filename:dirname(code:which(msm_test_helper)), Root),
    StandinsEbin = filename:absname(filename:dirname(code:which(mongoose_config)), Root),
    ct:log("code paths for the peer: ~s ~s", [Ebin, TestEbin]),
    Name = list_to_atom("msm_preview_target_" ++ os:getpid()),
    {ok, Peer, Node} = peer:start_link(#{name => Name, connection => standard_io,
                                         args => ["-setcookie", Cookie, "-pa", Ebin,
                                                  "-pa", TestEbin, "-pa", SupportEbin,
                                                  "-pa", StandinsEbin]}),
    try
        Url = list_to_binary(ga4_stub_server:url(Sink)),
        ok = peer:call(Peer, application, set_env,
                       [mongoose_system_metrics, report_dir, ?config(priv_dir, Config)]),
        {ok, _} = peer:call(Peer, application, ensure_all_started, [mongoose_system_metrics]),
        {ok, _} = peer:call(Peer, ?SERVICE, start,
                            [#{initial_report => 3600000, periodic_report => 3600000,
                               report => true, url => Url,
                               tracking_id => #{id => "G-ESCRIPT1", secret => ?SECRET}}]),
        {Status, Out} = run(Root, "escript scripts/msm-preview " ++ atom_to_list(Node) ++ " "
                            ++ Cookie, 60000),
        ct:log("~ts", [Out]),
        ?assertEqual(0, Status),
        ?assert(contains(Out, <<"System metrics preview: nothing has been sent.">>)),
        ?assert(contains(Out, <<"measurement_id=G-ESCRIPT1&api_secret=***">>)),
        ?assert(contains(Out, <<"custom_module_count">>)),
        ?assertNot(contains(Out, <<?SECRET>>)),
        ?assertEqual([], ga4_stub_server:requests(Sink)),
        %% A node that is not there gives a clear error and a non-zero status.
        {Status2, Out2} = run(Root, "escript scripts/msm-preview nosuchnode@localhost x", 60000),
        ?assertEqual(1, Status2),
        ?assert(contains(Out2, <<"cannot reach">>))
    after
        peer:stop(Peer),
        ga4_stub_server:stop(Sink)
    end.

tls_failure_logs_one_line_naming_cacertfile(_Config) ->
    Sink = msm_tls_sink:start(),
    try
        {ok, _} = msm_test_helper:start_service(
                    #{initial_report => 50, periodic_report => 300, report => true,
                      url => msm_tls_sink:url(Sink), max_retries => 0,
                      tracking_id => #{id => "G-TLS1", secret => ?SECRET}}),
        msm_test_helper:wait_until(
          fun() -> maps:get(last_attempt, ?SERVICE:status()) =/= undefined
                       andalso length(msm_log_capture:matching("cacertfile")) >= 1 end, 10000),
        %% Several failed reports, still one line for the streak.
        Attempt1 = maps:get(last_attempt, ?SERVICE:status()),
        msm_test_helper:wait_until(
          fun() -> maps:get(last_attempt, ?SERVICE:status()) > Attempt1 end, 10000),
        Lines = msm_log_capture:matching("TLS certificate"),
        ?assertMatch([#{level := warning, what := report_tls_verification_failed}], Lines),
        [#{text := Text}] = Lines,
        ?assert(contains(Text, <<"cacertfile">>)),
        ?assertMatch(#{last_error := #{kind := send, reason := [{<<"G-TLS1">>, tls_error}]}},
                     ?SERVICE:status()),
        ?assertEqual(0, msm_tls_sink:requests(Sink)),
        [?assertNot(contains(T, <<?SECRET>>)) || #{text := T} <- msm_log_capture:events()]
    after
        msm_tls_sink:stop(Sink)
    end.

cacertfile_makes_tls_pass(Config) ->
    Sink = msm_tls_sink:start(),
    CaFile = filename:join(?config(priv_dir, Config), "operator_ca.pem"),
    ok = msm_tls_sink:ca_file(Sink, CaFile),
    try
        {ok, _} = msm_test_helper:start_service(
                    #{initial_report => 50, periodic_report => 3600000, report => true,
                      url => msm_tls_sink:url(Sink), max_retries => 0, cacertfile => CaFile,
                      tracking_id => #{id => "G-TLS2", secret => ?SECRET}}),
        msm_test_helper:wait_until(
          fun() -> is_integer(maps:get(last_success, ?SERVICE:status())) end, 10000),
        ?assert(msm_tls_sink:requests(Sink) >= 1),
        ?assertEqual([], msm_log_capture:matching("TLS certificate"))
    after
        msm_tls_sink:stop(Sink)
    end.
