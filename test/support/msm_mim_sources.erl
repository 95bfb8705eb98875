%%% @doc MongooseIM's own sources as test input: the release tarballs of
%%% `../shared/mongooseim/' (GPLv2: extracted and compiled under `_build/', never copied into
%%% this project), extracted once per checkout, and modules compiled from them into the
%%% running VM, renamed where MongooseIM's names clash with this project's.
%%%
%%% Where the tarballs are: `$MSM_MONGOOSEIM_SOURCES', else `../shared/mongooseim' beside the
%%% checkout, else `/work/shared/mongooseim'. Suites call `require/0' in `init_per_suite':
%%% without the tarballs they skip, unless `$MSM_REQUIRE_MONGOOSEIM' is set (CI sets it), in
%%% which case they fail.
-module(msm_mim_sources).

-export([tarball_dir/0, require/0, releases/0, src_dir/1, compile/3, release_atom/1,
         project_root/0, full_tree_tarball/0, full_tree_dir/0]).

-type release() :: string().
-type compile_opts() :: #{rename => [{atom(), atom()}],
                          export_all => boolean(),
                          defines => [atom() | {atom(), term()}]}.
-export_type([release/0, compile_opts/0]).

%% @doc The directory holding `mongooseim-<release>.tar.gz', or `not_found'.
-spec tarball_dir() -> string() | not_found.
tarball_dir() ->
    Candidates = [os:getenv("MSM_MONGOOSEIM_SOURCES"),
                  filename:join([project_root(), "..", "shared", "mongooseim"]),
                  "/work/shared/mongooseim"],
    case [D || D <- Candidates, is_list(D), D =/= "",
               filelib:wildcard(filename:join(D, "mongooseim-*.tar.gz")) =/= []] of
        [Dir | _] -> filename:absname(Dir);
        [] -> not_found
    end.

%% @doc `ok' when the sources are there; `{skip, Why}' otherwise (an error under CI).
-spec require() -> ok | {skip, string()}.
require() ->
    case tarball_dir() of
        not_found ->
            Why = "MongooseIM's sources (../shared/mongooseim/mongooseim-*.tar.gz) not found; "
                  "set MSM_MONGOOSEIM_SOURCES",
            case os:getenv("MSM_REQUIRE_MONGOOSEIM") of
                V when V =:= false; V =:= ""; V =:= "0" -> {skip, Why};
                _ -> error({mongooseim_sources_missing, Why})
            end;
        _ ->
            ok
    end.

%% @doc Every release whose tarball is there, oldest first.
-spec releases() -> [release()].
releases() ->
    Files = filelib:wildcard("mongooseim-*.tar.gz", tarball_dir()),
    Rels = [lists:nthtail(length("mongooseim-"), filename:basename(F, ".tar.gz")) || F <- Files],
    lists:sort(fun(A, B) -> version_key(A) =< version_key(B) end, Rels).

version_key(R) ->
    [list_to_integer(P) || P <- string:lexemes(R, ".")].

%% @doc `6.1.0' -> `'6_1_0'': a suffix for renamed modules.
-spec release_atom(release()) -> atom().
release_atom(R) ->
    list_to_atom(lists:flatten(string:replace(R, ".", "_", all))).

%% @doc The extracted source tree of a release (extracted at the first call of a checkout).
-spec src_dir(release()) -> string().
src_dir(Release) ->
    Base = filename:join([project_root(), "_build", "mim_sources"]),
    Dir = filename:join(Base, "mongooseim-" ++ Release),
    Marker = filename:join(Dir, ".extracted"),
    case filelib:is_file(Marker) of
        true -> Dir;
        false ->
            ok = filelib:ensure_dir(filename:join(Base, "x")),
            Tarball = filename:join(tarball_dir(), "mongooseim-" ++ Release ++ ".tar.gz"),
            ok = erl_tar:extract(Tarball, [compressed, {cwd, Base}]),
            true = filelib:is_dir(Dir),
            ok = file:write_file(Marker, <<>>),
            Dir
    end.

%% @doc MongooseIM 6.2.1's whole tree (rebar.config.script, tools/, ...: what a release is
%% built from): `mongooseim-release/mongooseim-6.2.1-full.tar.gz' beside the tarball
%% directory, else in `../shared' beside the checkout, else in `/work/shared'; or `not_found'.
-spec full_tree_tarball() -> string() | not_found.
full_tree_tarball() ->
    Name = "mongooseim-6.2.1-full.tar.gz",
    Beside = case tarball_dir() of
                 not_found -> [];
                 Dir -> [filename:join([filename:dirname(Dir), "mongooseim-release", Name])]
             end,
    Candidates = Beside ++ [filename:join([project_root(), "..", "shared", "mongooseim-release",
                                           Name]),
                            filename:join("/work/shared/mongooseim-release", Name)],
    case [F || F <- Candidates, filelib:is_regular(F)] of
        [F | _] -> filename:absname(F);
        [] -> not_found
    end.

%% @doc That tree, extracted at the first call of a checkout under `_build/mim_sources'.
-spec full_tree_dir() -> string().
full_tree_dir() ->
    Base = filename:join([project_root(), "_build", "mim_sources", "full-6.2.1"]),
    Dir = filename:join(Base, "MongooseIM"),
    Marker = filename:join(Base, ".extracted"),
    case filelib:is_file(Marker) of
        true -> Dir;
        false ->
            ok = filelib:ensure_dir(filename:join(Base, "x")),
            ok = erl_tar:extract(full_tree_tarball(), [compressed, {cwd, Base}]),
            true = filelib:is_dir(Dir),
            ok = file:write_file(Marker, <<>>),
            Dir
    end.

