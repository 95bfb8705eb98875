%%% @doc `scripts/msm preview --config': what a MongooseIM configuration would send.
%%%
%%% - MongooseIM's own default configuration (`rel/files/mongooseim.toml' of every release
%%%   in ../shared/mongooseim, rendered with the values of `rel/vars-toml.config', through the
%%%   `prod' profile's file that includes it and adds the hosts and ports) previews without
%%%   error or warning with that release's rules, and gives the events written below for it.
%%% - Each reporting module of each release, configured without options, reports the option
%%%   keys its `config_metrics/1' names in that release's sources, with the defaults of its
%%%   `config_spec/0' there.
%%% - From the facts the preview read (`--node-config'), the stand-in node's own collector
%%%   and engine build the preview's events, but for the values only a running node knows:
%%%   the step from facts to events, on five release lines. Not the reading of the TOML file,
%%%   which preview_mongooseim_SUITE checks against MongooseIM's own code, and
%%%   native/preview/tests/samples.rs against facts written by hand.
%%% - The EU endpoint is the service's; exit statuses, messages, and no secret anywhere.
-module(preview_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

-define(SECRET, "preview-suite-secret-value").

all() ->
    [renderer_handles_the_template_forms, mongooseim_default_configs_preview,
     reported_options_follow_each_release_s_sources, preview_s_facts_give_the_node_s_events,
     eu_region_is_the_service_s_endpoint, exit_statuses_and_messages, no_secret_in_any_output].

init_per_suite(Config) ->
    Root = msm_mim_sources:project_root(),
    {ok, _} = application:ensure_all_started(jiffy),
    _ = application:ensure_all_started(mongoose_system_metrics),
    %% One build (a no-op when `make test' has built it); the cases run the binary.
    {0, _} = run(Root, "sh scripts/msm preview --help", 900000),
    [{root, Root}, {bin, binary_path(Root)} | Config].

end_per_suite(_Config) ->
    ok.

binary_path(Root) ->
    Target = case os:getenv("CARGO_TARGET_DIR") of
                 Dir when is_list(Dir), Dir =/= "" -> filename:absname(Dir, Root);
                 _ -> filename:join(Root, "target")
             end,
    filename:join([Target, "release", "msm-preview"]).

run(Dir, Cmd, Timeout) ->
    msm_test_helper:run_cmd(Dir, Cmd, [], Timeout).

%% Runs msm-preview; returns {Status, Stdout, Stderr}.
preview(Config, Args) ->
    Err = filename:join(?config(priv_dir, Config),
                        "stderr_" ++ integer_to_list(erlang:unique_integer([positive]))),
    Cmd = lists:join(" ", [?config(bin, Config) | [quote(A) || A <- Args]]) ++ " 2>" ++ Err,
    {Status, Out} = run(?config(root, Config), lists:flatten(Cmd), 60000),
    {ok, Stderr} = file:read_file(Err),
    {Status, Out, Stderr}.

quote(Arg) ->
    "'" ++ lists:flatten(string:replace(Arg, "'", "'\\''", all)) ++ "'".

preview_json(Config, File, Release) ->
    {Status, Out, Stderr} = preview(Config, ["--config", File, "--mongooseim-version", Release,
                                             "--json"]),
    ct:log("~s ~s: status ~p~n~ts~n~ts", [File, Release, Status, Stderr, Out]),
    ?assertEqual(0, Status),
    {jiffy:decode(Out, [return_maps]), Stderr}.

write(Config, Name, Text) ->
    File = filename:join(?config(priv_dir, Config), Name),
    ok = file:write_file(File, Text),
    File.

contains(Haystack, Needle) ->
    binary:match(iolist_to_binary(Haystack), iolist_to_binary(Needle)) =/= nomatch.

%%% Cases

renderer_handles_the_template_forms(_Config) ->
    Template = <<"a={{{a}}} b={{ b }} {{#on}}on:{{{n}}}{{/on}}{{#off}}off{{/off}}"
                 "{{^off}}not-off{{/off}}{{^on}}not-on{{/on}}{{#empty}}[empty]{{/empty}}"
                 "{{#missing}}x{{/missing}}{{! a comment }}|{{{nested}}}">>,
    Vars = #{a => "1", b => 2, on => true, off => false, n => <<"N">>, empty => "",
             nested => "port = {{b}}"},
    ?assertEqual(<<"a=1 b=2 on:Nnot-off[empty]|port = 2">>, msm_mustache:render(Template, Vars)).

