%%% @doc A MongooseIM release's own code, built to run in a peer VM (test input; see
%%% test/support/msm_mim_sources.erl): every module of its `src/' that compiles here, and the
%%% dependencies its configuration processing calls: tomerl (its TOML parser), jid and
%%% stringprep (with their NIFs, built with the C and C++ compilers) and p1_utils.
%%%
%%% The dependencies are those of `mongooseim-release/deps-6.2.1.tar.gz' (every release here
%%% names the same tomerl, 0.5.0); their headers serve every release's compilation. The
%%% modules are compiled with the release's own `erl_opts' (its `prod' profile included), as
%%% its build does; a file in syntax newer than OTP 25 goes through msm_mim_backport.
%%% `mod_jingle_sip' is left out of the configurable modules, as
%%% `mongooseim-release/build.sh' does (its nksip dependency has no source here). Files that
%%% cannot compile here, and why, are listed in `?MAY_FAIL'; any other failure is an error.
%%% Built once per checkout under `_build/mim_sources'.
-module(msm_mim_build).

-export([require/0, code_dirs/1, build_dir/1]).

-type release() :: msm_mim_sources:release().

%% The release's files that cannot compile here: SIP needs nksip's headers (not among the
%% dependencies), cert_utils a header generated from ASN.1 by its build.
-define(MAY_FAIL, ["src/jingle_sip/", "src/cert_utils.erl"]).
%% Dependencies compiled (the others lend their headers only).
-define(COMPILED_DEPS, ["tomerl", "jid", "stringprep", "p1_utils"]).

%% @doc `ok' when the release tarballs, the dependencies' tarball and C/C++ compilers are
%% there; `{skip, Why}' otherwise (an error under `$MSM_REQUIRE_MONGOOSEIM').
-spec require() -> ok | {skip, string()}.
require() ->
    Missing = [What || {What, false} <- [{"MongooseIM's sources", msm_mim_sources:tarball_dir()
                                                                  =/= not_found},
                                          {"deps-6.2.1.tar.gz", deps_tarball() =/= not_found},
                                          {"cc", os:find_executable("cc") =/= false},
                                          {"c++", os:find_executable("c++") =/= false}]],
    case Missing of
        [] -> ok;
        _ ->
            Why = "cannot build MongooseIM's code here, missing: " ++ lists:join(", ", Missing),
            case os:getenv("MSM_REQUIRE_MONGOOSEIM") of
                V when V =:= false; V =:= ""; V =:= "0" -> {skip, lists:flatten(Why)};
                _ -> error({mongooseim_build_missing, lists:flatten(Why)})
            end
    end.

%% @doc The code path of a peer VM running `Release''s code: the dependencies' `ebin'
%% directories, then the release's modules (built at the first call).
-spec code_dirs(release()) -> [file:filename()].
code_dirs(Release) ->
    Deps = deps_dir(),
    [filename:join([Deps, "lib", D, "ebin"]) || D <- ?COMPILED_DEPS] ++ [build_dir(Release)].

%% @doc Where the release's modules are built (at the first call of a checkout).
-spec build_dir(release()) -> file:filename().
build_dir(Release) ->
    Src = msm_mim_sources:src_dir(Release),
    Out = filename:join([Src, "_msm_build", "peer"]),
    Marker = filename:join(Out, ".built"),
    case filelib:is_file(Marker) of
        true -> Out;
        false ->
            ok = filelib:ensure_dir(filename:join(Out, "x")),
            build_release(Src, Out),
            ok = file:write_file(Marker, <<>>),
            Out
    end.

%%% The release

build_release(Src, Out) ->
    Deps = deps_dir(),
    %% `-include_lib("mongooseim/include/...")' is found through a directory named so.
    IncLib = filename:join(Out, "include_lib"),
    ok = filelib:ensure_dir(filename:join(IncLib, "x")),
    _ = file:make_symlink(Src, filename:join(IncLib, "mongooseim")),
    Checkouts = filename:join(Deps, "_checkouts"),
    Includes = [{i, filename:join(Src, "include")}, {i, IncLib}, {i, Checkouts}
                | [{i, D} || D <- filelib:wildcard(filename:join([Checkouts, "*", "include"]))]],
    Opts = erl_opts(Src) ++ Includes,
    Files = filelib:wildcard("src/**/*.erl", Src),
    Failed = [{F, Why} || F <- Files, {error, Why} <- [compile_file(Src, F, Out, Opts)]],
    case [F || {F, _} <- Failed, not may_fail(F)] of
        [] -> io:format("~s: ~b modules built, ~b left out: ~p~n",
                     [Src, length(Files) - length(Failed), length(Failed),
                      [F || {F, _} <- Failed]]);
        Unexpected -> error({mongooseim_files_do_not_compile, Unexpected,
                             [W || {F, W} <- Failed, lists:member(F, Unexpected)]})
    end.

may_fail(File) ->
    lists:any(fun(Prefix) -> lists:prefix(Prefix, File) end, ?MAY_FAIL).

compile_file(Src, File, Out, Opts0) ->
    Path = source(Src, File, Out),
    Opts = [{i, filename:dirname(filename:join(Src, File))} | Opts0],
    case compile:file(Path, [{outdir, Out}, return_errors, debug_info | Opts]) of
        {ok, _} -> ok;
        {ok, _, _} -> ok;
        {error, _, _} ->
            case msm_mim_backport:compile(Path, Out, Opts) of
                {ok, _} -> ok;
                {error, _} = Error -> Error
            end
    end.

%% The file to compile: the release's own, but mongoose_config_spec without mod_jingle_sip
%% among the configurable modules (as mongooseim-release/build.sh).
source(Src, "src/config/mongoose_config_spec.erl" = File, Out) ->
    {ok, Text} = file:read_file(filename:join(Src, File)),
    Patched = filename:join(Out, "mongoose_config_spec.erl"),
    ok = file:write_file(Patched, re:replace(Text, "^\\s*mod_jingle_sip,\\n", "",
                                             [multiline, {return, binary}])),
    Patched;
source(Src, File, _Out) ->
    filename:join(Src, File).

%% The macros of the release's `erl_opts' and of its `prod' profile's, for this OTP.
erl_opts(Src) ->
    {ok, Terms} = file:consult(filename:join(Src, "rebar.config")),
    Profiles = proplists:get_value(profiles, Terms, []),
    Prod = proplists:get_value(prod, Profiles, []),
    Otp = erlang:system_info(otp_release),
    [Opt || Opt <- proplists:get_value(erl_opts, Terms, []) ++
                  proplists:get_value(erl_opts, Prod, []),
            is_tuple(Opt), element(1, Opt) =:= d]
        ++ [{d, Macro} || {platform_define, Re, Macro} <- proplists:get_value(erl_opts, Terms, []),
                          re:run(Otp, Re) =/= nomatch].

%%% The dependencies

deps_tarball() ->
    case msm_mim_sources:full_tree_tarball() of
        not_found -> not_found;
        Full ->
            Deps = filename:join(filename:dirname(Full), "deps-6.2.1.tar.gz"),
            case filelib:is_regular(Deps) of
                true -> Deps;
                false -> not_found
            end
    end.

%% The dependencies' headers, and those compiled, with their NIFs.
deps_dir() ->
    Dir = filename:join([msm_mim_sources:project_root(), "_build", "mim_sources",
                         "deps-6.2.1"]),
    Marker = filename:join(Dir, ".built"),
    case filelib:is_file(Marker) of
        true -> Dir;
        false ->
            ok = filelib:ensure_dir(filename:join(Dir, "x")),
            extract_deps(Dir),
            [build_dep(Dir, D) || D <- ?COMPILED_DEPS],
            ok = file:write_file(Marker, <<>>),
            Dir
    end.

extract_deps(Dir) ->
    {ok, Names} = erl_tar:table(deps_tarball(), [compressed]),
    Wanted = [N || N <- Names, wanted(string:split(N, "/", all))],
    ok = erl_tar:extract(deps_tarball(), [compressed, {cwd, Dir}, {files, Wanted}]).

wanted(["_checkouts", _Dep, "include", _ | _]) -> true;
wanted(["_checkouts", Dep, Sub, File]) when Sub =:= "src"; Sub =:= "c_src" ->
    %% Some releases include a dependency's internal headers (graphql/src/*.hrl).
    lists:member(Dep, ?COMPILED_DEPS) orelse filename:extension(File) =:= ".hrl";
wanted(_) -> false.

%% Each into `lib/Dep/ebin' (and its NIF into `lib/Dep/priv'), where `code:priv_dir/1'
%% finds it.
build_dep(Dir, Dep) ->
    Src = filename:join([Dir, "_checkouts", Dep]),
    Lib = filename:join([Dir, "lib", Dep]),
    Ebin = filename:join(Lib, "ebin"),
    ok = filelib:ensure_dir(filename:join(Ebin, "x")),
    Generated = [generate(F, Ebin) || F <- filelib:wildcard(filename:join([Src, "src", "*.[xy]rl"]))],
    Sources = [F || F <- filelib:wildcard(filename:join([Src, "src", "*.erl"])),
                    not lists:suffix("_test.erl", F)] ++ Generated,
    [{ok, _} = compile:file(F, [{outdir, Ebin}, {i, filename:join(Src, "include")}])
     || F <- Sources],
    build_nif(Dep, Src, Lib).

generate(File, Ebin) ->
    Erl = filename:join(Ebin, filename:basename(filename:rootname(File)) ++ ".erl"),
    {ok, _} = case filename:extension(File) of
                  ".xrl" -> leex:file(File, [{scannerfile, Erl}]);
                  ".yrl" -> yecc:file(File, [{parserfile, Erl}])
              end,
    Erl.

build_nif("jid", Src, Lib) ->
    compile_nif("cc -std=c99", filename:join([Src, "c_src", "mongoose_jid.c"]),
                filename:join([Lib, "priv", "jid.so"]));
build_nif("stringprep", Src, Lib) ->
    compile_nif("c++", filename:join([Src, "c_src", "stringprep.cpp"]),
                filename:join([Lib, "priv", "lib", "stringprep.so"]));
build_nif(_, _, _) ->
    ok.

compile_nif(Compiler, Source, So) ->
    ok = filelib:ensure_dir(So),
    Erts = filename:join([code:root_dir(), "usr", "include"]),
    Cmd = lists:flatten(io_lib:format("~s -O2 -fPIC -shared -I'~s' '~s' -o '~s' 2>&1; echo $?",
                                      [Compiler, Erts, Source, So])),
    case lists:last(string:lexemes(os:cmd(Cmd), "\n")) of
        "0" -> ok;
        _ -> error({nif_build_failed, Cmd, os:cmd(Cmd)})
    end.
