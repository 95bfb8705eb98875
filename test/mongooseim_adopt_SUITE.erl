%%% @doc scripts/adopt-in-mongooseim on MongooseIM's own trees: every release's sources
%%% (copied to the case's priv_dir first), a rebar.config.script in the 6.4+ shape, and the
%%% whole 6.2.1 tree that a real release is built from. Expectations are written here, not
%%% taken from the script.
-module(mongooseim_adopt_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, init_per_suite/1, end_per_suite/1]).
-export([adopt_release/1, base_apps_script/1, full_tree/1, usage_error_exits_2/1,
         not_mongooseim_exits_1/1]).

-define(APP, mongoose_system_metrics).
-define(REMOVED, [service_mongoose_system_metrics, mongoose_system_metrics_collector,
                  mongoose_system_metrics_sender, mongoose_system_metrics_file]).

all() ->
    [{group, list_to_atom(R)} || R <- releases()] ++
        [base_apps_script, full_tree, usage_error_exits_2, not_mongooseim_exits_1].

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
    Original = read(filename:join(Dir, "src/system_metrics/service_mongoose_system_metrics.erl")),
    Url = project_url(),
    {0, Out} = adopt(["--git-url", Url, Dir]),
    ct:log("~s", [Out]),
    check_modules(Dir),
    ?assertEqual({git, Url, {branch, "main"}}, dep(Dir)),
    ?assert(lists:member(?APP, app_src_applications(Dir))),
    Id = expected_prod_id(Release),
    Secret = secret_of(Id, Original),
    ?assertEqual([{predefined_tracking_id, #{id => Id, secret => Secret}}], app_config(Dir)),
    ?assertNotEqual(nomatch, string:find(Out, Id)),
    ?assertEqual(nomatch, string:find(Out, Secret)),
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
            Url = project_url(),
            {0, Out} = adopt(["--git-url", Url, "--git-ref", "tag:0.1.0", Dir]),
            ct:log("~s", [Out]),
            check_modules(Dir),
            ?assertEqual({git, Url, {tag, "0.1.0"}}, dep(Dir)),
            ?assert(lists:member(?APP, app_src_applications(Dir))),
            ?assert(lists:member(?APP, release_apps(Dir))),
            ?assertMatch([{predefined_tracking_id, #{id := "G-B4S18X6KY5"}}], app_config(Dir)),
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

%% ---------------------------------------------------------------------------------------
%% Checks

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

%% Our application's settings in rel/files/app.config once relx has filled the template
%% (the *_toggle variables with "", the others with a number).
app_config(Dir) ->
    Text = read(filename:join(Dir, "rel/files/app.config")),
    T1 = re:replace(Text, "\\{\\{\\s*\\w+_toggle\\s*\\}\\}", "", [global, {return, list}]),
    Rendered = re:replace(T1, "\\{\\{\\s*\\w+\\s*\\}\\}", "1", [global, {return, list}]),
    {ok, Toks, _} = erl_scan:string(Rendered),
    {ok, Settings} = erl_parse:parse_term(Toks),
    proplists:get_value(?APP, Settings).

%% MongooseIM's PROD_NODE Measurement ID, read from each release's
%% service_mongoose_system_metrics.erl (the same in 6.1.0 to 6.8.0).
expected_prod_id("6.1.0") -> "G-B4S18X6KY5";
expected_prod_id("6.2.1") -> "G-B4S18X6KY5";
expected_prod_id("6.3.3") -> "G-B4S18X6KY5";
expected_prod_id("6.4.0") -> "G-B4S18X6KY5";
expected_prod_id("6.5.0") -> "G-B4S18X6KY5";
expected_prod_id("6.6.0") -> "G-B4S18X6KY5";
expected_prod_id("6.7.0") -> "G-B4S18X6KY5";
expected_prod_id("6.8.0") -> "G-B4S18X6KY5".

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
    Dst = filename:join(?config(priv_dir, Config), "mongooseim"),
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