%% @doc Compiles files of a release's tree (paths relative to it, e.g.
%% `"src/system_metrics/mongoose_system_metrics_collector.erl"') and loads them. With
%% `rename', every occurrence of each `From' atom in the text (module names, remote calls)
%% becomes `To', and the module is compiled under its new name. Returns the loaded modules.
-spec compile(release(), [string()], compile_opts()) -> [module()].
compile(Release, Files, Opts) ->
    Dir = src_dir(Release),
    Renames = maps:get(rename, Opts, []),
    Out = filename:join([Dir, "_msm_build", renames_tag(Renames)]),
    ok = filelib:ensure_dir(filename:join(Out, "x")),
    JidLib = jid_stand_in(),
    true = code:add_pathz(filename:join(JidLib, "ebin")),
    [compile_one(Dir, Out, F, Renames, Opts) || F <- Files].

compile_one(Dir, Out, File, Renames, Opts) ->
    {ok, Text0} = file:read_file(filename:join(Dir, File)),
    Text = lists:foldl(fun({From, To}, T) ->
                               re:replace(T, "\\b" ++ atom_to_list(From) ++ "\\b",
                                          atom_to_list(To), [global, {return, binary}])
                       end, Text0, Renames),
    Base = filename:basename(File, ".erl"),
    Name = case lists:keyfind(list_to_atom(Base), 1, Renames) of
               {_, To} -> atom_to_list(To);
               false -> Base
           end,
    Src = filename:join(Out, Name ++ ".erl"),
    ok = file:write_file(Src, Text),
    Defines = [case D of {K, V} -> {d, K, V}; K -> {d, K} end
               || D <- maps:get(defines, Opts, [])],
    ExportAll = case maps:get(export_all, Opts, false) of
                    true -> [export_all, nowarn_export_all];
                    false -> []
                end,
    CompileOpts = [binary, return_errors, debug_info, nowarn_unused_vars,
                   nowarn_unused_function, nowarn_deprecated_function,
                   {i, filename:join(Dir, "include")},
                   {i, filename:dirname(filename:join(Dir, File))}
                   | Defines ++ ExportAll],
    case compile:file(Src, CompileOpts) of
        {ok, Mod, Bin} ->
            ok = file:write_file(filename:join(Out, Name ++ ".beam"), Bin),
            _ = code:purge(Mod),
            {module, Mod} = code:load_binary(Mod, Src, Bin),
            Mod;
        {ok, Mod, Bin, _Warnings} ->
            _ = code:purge(Mod),
            {module, Mod} = code:load_binary(Mod, Src, Bin),
            Mod;
        {error, Errors, _} ->
            error({compile_failed, File, Errors})
    end.

renames_tag([]) -> "plain";
renames_tag([{_, To} | _]) -> atom_to_list(To).

%% MongooseIM includes `jid/include/jid.hrl' (its `jid' dependency, not in the tarballs):
%% a one-line record definition serves, in an application directory on the code path.
jid_stand_in() ->
    Lib = filename:join([project_root(), "_build", "mim_sources", "jid"]),
    Hrl = filename:join([Lib, "include", "jid.hrl"]),
    ok = filelib:ensure_dir(Hrl),
    ok = filelib:ensure_dir(filename:join([Lib, "ebin", "x"])),
    ok = file:write_file(Hrl, <<"-record(jid, {user, server, resource, "
                                "luser, lserver, lresource}).\n">>),
    Lib.

%% @doc The checkout's root directory (where `rebar.config' is), found from this module's
%% own source path (rebar3 compiles test modules from the checkout's `test/').
-spec project_root() -> string().
project_root() ->
    Src = proplists:get_value(source, ?MODULE:module_info(compile)),
    up_to_rebar_config(filename:dirname(Src)).

up_to_rebar_config("/") ->
    error(project_root_not_found);
up_to_rebar_config(Dir) ->
    case filelib:is_file(filename:join(Dir, "rebar.config"))
        andalso filelib:is_dir(filename:join(Dir, "native")) of
        true -> Dir;
        false -> up_to_rebar_config(filename:dirname(Dir))
    end.