%% MongooseIM's own default configuration, release by release. The expected events are
%% written from each release's template and vars files: host `localhost' only; modules
%% mod_adhoc, mod_disco, mod_cache_users, mod_last, mod_stream_management, mod_offline,
%% mod_privacy, mod_blocking, mod_private, mod_register, mod_presence, mod_roster, mod_sic,
%% mod_vcard, mod_carboncopy, and mod_bosh up to 6.5 (mod_cache_users and mod_presence report
%% nothing of themselves: 2 custom); HTTP listeners with BOSH, WebSockets, the APIs and
%% GraphQL; one c2s listener with TLS; no outgoing pool (commented out); prometheus
%% instrumentation from 6.3 (so stanza counts on 6.1-6.3 always, 6.4-6.5 never, 6.6+ yes);
%% the service's section without a tracking id.
mongooseim_default_configs_preview(Config) ->
    with_sources(fun() ->
                         Releases = msm_mim_sources:releases(),
                         ?assertEqual(8, length(Releases)),
                         [default_config_previews(Config, R) || R <- Releases]
                 end).

default_config_previews(Config, Release) ->
    Dir = msm_mim_sources:src_dir(Release),
    {ok, Template} = file:read_file(filename:join([Dir, "rel", "files", "mongooseim.toml"])),
    Vars = msm_mustache:read_vars(filename:join([Dir, "rel", "prod.vars-toml.config"])),
    ?assertMatch(#{mod_vcard := _, c2s_port := 5222}, Vars),
    Rendered = msm_mustache:render(Template, Vars),
    File = filename:join([Dir, "_msm_build", "mongooseim.toml"]),
    ok = filelib:ensure_dir(File),
    ok = file:write_file(File, Rendered),
    {#{<<"events">> := Events, <<"requests">> := Requests, <<"runtime_only">> := Runtime},
     Stderr} = preview_json(Config, File, Release),
    ?assertEqual(<<>>, Stderr),
    ?assertEqual([], Requests),
    [_, Minor | _] = [list_to_integer(P) || P <- string:lexemes(Release, ".")],
    Stanzas = Minor =< 3 orelse Minor >= 6,
    ?assertEqual([<<"uptime">>, <<"node_number">>, <<"component">>]
                 ++ [<<"xmpp_stanza_count">> || Stanzas] ++ [<<"client_id">>], Runtime),
    Expected = expected_default_events(Release, Minor, Stanzas),
    ?assertEqual(Expected, [strip_uptime(E) || E <- Events]).

expected_default_events(Release, Minor, Stanzas) ->
    Module = fun(M) -> ev(<<"module_with_opt">>, #{<<"module">> => M}) end,
    Backend = fun(M, B) -> ev(<<"module_with_opt">>, #{<<"module">> => M, <<"backend">> => B}) end,
    {Bosh, Ws, Api} = case Minor =< 5 of
                          true -> {<<"mod_bosh">>, <<"mod_websockets">>,
                                   [<<"mongoose_admin_api">>, <<"mongoose_client_api">>]};
                          false -> {<<"mongoose_bosh_handler">>, <<"mongoose_websocket_handler">>,
                                    [<<"mongoose_graphql_handler">>]}
                      end,
    Enabled = fun(Names) -> maps:from_list([{N, <<"enabled">>} || N <- Names]) end,
    [ev(<<"host_count">>, #{<<"value">> => 1}),
     ev(<<"domain_count">>, #{<<"value">> => 1}),
     Module(<<"mod_adhoc">>),
     Module(<<"mod_blocking">>)]
    ++ [Backend(<<"mod_bosh">>, <<"mnesia">>) || Minor =< 5]
    ++ [Module(<<"mod_carboncopy">>),
        Module(<<"mod_disco">>),
        Backend(<<"mod_last">>, <<"mnesia">>),
        Backend(<<"mod_offline">>, <<"mnesia">>),
        Backend(<<"mod_privacy">>, <<"mnesia">>),
        Backend(<<"mod_private">>, <<"rdbms">>),
        Module(<<"mod_register">>),
        Backend(<<"mod_roster">>, <<"mnesia">>),
        Module(<<"mod_sic">>),
        Module(<<"mod_stream_management">>),
        Backend(<<"mod_vcard">>, <<"mnesia">>),
        ev(<<"custom_module_count">>, #{<<"value">> => 2}),
        ev(<<"cluster">>, #{<<"component">> => 0, <<"config_type">> => <<"toml">>,
                            <<"node_number">> => 1, <<"version">> => list_to_binary(Release)}),
        ev(<<"http_api">>, Enabled([Bosh, Ws | Api])),
        ev(<<"transport_mechanism">>, Enabled([Bosh, Ws, <<"tcp">>]))]
    ++ [ev(<<"tls_option">>, #{<<"mode">> => <<"starttls">>, <<"module">> => <<"fast_tls">>})
        || Minor =< 2]
    ++ [ev(<<"tls_option">>, #{<<"mode">> => <<"starttls">>, <<"module">> => <<"just_tls">>})
        || Minor =:= 3]
    ++ [ev(<<"xmpp_stanza_count">>, #{<<"stanza_type">> => T, <<"total">> => 0,
                                      <<"increment">> => 0})
        || Stanzas, T <- [<<"xmppMessageSent">>, <<"xmppMessageReceived">>, <<"xmppIqSent">>,
                          <<"xmppIqReceived">>, <<"xmppPresenceSent">>,
                          <<"xmppPresenceReceived">>]].

ev(Name, Params) ->
    #{<<"name">> => Name, <<"params">> => Params}.

%% The uptime of a node just started: its value is checked where it is made (the engine).
strip_uptime(#{<<"name">> := <<"cluster">>, <<"params">> := #{<<"uptime">> := <<"0000-00:00:00">>} = P} = E) ->
    E#{<<"params">> := maps:remove(<<"uptime">>, P)};
strip_uptime(E) ->
    E.

%% Every reporting module of a release, configured without options: what it reports is
%% what its `config_metrics/1' names in that release's sources (msm_mim_fixture reads them),
%% each key with its `config_spec/0' default there.
reported_options_follow_each_release_s_sources(Config) ->
    with_sources(fun() ->
                         [reported_options_follow_sources(Config, R)
                          || R <- msm_mim_sources:releases()]
                 end).

%% MongooseIM's sources are test input: without them the case skips, or fails under
%% MSM_REQUIRE_MONGOOSEIM (CI).
with_sources(Fun) ->
    case msm_mim_sources:require() of
        ok -> Fun();
        {skip, _} = Skip -> Skip
    end.

reported_options_follow_sources(Config, Release) ->
    Dir = msm_mim_sources:src_dir(Release),
    Reporting = msm_mim_fixture:metrics_modules(Release),
    Keys = maps:from_list([{M, K} || {M, K} <- msm_mim_fixture:reported_options(Release)]),
    Text = ["[general]\nhosts = [\"localhost\"]\n[services.service_mongoose_system_metrics]\n"
            | [["[modules.", atom_to_list(M), "]\n"] || M <- Reporting]],
    File = write(Config, "all_modules_" ++ Release ++ ".toml", Text),
    {#{<<"events">> := Events}, _} = preview_json(Config, File, Release),
    Reported = maps:from_list([{binary_to_atom(M), maps:remove(<<"module">>, P)}
                               || #{<<"name">> := <<"module_with_opt">>,
                                    <<"params">> := #{<<"module">> := M} = P} <- Events]),
    %% Every configured reporting module is named (and dependencies only add to them).
    ?assertEqual([], Reporting -- maps:keys(Reported)),
    [begin
         Params = maps:get(M, Reported),
         case maps:get(M, Keys, none) of
             none ->
                 ?assertEqual({M, #{}}, {M, Params});
             pushers ->
                 %% No pusher configured: MongooseIM's config_metrics/1 reports nothing.
                 ?assertEqual({M, #{}}, {M, Params});
             ModuleKeys ->
                 Expected = maps:from_list([{atom_to_binary(K), source_default(Dir, M, K)}
                                            || K <- ModuleKeys]),
                 ?assertEqual({M, Expected}, {M, Params})
         end
     end || M <- Reporting, M =/= service_translations].

%% The default of option `Key' in the module's `config_spec/0' defaults, as written in the
%% release's source: `<<"backend">> => mnesia' or `<<"api_version">> => <<"v3">>'.
source_default(Dir, Module, Key) ->
    [File] = filelib:wildcard(filename:join([Dir, "src", "**", atom_to_list(Module) ++ ".erl"])),
    {ok, Src} = file:read_file(File),
    Re = ["<<\"", atom_to_list(Key), "\">>\\s*=>\\s*(?:<<\")?([a-z0-9_]+)(?:\">>)?\\s*[,}]"],
    {match, Found} = re:run(Src, Re, [global, {capture, all_but_first, binary}]),
    [Default] = lists:usort([D || [D] <- Found]),
    Default.

%% The preview's events are those the node's own collector and engine build from the facts
%% the preview read: the stand-in node holds the preview's `--node-config' (its host types,
%% modules with their options, what each module declares, listeners, pools), so this checks
%% facts to events only, on five release lines; the node's uptime aside.
preview_s_facts_give_the_node_s_events(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            Root = ?config(root, Config),
            Sample = filename:join([Root, "demo", "mongooseim.toml"]),
            Latest = filename:join([Root, "demo", "mongooseim-6.8.toml"]),
            Small = write(Config, "small.toml", small_config()),
            [node_report_matches(Config, File, R)
             || {File, R} <- [{Sample, "6.3.3"}, {Sample, "6.1.0"}, {Latest, "6.8.0"},
                              {Small, "6.8.0"}, {Small, "6.5.0"}, {Small, "6.2.1"}]];
        Skip ->
            Skip
    end.

small_config() ->
    <<"[general]\nhosts = [\"localhost\", \"example.com\"]\nhost_types = [\"t1\"]\n"
      "[[listen.c2s]]\nport = 5222\ntls.mode = \"tls\"\n"
      "[[listen.http]]\nport = 5280\n[[listen.http.handlers.mongoose_bosh_handler]]\n"
      "host = \"_\"\npath = \"/bosh\"\n[[listen.http.handlers.mod_websockets]]\n"
      "host = \"_\"\npath = \"/ws\"\n"
      "[outgoing_pools.redis.default]\n[outgoing_pools.elastic.default]\n"
      "[instrumentation.exometer]\n"
      "[services.service_mongoose_system_metrics]\n"
      "[modules.mod_muc]\n[modules.mod_event_pusher.http]\n[modules.mod_event_pusher.sns]\n"
      "[modules.mod_mam.pm]\n[modules.mod_acme]\n"
      "[[host_config]]\nhost_type = \"t1\"\n[host_config.modules.mod_inbox]\n"
      "[host_config.modules.mod_push_service_mongoosepush]\napi_version = \"v2\"\n">>.

node_report_matches(Config, File, Release) ->
    {#{<<"events">> := Previewed}, _} = preview_json(Config, File, Release),
    {0, NodeConfig, _} = preview(Config, ["--config", File, "--mongooseim-version", Release,
                                          "--node-config"]),
    Generated = msm_node_config:apply(NodeConfig, File),
    try
        msm_test_helper:clear_env(),
        msm_test_helper:report_dir(Config),
        {ok, _} = msm_test_helper:start_service(#{initial_report => 3600000,
                                                  periodic_report => 3600000, report => true}),
        {ok, #{events := Built}} = service_mongoose_system_metrics:preview(),
        Node = [without_uptime(E) || E <- jiffy:decode(jiffy:encode(Built), [return_maps])],
        ?assertEqual({File, Release, [without_uptime(E) || E <- Previewed]},
                     {File, Release, Node})
    after
        msm_test_helper:stop_service(),
        msm_node_config:restore(Generated)
    end.

without_uptime(#{<<"name">> := <<"cluster">>, <<"params">> := P} = E) ->
    E#{<<"params">> := maps:remove(<<"uptime">>, P)};
without_uptime(E) ->
    E.

eu_region_is_the_service_s_endpoint(Config) ->
    File = write(Config, "eu.toml",
                 ["[general]\nhosts = [\"localhost\"]\n"
                  "[services.service_mongoose_system_metrics]\nregion = \"eu\"\n"
                  "tracking_id.id = \"G-EU1\"\ntracking_id.secret = \"", ?SECRET, "\"\n"]),
    {#{<<"requests">> := [#{<<"url">> := Url, <<"tracking_id">> := <<"G-EU1">>}]}, _} =
        preview_json(Config, File, "6.8.0"),
    %% The service reads MongooseIM's options (no google_analytics_url here).
    mongoose_config:set_opts(#{}),
    Endpoint = try mongoose_system_metrics_options:endpoint(#{region => eu})
               after mongoose_config:erase_opts()
               end,
    ?assertEqual(<<Endpoint/binary, "?measurement_id=G-EU1&api_secret=***">>, Url).

exit_statuses_and_messages(Config) ->
    Root = ?config(root, Config),
    Msm = fun(Args) -> run(Root, "sh scripts/msm " ++ Args, 120000) end,
    {1, NoFile} = Msm("preview --config /nonexistent/mongooseim.toml"),
    ?assert(contains(NoFile, "cannot read the file")),
    Broken = write(Config, "broken.toml", "[general]\nhosts = [\"localhost\"\n[modules]\n"),
    {1, Syntax} = Msm("preview --config " ++ Broken),
    %% The array left open on line 2 is found unterminated where line 3 starts.
    ?assert(contains(Syntax, "line 3, column 1: missing comma between array elements")),
    BadKey = write(Config, "bad_key.toml", "[general]\nhosts = \"localhost\"\n"),
    {1, Key} = Msm("preview --config " ++ BadKey),
    ?assert(contains(Key, "general.hosts: expected an array of strings")),
    BadOption = write(Config, "bad_option.toml",
                      "[services.service_mongoose_system_metrics]\nperiodic_report = \"3h\"\n"),
    {1, Option} = Msm("preview --config " ++ BadOption),
    ?assert(contains(Option, "services.service_mongoose_system_metrics.periodic_report")),
    {2, Usage} = Msm("preview --mongooseim-version 6.8.0"),
    ?assert(contains(Usage, "--config FILE is required")),
    {2, _} = Msm("preview --config x.toml --mongooseim-version latest"),
    {2, _} = Msm("frobnicate"),
    %% Unknown sections, listeners and pools are reported, and the rest is previewed.
    Unknown = write(Config, "unknown.toml",
                    "[general]\nhosts = [\"localhost\"]\n[colours]\nsky = \"blue\"\n"
                    "[[listen.service]]\nport = 8888\n[outgoing_pools.riak.default]\n"
                    "[services.service_mongoose_system_metrics]\n"),
    {0, Out, Stderr} = preview(Config, ["--config", Unknown, "--mongooseim-version", "6.8.0"]),
    ?assert(contains(Stderr, "unknown section [colours]")),
    ?assert(contains(Stderr, "unknown listener type [[listen.service]]")),
    ?assert(contains(Stderr, "unknown outgoing pool type [outgoing_pools.riak]")),
    ?assert(contains(Out, "host_count             value=1")),
    %% The same pool is known to 6.1: one event.
    {#{<<"events">> := Events61}, <<>>} =
        preview_json(Config, write(Config, "riak.toml",
                                   "[outgoing_pools.riak.default]\n"
                                   "[services.service_mongoose_system_metrics]\n"), "6.1.0"),
    ?assertEqual([#{<<"value">> => <<"riak">>}],
                 [P || #{<<"name">> := <<"outgoing_pool">>, <<"params">> := P} <- Events61]).

no_secret_in_any_output(Config) ->
    Good = write(Config, "secret.toml",
                 ["[general]\nhosts = [\"localhost\"]\n[modules.mod_vcard]\n"
                  "[services.service_mongoose_system_metrics]\n"
                  "tracking_id.id = \"G-SECRET1\"\ntracking_id.secret = \"", ?SECRET, "\"\n"]),
    Outputs = [preview(Config, ["--config", Good | Extra])
               || Extra <- [[], ["--json"], ["--node-config"]]],
    [?assertEqual(0, S) || {S, _, _} <- Outputs],
    {0, Text, _} = hd(Outputs),
    ?assert(contains(Text, "measurement_id=G-SECRET1&api_secret=***")),
    %% A syntax error on the secret's line, and a secret of the wrong type.
    Broken = write(Config, "secret_broken.toml",
                   ["[services.service_mongoose_system_metrics]\n"
                    "tracking_id.id = \"G-SECRET1\"\ntracking_id.secret = \"", ?SECRET, "\n"]),
    Typed = write(Config, "secret_typed.toml",
                  ["[services.service_mongoose_system_metrics]\n"
                   "tracking_id.id = \"G-SECRET1\"\ntracking_id.secret = [\"", ?SECRET, "\"]\n"]),
    Failures = [preview(Config, ["--config", F]) || F <- [Broken, Typed]],
    [?assertEqual(1, S) || {S, _, _} <- Failures],
    [?assertNot(contains([Out, Err], ?SECRET)) || {_, Out, Err} <- Outputs ++ Failures].
