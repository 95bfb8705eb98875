%%% @doc This project against MongooseIM's API, read from MongooseIM's sources of every
%%% supported release: the functions it calls exist there with those arities, the test
%%% stand-ins keep MongooseIM's signatures, the service implements MongooseIM's
%%% `mongoose_service' behaviour, and the operator commands it names exist in a real
%%% release's start scripts.
-module(mongooseim_api_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-define(RELEASES, ["6.1.0", "6.2.1", "6.3.3", "6.4.0", "6.5.0", "6.6.0", "6.7.0", "6.8.0"]).
%% The one module of this project that calls MongooseIM.
-define(ADAPTER, mongoose_system_metrics_mim).

all() ->
    [calls_into_mongooseim_are_declared, calls_into_mongooseim_exist_where_made,
     stand_ins_keep_mongooseim_signatures, service_implements_mongoose_service,
     operator_commands_exist, option_values_cover_every_accepted_value].

init_per_suite(Config) ->
    case msm_mim_sources:require() of
        ok -> Config;
        Skip -> Skip
    end.

end_per_suite(_Config) ->
    ok.

%% Which releases' code path makes a call (read from MongooseIM's collector of each
%% release): the components moved from ejabberd_router (6.1) to mongoose_component (6.2+).
%% exometer and prometheus are dependencies of MongooseIM, not in its sources.
releases_calling({ejabberd_router, _, _}) -> ["6.1.0"];
releases_calling({mongoose_component, _, _}) -> ?RELEASES -- ["6.1.0"];
releases_calling({exometer, _, _}) -> [];
releases_calling({prometheus_counter, _, _}) -> [];
releases_calling(_) -> ?RELEASES.

%% The adapter declares every call it makes into MongooseIM (its `ignore_xref' list, which
%% keeps xref clean): each literal `call(Module, Function, Args)' in its code is declared.
calls_into_mongooseim_are_declared(_Config) ->
    Declared = declared_calls(),
    Made = literal_calls(?ADAPTER),
    ?assertNotEqual([], Made),
    ?assertEqual([], Made -- Declared),
    %% Every other module of the application calls MongooseIM only through the adapter.
    Ours = [M || M <- app_modules(), M =/= ?ADAPTER],
    Foreign = [{M, Call} || M <- Ours, Call <- remote_calls(M), is_mongooseim_call(Call)],
    ?assertEqual([], Foreign).

calls_into_mongooseim_exist_where_made(_Config) ->
    Missing = [{Release, MFA}
               || MFA <- declared_calls(), Release <- releases_calling(MFA),
                  not lists:member(mfa_key(MFA), exports(Release, element(1, MFA)))],
    ?assertEqual([], Missing),
    %% The release-dependent calls are the ones the engine's release rules name.
    {ok, #{components := ejabberd_router}} = mongoose_system_metrics_nif:release_rules(<<"6.1.0">>),
    {ok, #{components := mongoose_component}} = mongoose_system_metrics_nif:release_rules(<<"6.2.1">>).

%% Each stand-in of a MongooseIM module exports what this project calls, and none of its
%% exports has a name that MongooseIM's module exports (in any supported release) with
%% other arities only.
stand_ins_keep_mongooseim_signatures(_Config) ->
    Dir = filename:join(msm_mim_sources:project_root(), "test/mim_standins"),
    StandIns = [list_to_atom(filename:basename(F, ".erl"))
                || F <- filelib:wildcard(filename:join(Dir, "*.erl"))],
    ?assert(length(StandIns) >= 10),
    [?assertEqual({M, F, A, true}, {M, F, A, erlang:function_exported(M, F, A)})
     || {M, F, A} <- declared_calls(), lists:member(M, StandIns),
        code:ensure_loaded(M) =:= {module, M}],
    Wrong = [{M, F, A, Theirs}
             || M <- StandIns,
                Exports <- [lists:usort(lists:append([exports(R, M) || R <- ?RELEASES]))],
                {F, A} <- M:module_info(exports), F =/= module_info,
                Theirs <- [[X || {N, X} <- Exports, N =:= F]],
                Theirs =/= [], not lists:member(A, Theirs)],
    ?assertEqual([], Wrong).

%% As MongooseIM's own service: `-behaviour(mongoose_service)', and every callback of that
%% release's `mongoose_service' exported.
service_implements_mongoose_service(_Config) ->
    Service = service_mongoose_system_metrics,
    Attrs = Service:module_info(attributes),
    ?assert(lists:member([mongoose_service], proplists:get_all_values(behaviour, Attrs))),
    Missing = [{Release, Callback}
               || Release <- ?RELEASES, Callback <- callbacks(Release, mongoose_service),
                  not erlang:function_exported(Service, element(1, Callback),
                                               element(2, Callback))],
    ?assertEqual([], Missing),
    ?assert(length(callbacks("6.8.0", mongoose_service)) >= 3).

