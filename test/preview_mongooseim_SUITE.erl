%%% @doc The preview against MongooseIM's own reading of a configuration.
%%%
%%% MongooseIM's code of a release (msm_mim_build: all of its modules, tomerl, jid and
%%% stringprep) reads each file in a peer VM as its node does at start
%%% (msm_mim_config: `mongoose_config_parser_toml:parse_file/1', every section checked by
%%% its `mongoose_config_spec', modules completed with their dependencies). Then:
%%% - the sample configurations of `demo/' are accepted by the release they are written
%%%   for, and a sample with the faults once found in it is refused for those faults;
%%% - a stand-in node holding exactly the options MongooseIM made of a file (a sample, or
%%%   the release's own default configuration), its modules
%%%   generated from their sources in that release (msm_node_config:apply_mongooseim/3),
%%%   builds with its own collector and engine the events the preview printed for the file,
%%%   but for the node's uptime. Nothing of the preview's reading (host types, modules with
%%%   their defaults and dependencies, listeners, pools) reaches that node.
-module(preview_mongooseim_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

%% What a MongooseIM release ships under its root and the configurations name (only their
%% existence is checked when the configuration is read).
-define(RELEASE_FILES, ["priv/ssl/fake_server.pem", "priv/ssl/fake_cert.pem",
                        "priv/ssl/fake_key.pem", "priv/ssl/fake_dh_server.pem"]).
%% The sample's module of the operator's own.
-define(OPERATOR_MODULES, [mod_acme_audit]).

all() ->
    [samples_are_accepted_by_their_release, faults_are_refused_by_the_release,
     preview_equals_a_node_on_mongooseim_s_reading,
     default_config_preview_equals_a_node_on_mongooseim_s_reading].

init_per_suite(Config) ->
    case {msm_mim_sources:require(), msm_mim_build:require()} of
        {ok, ok} ->
            Root = msm_mim_sources:project_root(),
            {ok, _} = application:ensure_all_started(jiffy),
            _ = application:ensure_all_started(mongoose_system_metrics),
            %% The first run of a checkout builds both releases (about 30 s each).
            [_ = msm_mim_build:code_dirs(R) || {_, R} <- samples()],
            {0, _} = msm_test_helper:run_cmd(Root, "sh scripts/msm preview --help", [], 900000),
            [{root, Root} | Config];
        {ok, Skip} -> Skip;
        {Skip, _} -> Skip
    end.

end_per_suite(_Config) ->
    ok.

%% Each sample and the release it is written for.
samples() ->
    [{"demo/mongooseim.toml", "6.3.3"}, {"demo/mongooseim-6.8.toml", "6.8.0"}].

read(Config, File, Release, Service) ->
    Work = filename:join(?config(priv_dir, Config),
                         "node_" ++ integer_to_list(erlang:unique_integer([positive]))),
    ok = filelib:ensure_dir(filename:join(Work, "x")),
    Result = msm_mim_config:process(Release, File,
                                    #{service => Service, work_dir => Work,
                                      operator_modules => ?OPERATOR_MODULES,
                                      release_files => ?RELEASE_FILES}),
    %% The options hold the file's passwords: their keys only.
    ct:log("~s read by MongooseIM ~s (service: ~p):~n~p",
           [File, Release, Service, case Result of
                                        {ok, Opts} -> {ok, [K || {K, _} <- Opts]};
                                        Errors -> Errors
                                    end]),
    Result.

%% Path and reason of each error, sorted.
faults({error, Errors}) ->
    lists:sort([{maps:get(toml_path, E, none), maps:get(reason, E, none)} || E <- Errors]);
faults(Other) ->
    Other.

%%% Cases

%% Each sample as the node of its release reads it: with this project's service (the
%% deployment the samples describe) and, for the 6.3.3 sample, with MongooseIM's own.
%% MongooseIM 6.8.0's own service does not know `region' and `validate', the keys this
%% project adds that the 6.8 sample sets.
samples_are_accepted_by_their_release(Config) ->
    Root = ?config(root, Config),
    [?assertMatch({File, {ok, [_ | _]}},
                  {File, read(Config, filename:join(Root, File), Release, plugin)})
     || {File, Release} <- samples()],
    ?assertMatch({ok, [_ | _]},
                 read(Config, filename:join(Root, "demo/mongooseim.toml"), "6.3.3", mongooseim)),
    {error, [Refused]} = read(Config, filename:join(Root, "demo/mongooseim-6.8.toml"),
                              "6.8.0", mongooseim),
    ?assertMatch(#{toml_path := "services.service_mongoose_system_metrics",
                   reason := unexpected_key}, Refused),
    ?assert(lists:member(maps:get(key, Refused), [<<"region">>, <<"validate">>])).

