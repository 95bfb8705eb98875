%%% @doc scripts/adopt-in-mongooseim on MongooseIM's own trees: every release's sources
%%% (copied to the case's priv_dir first), a rebar.config.script in the 6.4+ shape, and the
%%% whole 6.2.1 tree that a real release is built from. Expectations are written here, not
%%% taken from the script.
%%%
%%% The built-in tracking ids: MongooseIM's service used the PROD_NODE id in builds of its
%%% `prod' profile, the development id in every other build, the CI id when CI=true. The
%%% adopted tree must give each profile's release the same: checked by rendering
%%% rel/files/app.config with each profile's overlay variables, listed here as relx 4.1+
%%% lists them (an included file's variables replace those before the include; the shared
%%% rel/vars-toml.config is included last), and, when the relx and bbmustache that rebar3
%%% runs on are loaded (rebar3 ct: relx 4.7), through relx itself and the way MongooseIM's
%%% tools/test_runner/apply_templates.erl renders it for its test nodes.
-module(mongooseim_adopt_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, init_per_suite/1, end_per_suite/1]).
-export([adopt_release/1, base_apps_script/1, full_tree/1, usage_error_exits_2/1,
         not_mongooseim_exits_1/1, shared_vars_definition_exits_1/1,
         earlier_single_id_replaced/1]).

-define(APP, mongoose_system_metrics).
-define(REMOVED, [service_mongoose_system_metrics, mongoose_system_metrics_collector,
                  mongoose_system_metrics_sender, mongoose_system_metrics_file]).
-define(SERVICE_SRC, "src/system_metrics/service_mongoose_system_metrics.erl").
-define(VAR, system_metrics_tracking_id).
-define(IDS_6, #{prod => "G-B4S18X6KY5", dev => "G-7KQE4W9SVJ", ci => "G-VB91V60SKT"}).

all() ->
    [{group, list_to_atom(R)} || R <- releases()] ++
        [base_apps_script, full_tree, usage_error_exits_2, not_mongooseim_exits_1,
         shared_vars_definition_exits_1, earlier_single_id_replaced].

groups() ->
    [{list_to_atom(R), [], [adopt_release]} || R <- releases()].

%% all/0 is called before init_per_suite: no releases when the tarballs are missing.
releases() ->
    case msm_mim_sources:tarball_dir() of
        not_found -> [];
        _ -> msm_mim_sources:releases()
    end.

init_per_suite(Config) ->
    case msm_mim_sources:require() of
        ok -> Config;
        {skip, _} = Skip -> Skip
    end.

end_per_suite(_Config) ->
    ok.

%% ---------------------------------------------------------------------------------------
%% Cases

adopt_release(Config) ->
    Release = atom_to_list(proplists:get_value(name, ?config(tc_group_properties, Config))),
    Dir = copy_tree(msm_mim_sources:src_dir(Release), Config),
    Original = read(filename:join(Dir, ?SERVICE_SRC)),
    Url = project_url(),
    {0, Out} = adopt(["--git-url", Url, Dir]),
    ct:log("~s", [Out]),
    check_modules(Dir),
    ?assertEqual({git, Url, {branch, "main"}}, dep(Dir)),
    ?assert(lists:member(?APP, app_src_applications(Dir))),
    check_tracking_ids(Release, Dir, Original, Out),
    ?assertEqual([], calls_without_replacement(Dir)),
    check_service_callbacks(Dir),
    check_docs(Dir),
    check_second_run(Dir).

%% MongooseIM 6.4+ sets the release's applications in rebar.config.script's BaseApps (the
%% tarballs leave that file out): a script of that shape, written here.
base_apps_script(Config) ->
    [Release | _] = lists:reverse(releases()),
    Dir = copy_tree(msm_mim_sources:src_dir(Release), Config),
    Script = "BaseApps = [kernel, stdlib, sasl,\n"
             "            mongooseim,\n"
             "            {mnesia, none}\n"
             "           ],\n"
             "{relx, Relx} = lists:keyfind(relx, 1, CONFIG),\n"
             "{release, Desc, _} = lists:keyfind(release, 1, Relx),\n"
             "Release = {release, Desc, BaseApps},\n"
             "lists:keyreplace(relx, 1, CONFIG,\n"
             "                 {relx, lists:keyreplace(release, 1, Relx, Release)}).\n",
    ok = file:write_file(filename:join(Dir, "rebar.config.script"), Script),
    {0, _} = adopt(["--git-url", project_url(), Dir]),
    ?assertEqual([kernel, stdlib, sasl, mongooseim, ?APP, {mnesia, none}],
                 release_apps(Dir)),
    check_second_run(Dir).

%% The whole 6.2.1 tree: the release applications come from rebar.config.script's
%% RequiredApps (plus configure's APPS), as rebar3 computes them.
full_tree(Config) ->
    case msm_mim_sources:full_tree_tarball() of
        not_found ->
            {skip, "mongooseim-6.2.1-full.tar.gz not found"};
        _ ->
            Dir = copy_tree(msm_mim_sources:full_tree_dir(), Config),
            Original = read(filename:join(Dir, ?SERVICE_SRC)),
            Url = project_url(),
            {0, Out} = adopt(["--git-url", Url, "--git-ref", "tag:0.1.0", Dir]),
            ct:log("~s", [Out]),
            check_modules(Dir),
            ?assertEqual({git, Url, {tag, "0.1.0"}}, dep(Dir)),
            ?assert(lists:member(?APP, app_src_applications(Dir))),
            ?assert(lists:member(?APP, release_apps(Dir))),
            check_tracking_ids("6.2.1", Dir, Original, Out),
            ?assertEqual([], calls_without_replacement(Dir)),
            check_docs(Dir),
            check_second_run(Dir)
    end.

usage_error_exits_2(Config) ->
    Dir = ?config(priv_dir, Config),
    ?assertMatch({2, _}, adopt([])),
    ?assertMatch({2, _}, adopt(["--git-ref", "main", Dir])),
    ?assertMatch({2, _}, adopt(["--git-url"])),
    ?assertMatch({2, _}, adopt([Dir, Dir])).

not_mongooseim_exits_1(Config) ->
    Dir = filename:join(?config(priv_dir, Config), "not_mongooseim"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    ok = file:write_file(filename:join(Dir, "rebar.config"), "{deps, []}.\n"),
    Before = tree_hashes(Dir),
    ?assertMatch({1, _}, adopt([Dir])),
    ?assertEqual(Before, tree_hashes(Dir)).

%% A definition of the variable in the shared rel/vars-toml.config, which every profile's
%% file includes last, would override the profile's own: refused, nothing changed.
shared_vars_definition_exits_1(Config) ->
    [Release | _] = lists:reverse(releases()),
    Dir = copy_tree(msm_mim_sources:src_dir(Release), Config),
    Shared = filename:join(Dir, "rel/vars-toml.config"),
    {ok, Text} = file:read_file(Shared),
    ok = file:write_file(Shared, [Text, "\n{system_metrics_tracking_id, \"#{}\"}.\n"]),
    Before = tree_hashes(Dir),
    {1, Out} = adopt(["--git-url", project_url(), Dir]),
    ct:log("~s", [Out]),
    ?assertNotEqual(nomatch, string:find(Out, "rel/vars-toml.config")),
    ?assertEqual(Before, tree_hashes(Dir)).

%% A tree adopted by an earlier version of the script, which wrote the PROD_NODE id for every
%% build (that entry and its comment, exactly). With MongooseIM's service module gone the
%% script cannot know the other ids: it says so and changes nothing. With the module back
%% (git checkout), it replaces the entry: the tree is then the same as a fresh adoption's.
earlier_single_id_replaced(Config) ->
    [Release | _] = lists:reverse(releases()),
    Src = msm_mim_sources:src_dir(Release),
    Fresh = copy_tree(Src, Config, "fresh"),
    {0, _} = adopt(["--git-url", project_url(), Fresh]),
    Dir = copy_tree(Src, Config, "earlier"),
    {0, _} = adopt(["--git-url", project_url(), Dir]),
    %% the earlier version's result: app.config with the single id, vars files untouched
    Original = read(filename:join(Src, ?SERVICE_SRC)),
    Prod = expected_id(Release, prod),
    AppConfig = filename:join(Dir, "rel/files/app.config"),
    ok = file:write_file(AppConfig, earlier_app_config(read(filename:join(Src, "rel/files/app.config")),
                                                       Prod, secret_of(Prod, Original))),
    [{ok, _} = file:copy(filename:join(Src, F), filename:join(Dir, F))
     || F <- filelib:wildcard("rel/*vars*.config", Src)],
    ?assertEqual([{predefined_tracking_id, #{id => Prod, secret => secret_of(Prod, Original)}}],
                 app_config_env(Dir, "0")),
    Earlier = tree_hashes(Dir),
    {0, Out1} = adopt([Dir]),
    ct:log("~s", [Out1]),
    ?assertNotEqual(nomatch, string:find(Out1, "warning: rel/files/app.config")),
    ?assertEqual(Earlier, tree_hashes(Dir)),
    [{ok, _} = file:copy(filename:join(Src, F), filename:join(Dir, F))
     || F <- ["src/system_metrics/" ++ atom_to_list(M) ++ ".erl" || M <- ?REMOVED]],
    {0, Out2} = adopt([Dir]),
    ct:log("~s", [Out2]),
    ?assertEqual(relative_hashes(Fresh), relative_hashes(Dir)),
    check_tracking_ids(Release, Dir, Original, Out2).

%% The earlier version's app.config: after MongooseIM's last setting (erlang_doctor in
%% 6.2.1 and later), its comment and the entry, on lines of their own.
earlier_app_config(Text, Id, Secret) ->
    Last = " {erlang_doctor, [{limit, {{erlang_doctor_limit}} }]}\n",
    [Head, Tail] = string:split(Text, Last),
    Head ++ " {erlang_doctor, [{limit, {{erlang_doctor_limit}} }]},\n"
        " %% The built-in GA4 property of MongooseIM's system metrics "
        "(service_mongoose_system_metrics)\n"
        " {mongoose_system_metrics, [{predefined_tracking_id, #{id => \"" ++ Id
        ++ "\", secret => \"" ++ Secret ++ "\"}}]}\n" ++ Tail.

%% ---------------------------------------------------------------------------------------
%% Checks

%% The built-in ids after adoption: the prod profile's vars file has the PROD_NODE id, every
%% other profile's the development id, the shared rel/vars-toml.config none (each profile's
%% file includes it last); each profile's app.config renders to the profile's id and the CI
%% id, with the secrets of MongooseIM's source; the output names the ids, never a secret.
check_tracking_ids(Release, Dir, Original, Out) ->
    Ids = [{K, expected_id(Release, K)} || K <- [prod, dev, ci]],
    Maps = maps:from_list([{K, #{id => Id, secret => secret_of(Id, Original)}} || {K, Id} <- Ids]),
    [?assertNotEqual(nomatch, string:find(Out, Id)) || {_, Id} <- Ids],
    [?assertEqual(nomatch, string:find(Out, S)) || #{secret := S} <- maps:values(Maps)],
    Rel = filename:join(Dir, "rel"),
    VarsFiles = filelib:wildcard("*vars*.config", Rel),
    Profiles = [F || F <- VarsFiles, F =/= "vars-toml.config"],
    ?assert(lists:member("prod.vars-toml.config", Profiles)),
    ?assert(lists:member("vars-toml.config", VarsFiles)),
    ct:log("vars files: ~p", [VarsFiles]),
    [begin
         {ok, Terms} = file:consult(filename:join(Rel, F)),
         Own = proplists:get_all_values(?VAR, Terms),
         case F of
             "vars-toml.config" -> ?assertEqual([], Own);
             "prod.vars-toml.config" -> ?assertEqual([maps:get(prod, Maps)], [term(V) || V <- Own]);
             _ -> ?assertEqual([maps:get(dev, Maps)], [term(V) || V <- Own])
         end
     end || F <- VarsFiles],
    Ci = maps:get(ci, Maps),
    [begin
         Expected = case F of
                        "prod.vars-toml.config" -> maps:get(prod, Maps);
                        _ -> maps:get(dev, Maps)
                    end,
         Vars = overlay_vars(Rel, F),
         ?assertEqual(1, length(proplists:get_all_values(?VAR, Vars))),
         Value = proplists:get_value(?VAR, Vars),
         ?assertEqual([{predefined_tracking_id, Expected}, {ci_tracking_id, Ci}],
                      app_config_env(Dir, Value)),
         check_with_relx(Dir, F, [{predefined_tracking_id, Expected}, {ci_tracking_id, Ci}])
     end || F <- Profiles].

%% The same through relx's own overlay variables and rendering (rebar3 3.19 has relx 4.7),
%% and as MongooseIM's tools/test_runner/apply_templates.erl renders for its test nodes
%% (bbmustache with its default HTML escaping, twice), when those modules are loaded.
check_with_relx(Dir, VarsFile, Expected) ->
    Template = read(filename:join(Dir, "rel/files/app.config")),
    case code:ensure_loaded(rlx_overlay) of
        {module, _} ->
            State = rlx_state:overlay_vars(rlx_state:root_dir(rlx_state:new(), Dir),
                                           "rel/" ++ VarsFile),
            Vars = rlx_overlay:generate_overlay_vars(State, rlx_release:new(mongooseim, "0")),
            {ok, Bin} = rlx_util:render(list_to_binary(Template), Vars),
            ?assertEqual(Expected, env_of(binary_to_list(Bin)));
        _ ->
            ct:log("relx not loaded: ~s not rendered through relx", [VarsFile])
    end,
    case code:ensure_loaded(bbmustache) of
        {module, _} ->
            Map = maps:map(fun(_, V) when is_list(V) -> list_to_binary(V); (_, V) -> V end,
                           maps:from_list(read_vars(filename:join([Dir, "rel", VarsFile])))),
            Opts = [{key_type, atom}],
            Once = bbmustache:render(list_to_binary(Template), Map, Opts),
            ?assertEqual(Expected, env_of(binary_to_list(bbmustache:render(Once, Map, Opts))));
        _ ->
            ct:log("bbmustache not loaded: ~s not rendered as apply_templates.erl does",
                   [VarsFile])
    end.

check_modules(Dir) ->
    SM = filename:join([Dir, "src", "system_metrics"]),
    [?assertNot(filelib:is_file(filename:join(SM, atom_to_list(M) ++ ".erl"))) || M <- ?REMOVED],
    ?assert(filelib:is_regular(filename:join(SM, "mongoose_module_metrics.erl"))).

check_docs(Dir) ->
    [?assertMatch({match, _}, re:run(read(filename:join(Dir, F)), "\\bmongoose_system_metrics\\b"))
     || F <- ["doc/configuration/Services.md",
              "doc/operation-and-maintenance/System-Metrics-Privacy-Policy.md"]].

check_second_run(Dir) ->
    Before = tree_hashes(Dir),
    {0, Out} = adopt([Dir]),
    ?assertNotEqual(nomatch, string:find(Out, "nothing to change")),
    ?assertEqual(Before, tree_hashes(Dir)).

%% MongooseIM's service manager calls these of every service.
check_service_callbacks(Dir) ->
    Forms = forms(read(filename:join([Dir, "src", "mongoose_service.erl"]))),
    Optional = lists:append([L || {attribute, _, optional_callbacks, L} <- Forms]),
    Required = [FA || {attribute, _, callback, {FA, _}} <- Forms] -- Optional,
    ?assertNotEqual([], Required),
    Exports = exports(service_mongoose_system_metrics),
    ?assertEqual([], Required -- Exports).

%% `M:F(...)' calls in src/ and include/ to a removed module for which this project has no
%% function of that name and arity. Each call found is logged.
calls_without_replacement(Dir) ->
    Files = lists:append([filelib:fold_files(filename:join(Dir, Sub), "\\.[eh]rl$", true,
                                             fun(F, Acc) -> [F | Acc] end, [])
                          || Sub <- ["src", "include"]]),
    Calls = lists:usort(lists:append([remote_calls(Dir, F) || F <- Files])),
    ct:log("calls to removed modules: ~p", [Calls]),
    [C || {_File, {M, F, A}} = C <- Calls, not lists:member({F, A}, exports(M))].

remote_calls(Dir, File) ->
    Text = read(File),
    case lists:any(fun(M) -> string:find(Text, atom_to_list(M)) =/= nomatch end, ?REMOVED) of
        false -> [];
        true ->
            {ok, Toks, _} = erl_scan:string(Text),
            Rel = lists:nthtail(length(Dir) + 1, File),
            [{Rel, MFA} || MFA <- calls(Toks)]
    end.

calls([{atom, _, M}, {':', _}, {atom, _, F}, {'(', _} | Rest]) ->
    case lists:member(M, ?REMOVED) of
        true -> [{M, F, arity(Rest)} | calls(Rest)];
        false -> calls(Rest)
    end;
calls([_ | Rest]) -> calls(Rest);
calls([]) -> [].

%% Arguments up to the closing parenthesis: commas at depth 0, where fun/case/... to end
%% count as brackets.
arity([{')', _} | _]) -> 0;
arity(Toks) -> arity(Toks, 0, 1).

arity([{')', _} | _], 0, N) -> N;
arity([{',', _} | Rest], 0, N) -> arity(Rest, 0, N + 1);
arity([{'fun', _}, {'(', _} | Rest], D, N) -> arity(Rest, D + 2, N);
arity([{T, _} | Rest], D, N) when T =:= '('; T =:= '['; T =:= '{'; T =:= '<<';
                                  T =:= 'case'; T =:= 'if'; T =:= 'receive'; T =:= 'try';
                                  T =:= 'begin' ->
    arity(Rest, D + 1, N);
arity([{T, _} | Rest], D, N) when T =:= ')'; T =:= ']'; T =:= '}'; T =:= '>>'; T =:= 'end' ->
    arity(Rest, D - 1, N);
arity([_ | Rest], D, N) -> arity(Rest, D, N).

%% What this project's module exports; nothing for the sender, which it does not provide.
exports(mongoose_system_metrics_sender) ->
    [];
exports(M) ->
    {module, M} = code:ensure_loaded(M),
    M:module_info(exports).

%% ---------------------------------------------------------------------------------------
%% What the adopted tree says

dep(Dir) ->
    {ok, Terms} = file:consult(filename:join(Dir, "rebar.config")),
    {deps, Deps} = lists:keyfind(deps, 1, Terms),
    {?APP, Source} = lists:keyfind(?APP, 1, Deps),
    Source.

app_src_applications(Dir) ->
    {ok, [{application, mongooseim, Props}]} =
        file:consult(filename:join(Dir, "src/mongooseim.app.src")),
    proplists:get_value(applications, Props).

%% The relx release's applications as rebar3 computes them: rebar.config through
%% rebar.config.script. APPS set (empty) keeps 6.1-6.3's script from running tools/configure.
release_apps(Dir) ->
    {ok, Config} = file:consult(filename:join(Dir, "rebar.config")),
    Script = filename:join(Dir, "rebar.config.script"),
    Saved = [{V, os:getenv(V)} || V <- ["APPS", "EXOMETER_PACKAGES"]],
    true = os:putenv("APPS", ""),
    try file:script(Script, [{'CONFIG', Config}, {'SCRIPT', Script}]) of
        {ok, NewConfig} ->
            {relx, Relx} = lists:keyfind(relx, 1, NewConfig),
            {release, _, Apps} = lists:keyfind(release, 1, Relx),
            Apps
    after
        [case Value of
             false -> os:unsetenv(V);
             _ -> os:putenv(V, Value)
         end || {V, Value} <- Saved]
    end.

%% Our application's settings in rel/files/app.config once the template is filled:
%% system_metrics_tracking_id with Value (the Erlang text a vars file holds), the *_toggle
%% variables with "", the others with a number.
app_config_env(Dir, Value) ->
    Text = read(filename:join(Dir, "rel/files/app.config")),
    Opts = [global, {return, list}],
    Escaped = lists:flatmap(fun($\\) -> "\\\\"; ($&) -> "\\&"; (C) -> [C] end, Value),
    T0 = re:replace(Text, "\\{\\{\\{\\s*system_metrics_tracking_id\\s*\\}\\}\\}", Escaped, Opts),
    T1 = re:replace(T0, "\\{\\{\\s*\\w+_toggle\\s*\\}\\}", "", Opts),
    env_of(re:replace(T1, "\\{\\{\\s*\\w+\\s*\\}\\}", "1", Opts)).

env_of(Rendered) ->
    {ok, Toks, _} = erl_scan:string(Rendered),
    {ok, Settings} = erl_parse:parse_term(Toks),
    proplists:get_value(?APP, Settings).

%% A vars file's variables in the order relx 4.1 and later (rlx_overlay) lists them: a
%% string term includes that file (relative to the including one; a missing one, like
%% configure.vars.config before tools/configure has run, is skipped), whose variables
%% replace those listed before; a variable listed after is appended, a second definition
%% kept. Templates get the first of a name (bbmustache's proplists:lookup/2).
overlay_vars(Rel, File) ->
    Path = filename:join(Rel, File),
    case file:consult(Path) of
        {error, enoent} ->
            [];
        {ok, Terms} ->
            lists:foldl(fun({_, _} = V, Acc) -> Acc ++ [V];
                           (Inc, Acc) ->
                                Included = overlay_vars(Rel, filename:join(filename:dirname(File),
                                                                           Inc)),
                                [V || {K, _} = V <- Acc, not lists:keymember(K, 1, Included)]
                                    ++ Included
                        end, [], Terms)
    end.

%% As MongooseIM's apply_templates.erl reads a vars file: every definition, includes in
%% place (a map of them keeps the last).
read_vars(Path) ->
    case file:consult(Path) of
        {error, enoent} -> [];
        {ok, Terms} -> lists:flatmap(fun({K, V}) -> [{K, V}];
                                        (Inc) -> read_vars(filename:join(filename:dirname(Path),
                                                                         Inc))
                                     end, Terms)
    end.

term(Text) ->
    {ok, Toks, _} = erl_scan:string(Text ++ "."),
    {ok, T} = erl_parse:parse_term(Toks),
    T.

%% MongooseIM's Measurement IDs, read from each release's service_mongoose_system_metrics.erl
%% (the same in 6.1.0 to 6.8.0): prod, ?TRACKING_ID under -ifdef(PROD_NODE); dev, the
%% -else one; ci, ?TRACKING_ID_CI.
expected_id(Release, Kind) ->
    maps:get(Kind, expected_ids(Release)).

expected_ids("6.1.0") -> ?IDS_6;
expected_ids("6.2.1") -> ?IDS_6;
expected_ids("6.3.3") -> ?IDS_6;
expected_ids("6.4.0") -> ?IDS_6;
expected_ids("6.5.0") -> ?IDS_6;
expected_ids("6.6.0") -> ?IDS_6;
expected_ids("6.7.0") -> ?IDS_6;
expected_ids("6.8.0") -> ?IDS_6.

%% The secret defined next to Id in MongooseIM's source.
secret_of(Id, Source) ->
    Re = "id\\s*=>\\s*\"" ++ Id ++ "\",\\s*secret\\s*=>\\s*\"([^\"]+)\"",
    {match, [Secret]} = re:run(Source, Re, [{capture, all_but_first, list}]),
    Secret.

%% ---------------------------------------------------------------------------------------
%% Helpers

%% Runs the script; {ExitStatus, Output (stdout and stderr)}.
adopt(Args) ->
    Script = filename:join([msm_mim_sources:project_root(), "scripts", "adopt-in-mongooseim"]),
    Port = open_port({spawn_executable, Script},
                     [{args, Args}, exit_status, stderr_to_stdout, binary, hide]),
    collect(Port, []).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, [D | Acc]);
        {Port, {exit_status, S}} -> {S, binary_to_list(iolist_to_binary(lists:reverse(Acc)))}
    after 60000 ->
        error(adopt_script_timeout)
    end.

%% A fresh copy of a shared extraction, which the script must never touch.
copy_tree(Src, Config) ->
    copy_tree(Src, Config, "mongooseim").

copy_tree(Src, Config, Name) ->
    Dst = filename:join(?config(priv_dir, Config), Name),
    ok = filelib:ensure_dir(filename:join(Dst, "x")),
    [] = os:cmd("cp -R '" ++ Src ++ "/.' '" ++ Dst ++ "' 2>&1"),
    Dst.

project_url() ->
    "file://" ++ msm_mim_sources:project_root().

%% Every regular file under Dir with the hash of its content.
tree_hashes(Dir) ->
    Files = filelib:fold_files(Dir, "", true, fun(F, Acc) -> [F | Acc] end, []),
    maps:from_list([{F, crypto:hash(sha256, element(2, {ok, _} = file:read_file(F)))}
                    || F <- Files]).

%% The same, keyed by the path inside Dir.
relative_hashes(Dir) ->
    maps:fold(fun(F, H, Acc) -> Acc#{lists:nthtail(length(Dir) + 1, F) => H} end, #{},
              tree_hashes(Dir)).

read(File) ->
    {ok, Bin} = file:read_file(File),
    unicode:characters_to_list(Bin).

forms(Text) ->
    forms(Text, {1, 1}, []).

forms(Text, Loc, Acc) ->
    case erl_scan:tokens([], Text, Loc) of
        {done, {ok, Toks, End}, Rest} ->
            Acc1 = case erl_parse:parse_form(Toks) of
                       {ok, F} -> [F | Acc];
                       {error, _} -> Acc
                   end,
            forms(Rest, End, Acc1);
        _ ->
            lists:reverse(Acc)
    end.