%% `bin/mongooseim X' and `mongooseimctl X' named by the README, the Erlang sources and the
%% scripts: X is a command of every release's start script (`rel/files/mongooseim') or
%% control script (`rel/files/mongooseimctl', whose other commands go to the node, e.g.
%% `status').
operator_commands_exist(_Config) ->
    Root = msm_mim_sources:project_root(),
    Files = [filename:join(Root, "README.md")]
        ++ filelib:wildcard(filename:join(Root, "erlang/src/*.erl"))
        ++ filelib:wildcard(filename:join(Root, "scripts/*")),
    Named = lists:usort(lists:append([named_commands(F) || F <- Files])),
    ?assertNotEqual([], Named),
    Bad = [{Release, Script, Cmd}
           || Release <- ?RELEASES, {Script, Cmd} <- Named,
              not lists:member(Cmd, script_commands(Release, Script))],
    ?assertEqual([], Bad).

%% Every value that a release's config spec accepts for an option its modules report is sent
%% as itself (not `custom'), on a node of that release. Options validated by MongooseIM's
%% loose `{module, Prefix}' check accept any existing `Prefix_<value>' module: those that are
%% no storage backend (API modules, helpers, behaviours; listed below, read from the sources)
%% would stop the node, so they are never a running node's value.
option_values_cover_every_accepted_value(_Config) ->
    Checked = [check_option_values(Release, M, Keys)
               || Release <- ?RELEASES, {M, Keys} <- msm_mim_fixture:reported_options(Release)],
    ct:log("option values checked: ~p", [lists:sum(Checked)]),
    ?assert(lists:sum(Checked) > 100).

%% Suffixes of `Prefix_<suffix>' modules that MongooseIM's loose check accepts but that are no
%% backend: API and helper modules, behaviour definitions, other modules of the same family.
not_backends() ->
    ["api", "backend", "iq", "room", "log", "socket", "stub", "utils", "cache", "codec_backend",
     "codec_legacy", "codec_modern", "room_config", "db_backend",
     "light", "light_api", "light_cache", "light_codec_backend", "light_codec_legacy",
     "light_codec_modern", "light_db_backend", "light_db_mnesia", "light_db_rdbms",
     "light_room", "light_room_config", "light_utils",
     "online_backend", "online_cets", "online_mnesia",
     "plugin", "plugin_defaults", "plugin_enhanced", "plugin_hints",
     "chatmarkers", "chatmarkers_backend", "chatmarkers_rdbms"].

check_option_values(Release, mod_event_pusher, pushers) ->
    {ok, Text} = file:read_file(source(Release, mod_event_pusher)),
    {match, [List]} = re:run(Text, "^all_backends\\(\\) ->\\s*\\[([a-z_,\\s]*)\\]",
                             [multiline, {capture, all_but_first, list}]),
    Pushers = [string:trim(P) || P <- string:lexemes(List, ",")],
    [expect_sent(Release, mod_event_pusher, backend, list_to_atom(P)) || P <- Pushers],
    length(Pushers);
check_option_values(Release, Module, Keys) ->
    {ok, Text} = file:read_file(source(Release, Module)),
    lists:sum([begin
                   Values = accepted_values(Release, Module, Key, Text),
                   ?assertNotEqual({Release, Module, Key, []}, {Release, Module, Key, Values}),
                   [expect_sent(Release, Module, Key, V) || V <- Values],
                   length(Values)
               end || Key <- Keys]).

accepted_values(Release, Module, Key, Text) ->
    Pattern = "<<\"" ++ atom_to_list(Key) ++ "\">>\\s*=>\\s*#option\\{[^}]*?validate\\s*=\\s*"
        "\\{(enum|module),\\s*(\\[[^\\]]*\\]|[?A-Za-z_]+)\\}",
    case re:run(Text, Pattern, [{capture, all_but_first, list}, dotall]) of
        {match, ["enum", List]} ->
            {ok, Tokens, _} = erl_scan:string(List ++ "."),
            {ok, Values} = erl_parse:parse_term(Tokens),
            Values;
        {match, ["module", Prefix0]} ->
            Prefix = case Prefix0 of "?MODULE" -> atom_to_list(Module); _ -> Prefix0 end,
            Dir = msm_mim_sources:src_dir(Release),
            Files = filelib:wildcard(filename:join([Dir, "src", "**", Prefix ++ "_*.erl"])),
            [list_to_atom(S) || F <- Files,
                                S <- [lists:nthtail(length(Prefix) + 1, filename:basename(F, ".erl"))],
                                not lists:member(S, not_backends())];
        nomatch ->
            error({no_option_spec, Release, Module, Key})
    end.

expect_sent(Release, Module, Key, Value) ->
    Info = #{version => list_to_binary(Release),
             modules => [#{module => Module, opts => #{Key => Value}}]},
    {ok, Events} = mongoose_system_metrics_nif:build_report(Info),
    Sent = [maps:get(atom_to_binary(Key), P, missing)
            || #{name := <<"module_with_opt">>, params := P} <- Events],
    Want = if is_atom(Value) -> atom_to_binary(Value); true -> Value end,
    ?assertEqual({Release, Module, Key, [Want]}, {Release, Module, Key, Sent}).

%%--------------------------------------------------------------------
%% Helpers

declared_calls() ->
    Attrs = ?ADAPTER:module_info(attributes),
    lists:usort(lists:append(proplists:get_all_values(ignore_xref, Attrs))).

mfa_key({_M, F, A}) -> {F, A}.

app_modules() ->
    _ = application:load(mongoose_system_metrics),
    {ok, Mods} = application:get_key(mongoose_system_metrics, modules),
    Mods.

abstract_code(Module) ->
    {ok, {_, [{abstract_code, {raw_abstract_v1, Forms}}]}} =
        beam_lib:chunks(code:which(Module), [abstract_code]),
    Forms.

%% `call(Module, Function, [Args])' with literal module, function and argument list.
literal_calls(Module) ->
    lists:usort(
      fold_calls(fun({call, _, {atom, _, call}, [{atom, _, M}, {atom, _, F}, Args]}, Acc) ->
                         case list_length(Args) of
                             {ok, N} -> [{M, F, N} | Acc];
                             error -> Acc
                         end;
                    (_, Acc) -> Acc
                 end, abstract_code(Module))).

remote_calls(Module) ->
    lists:usort(
      fold_calls(fun({call, _, {remote, _, {atom, _, M}, {atom, _, F}}, Args}, Acc) ->
                         [{M, F, length(Args)} | Acc];
                    (_, Acc) -> Acc
                 end, abstract_code(Module))).

fold_calls(Fun, Forms) ->
    lists:foldl(fun(Form, Acc) -> walk(Fun, Form, Acc) end, [], Forms).

walk(Fun, T, Acc) when is_tuple(T) ->
    walk(Fun, tuple_to_list(T), Fun(T, Acc));
walk(Fun, [H | Rest], Acc) ->
    walk(Fun, Rest, walk(Fun, H, Acc));
walk(_Fun, _, Acc) ->
    Acc.

list_length({nil, _}) -> {ok, 0};
list_length({cons, _, _, Tail}) ->
    case list_length(Tail) of
        {ok, N} -> {ok, N + 1};
        error -> error
    end;
list_length(_) -> error.

%% A call to a module that is neither this application's nor OTP's.
is_mongooseim_call({M, _, _}) ->
    not lists:member(M, app_modules()) andalso not is_otp_module(M).

is_otp_module(M) ->
    case code:which(M) of
        Path when is_list(Path) -> lists:prefix(code:lib_dir(), Path);
        preloaded -> true;
        _ -> false
    end.

%% `{Function, Arity}' exported by a MongooseIM module in a release's sources ([] when the
%% release has no such module).
exports(Release, Module) ->
    case source(Release, Module) of
        none -> [];
        File ->
            {ok, Text} = file:read_file(File),
            case re:run(Text, "^-export\\(\\[([^\\]]*)\\]\\)", [global, multiline,
                                                            {capture, all_but_first, list}]) of
                {match, Blocks} ->
                    [{list_to_atom(F), list_to_integer(A)}
                     || [Block] <- Blocks,
                        {match, Pairs} <- [re:run(Block, "([a-z][a-zA-Z0-9_]*)\\s*/\\s*(\\d+)",
                                                  [global, {capture, all_but_first, list}])],
                        [F, A] <- Pairs];
                nomatch -> []
            end
    end.

source(Release, Module) ->
    Dir = msm_mim_sources:src_dir(Release),
    case filelib:wildcard(filename:join([Dir, "src", "**", atom_to_list(Module) ++ ".erl"])) of
        [File | _] -> File;
        [] -> none
    end.

%% The required callbacks (`-callback Name(Args) -> ...', less `-optional_callbacks') of a
%% behaviour module, as {Name, Arity}.
callbacks(Release, Module) ->
    {ok, Text} = file:read_file(source(Release, Module)),
    {match, Found} = re:run(Text, "^-callback\\s+([a-z_]+)\\((.*)\\)\\s*->",
                            [global, multiline, {capture, all_but_first, list}]),
    Optional = case re:run(Text, "^-optional_callbacks\\(\\[([^\\]]*)\\]",
                           [multiline, {capture, all_but_first, list}]) of
                   {match, [List]} ->
                       {match, Pairs} = re:run(List, "([a-z_]+)/(\\d+)",
                                               [global, {capture, all_but_first, list}]),
                       [{list_to_atom(F), list_to_integer(A)} || [F, A] <- Pairs];
                   nomatch -> []
               end,
    [{list_to_atom(Name), arity(Args)} || [Name, Args] <- Found] -- Optional.

%% Arguments in a callback's head: commas outside brackets, plus one (none when empty).
arity(Args) ->
    case string:trim(Args) of
        "" -> 0;
        Trimmed -> 1 + top_level_commas(Trimmed, 0, 0)
    end.

top_level_commas([], _Depth, N) -> N;
top_level_commas([C | Rest], Depth, N) when C =:= $(; C =:= $[; C =:= ${ ->
    top_level_commas(Rest, Depth + 1, N);
top_level_commas([C | Rest], Depth, N) when C =:= $); C =:= $]; C =:= $} ->
    top_level_commas(Rest, Depth - 1, N);
top_level_commas([$, | Rest], 0, N) -> top_level_commas(Rest, 0, N + 1);
top_level_commas([_ | Rest], Depth, N) -> top_level_commas(Rest, Depth, N).

%% `bin/mongooseim CMD' or `mongooseimctl CMD' mentioned in a file.
named_commands(File) ->
    {ok, Text} = file:read_file(File),
    case re:run(Text, "\\b(mongooseim|mongooseimctl)\\s+([a-z_]+)",
                [global, {capture, all_but_first, list}]) of
        {match, Found} ->
            [{Script, Cmd} || [Script, Cmd] <- Found, is_command_mention(Script, Cmd)];
        nomatch -> []
    end.

%% "mongooseim docs", "mongooseim release" and the like are prose, not commands: only
%% words that look like a start-script command are checked, and `eval' always is.
is_command_mention("mongooseimctl", _) -> true;
is_command_mention("mongooseim", Cmd) ->
    lists:member(Cmd, ["eval", "rpc", "remote_console", "start", "stop", "ping", "attach",
                       "console", "foreground", "debug", "version", "restart", "reboot",
                       "live", "escript", "status", "daemon"]).

script_commands(Release, "mongooseim") ->
    case_labels(Release, "rel/files/mongooseim", "^    ([a-z_|]+)\\)");
script_commands(Release, "mongooseimctl") ->
    %% Its own commands, and `status', which it passes to the node.
    ["status" | case_labels(Release, "rel/files/mongooseimctl", "^    '([a-z_]+)'\\)")].

case_labels(Release, Path, Pattern) ->
    {ok, Text} = file:read_file(filename:join(msm_mim_sources:src_dir(Release), Path)),
    {match, Found} = re:run(Text, Pattern, [global, multiline, {capture, all_but_first, list}]),
    lists:append([string:lexemes(L, "|") || [L] <- Found]).