%% The checks are MongooseIM's and do refuse: the 6.3.3 sample as it once was, its TLS
%% listeners without `verify_mode = "none"' (6.3 verifies peers by default, and needs a
%% CA file for that), its rdbms authentication without its section, and MongooseIM's
%% modules that do not support dynamic domains for every host type, is refused for
%% exactly those.
faults_are_refused_by_the_release(Config) ->
    {ok, Text} = file:read_file(filename:join(?config(root, Config), "demo/mongooseim.toml")),
    Faulty = lists:foldl(fun({From, To}, T) -> binary:replace(T, From, To, [global]) end, Text,
                         [{<<"  tls.verify_mode = \"none\"\n">>, <<>>},
                          {<<"  [auth.rdbms]\n">>, <<>>}]),
    File = filename:join(?config(priv_dir, Config), "faulty.toml"),
    ok = file:write_file(File, Faulty),
    ?assertEqual([{"auth", missing_section_for_auth_method},
                  {"listen.c2s.tls", missing_cacertfile},
                  {"listen.c2s.tls", missing_cacertfile}],
                 faults(read(Config, File, "6.3.3", mongooseim))),
    %% localhost's modules in [modules] instead: every host type's, premium's included.
    [Before, Rest] = binary:split(Text, <<"[[host_config]]\n  host = \"localhost\"\n">>),
    Premium = <<"# The premium host type">>,
    [Localhost, After] = binary:split(Rest, Premium),
    GlobalFile = filename:join(?config(priv_dir, Config), "global_modules.toml"),
    ok = file:write_file(GlobalFile, [Before, binary:replace(Localhost, <<"[host_config.modules.">>,
                                                             <<"[modules.">>, [global]),
                                      Premium, After]),
    {error, [Unsupported]} = read(Config, GlobalFile, "6.3.3", mongooseim),
    ?assertMatch(#{reason := dynamic_domains_not_supported}, Unsupported),
    ?assertEqual([mod_acme_audit, mod_event_pusher, mod_push_service_mongoosepush],
                 lists:sort(maps:get(unsupported_modules, Unsupported))).

%% The preview's events are those a node builds from MongooseIM's own reading of the file.
preview_equals_a_node_on_mongooseim_s_reading(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            Root = ?config(root, Config),
            [node_report_matches(Config, filename:join(Root, File), Release)
             || {File, Release} <- samples()];
        Skip ->
            Skip
    end.

%% The same for each release's own default configuration (`rel/files/mongooseim.toml'
%% rendered with the `prod' profile's values, as its release build does).
default_config_preview_equals_a_node_on_mongooseim_s_reading(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            [node_report_matches(Config, default_config(Config, R), R) || {_, R} <- samples()];
        Skip ->
            Skip
    end.

default_config(Config, Release) ->
    Dir = msm_mim_sources:src_dir(Release),
    {ok, Template} = file:read_file(filename:join([Dir, "rel", "files", "mongooseim.toml"])),
    Vars = msm_mustache:read_vars(filename:join([Dir, "rel", "prod.vars-toml.config"])),
    File = filename:join(?config(priv_dir, Config), "mongooseim-" ++ Release ++ ".toml"),
    ok = file:write_file(File, msm_mustache:render(Template, Vars)),
    File.

node_report_matches(Config, File, Release) ->
    {ok, MimOpts} = read(Config, File, Release, plugin),
    {0, Json} = msm_test_helper:run_cmd(?config(root, Config),
                                        "sh scripts/msm preview --json --config " ++ File
                                        ++ " --mongooseim-version " ++ Release ++ " 2>/dev/null",
                                        [], 120000),
    #{<<"events">> := Previewed} = jiffy:decode(Json, [return_maps]),
    Generated = msm_node_config:apply_mongooseim(Release, MimOpts, File),
    try
        msm_test_helper:clear_env(),
        msm_test_helper:report_dir(Config),
        {ok, _} = msm_test_helper:start_service(#{initial_report => 3600000,
                                                  periodic_report => 3600000, report => true}),
        {ok, #{events := Built}} = service_mongoose_system_metrics:preview(),
        Node = [without_uptime(E) || E <- jiffy:decode(jiffy:encode(Built), [return_maps])],
        ct:log("~s on ~s: ~b events", [File, Release, length(Node)]),
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
