%%% @doc What an operator sees and runs: the main-job command (`make demo', run for real),
%%% the preview (in process), `scripts/msm status --node' and `scripts/msm preview --node'
%%% against a running node (short names, and long names when the host has a dot),
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
     msm_commands_against_a_running_node, msm_commands_with_long_names,
     tls_failure_logs_one_line_naming_cacertfile,
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
                                              <<"== Preview: scripts/msm preview --config "
                                                "demo/mongooseim.toml">>,
                                              <<"Nothing has been sent.">>,
                                              <<"GA4 rule violations: 0">>,
                                              <<"\"client_id\" : ">>,
                                              <<"\"name\" : \"cluster\"">>,
                                              <<"These are the 65 previewed events">>,
                                              <<"validationMessages: []">>,
                                              <<"system_metrics_report.json">>]],
    %% The sample configuration brings every kind of event to the collector.
    [_, Received] = binary:split(Out, <<"== Events the collector received and accepted ==">>),
    [?assertMatch({Name, {match, _}},
                  {Name, re:run(Received, ["^  ", Name, " "], [multiline])})
     || Name <- [<<"host_count">>, <<"domain_count">>, <<"module_with_opt">>,
                 <<"custom_module_count">>, <<"cluster">>, <<"http_api">>,
                 <<"transport_mechanism">>, <<"tls_option">>, <<"outgoing_pool">>,
                 <<"xmpp_stanza_count">>]],
    ?assertNot(contains(Out, <<"sample-secret-not-real">>)),
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

%% A node running the service, started by the test with its own cookie (peer, through its
%% standard input and output: this node needs no distribution).
start_target(Config, Name, Host, LongNames, Cookie) ->
    Root = ?config(root, Config),
    Paths = [filename:absname(filename:join(code:lib_dir(mongoose_system_metrics), "ebin"), Root)
             | [filename:absname(filename:dirname(code:which(M)), Root)
                || M <- [?MODULE, msm_test_helper, mongoose_config]]],
    {ok, Peer, Node} = peer:start_link(#{name => Name, host => Host, longnames => LongNames,
                                         connection => standard_io,
                                         args => ["-setcookie", Cookie]
                                                 ++ lists:append([["-pa", P] || P <- Paths])}),
    ok = peer:call(Peer, application, set_env,
                   [mongoose_system_metrics, report_dir, ?config(priv_dir, Config)]),
    {ok, _} = peer:call(Peer, application, ensure_all_started, [mongoose_system_metrics]),
    {Peer, Node}.

start_service_on(Peer, Url) ->
    {ok, _} = peer:call(Peer, ?SERVICE, start,
                        [#{initial_report => 3600000, periodic_report => 3600000,
                           report => true, url => Url,
                           tracking_id => #{id => "G-NODE1", secret => ?SECRET}}]).

msm_commands_against_a_running_node(Config) ->
    Root = ?config(root, Config),
    {ok, Sink} = ga4_stub_server:start(),
    Cookie = "msm_operator_cookie",
    [_, Host] = string:split(atom_to_list(node_host_probe()), "@"),
    Name = "msm_target_" ++ os:getpid(),
    {Peer, Node} = start_target(Config, list_to_atom(Name), Host, false, Cookie),
    try
        ?assertEqual(Name ++ "@" ++ Host, atom_to_list(Node)),
        %% Before the service starts: status says so, preview says why there is none.
        {0, Idle} = run(Root, "sh scripts/msm status --node " ++ atom_to_list(Node)
                        ++ " --cookie " ++ Cookie, 60000),
        ct:log("~ts", [Idle]),
        ?assert(contains(Idle, <<"running          false">>)),
        {1, NotRunning} = run(Root, "sh scripts/msm preview --node " ++ atom_to_list(Node)
                              ++ " --cookie " ++ Cookie, 60000),
        ?assert(contains(NotRunning, <<"not running">>)),
        start_service_on(Peer, list_to_binary(ga4_stub_server:url(Sink))),
        %% The node without its host: this machine's, as MongooseIM's scripts do.
        {Status, Out} = run(Root, "sh scripts/msm preview --node " ++ Name
                            ++ " --cookie " ++ Cookie, 60000),
        ct:log("~ts", [Out]),
        ?assertEqual(0, Status),
        ?assert(contains(Out, <<"System metrics preview: nothing has been sent.">>)),
        ?assert(contains(Out, <<"measurement_id=G-NODE1&api_secret=***">>)),
        ?assert(contains(Out, <<"custom_module_count">>)),
        {0, StatusOut} = run(Root, "sh scripts/msm status -sname " ++ atom_to_list(Node)
                             ++ " --cookie=" ++ Cookie, 60000),
        ct:log("~ts", [StatusOut]),
        [?assert(contains(StatusOut, Text))
         || Text <- [<<"System metrics status of ", (atom_to_binary(Node))/binary>>,
                     <<"running          true">>, <<"kill_switch      none">>,
                     <<"last_success     none">>, <<"next_report_due  20">>,
                     <<"G-NODE1">>, <<"system_metrics_report.json">>]],
        [?assertNot(contains(O, <<?SECRET>>)) || O <- [Out, StatusOut]],
        ?assertEqual([], ga4_stub_server:requests(Sink)),
        %% A wrong cookie, a node that is not there, and usage errors.
        {1, Wrong} = run(Root, "sh scripts/msm status --node " ++ atom_to_list(Node)
                         ++ " --cookie not_the_cookie", 60000),
        ?assert(contains(Wrong, <<"cannot reach">>)),
        {1, Absent} = run(Root, "sh scripts/msm preview --node nosuchnode@" ++ Host
                          ++ " --cookie x", 60000),
        ?assert(contains(Absent, <<"cannot reach nosuchnode@">>)),
        {2, _} = run(Root, "sh scripts/msm status", 60000),
        {2, _} = run(Root, "sh scripts/msm status --node a@b --verbose", 60000)
    after
        peer:stop(Peer),
        ga4_stub_server:stop(Sink)
    end.

%% This machine's short host name, as a node started with -sname gets it.
node_host_probe() ->
    {ok, Short} = inet:gethostname(),
    list_to_atom("probe@" ++ hd(string:split(Short, "."))).

%% A host part with a dot means long names (-name), as MongooseIM's scripts decide.
msm_commands_with_long_names(Config) ->
    Root = ?config(root, Config),
    Cookie = "msm_long_cookie",
    {Peer, Node} = start_target(Config, list_to_atom("msm_long_" ++ os:getpid()),
                                "127.0.0.1", true, Cookie),
    try
        start_service_on(Peer, <<"http://127.0.0.1:9/mp/collect">>),
        ?assertMatch([_, "127.0.0.1"], string:split(atom_to_list(Node), "@")),
        {0, Out} = run(Root, "sh scripts/msm status --node " ++ atom_to_list(Node)
                       ++ " --cookie " ++ Cookie, 60000),
        ?assert(contains(Out, <<"running          true">>)),
        {0, Preview} = run(Root, "sh scripts/msm preview --node " ++ atom_to_list(Node)
                           ++ " --cookie " ++ Cookie, 60000),
        ?assert(contains(Preview, <<"measurement_id=G-NODE1&api_secret=***">>)),
        %% Forcing short names on it cannot reach it.
        {1, _} = run(Root, "sh scripts/msm status -sname " ++ atom_to_list(Node)
                     ++ " --cookie " ++ Cookie, 60000)
    after
        peer:stop(Peer)
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
