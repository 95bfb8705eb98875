%%% @doc A TOML configuration file read by a MongooseIM release's own code, as its node reads
%%% it at start: `mongoose_config_parser_toml:parse_file/1' (tomerl, then every section
%%% checked and processed by the release's `mongoose_config_spec', then the options unfolded
%%% per host type and each host type's modules completed with their dependencies by
%%% `gen_mod_deps'), in a peer VM running the release's code (msm_mim_build).
%%%
%%% The peer is laid out as a node: every module of the release is loaded first (a release
%%% boots in embedded mode, and its config processing looks some names up as existing atoms),
%%% the operator's own modules named in the file exist, and the working directory holds the
%%% release's files that the configuration names (certificates: only their existence is
%%% checked). With `service => plugin', this project's modules replace the four of
%%% MongooseIM's that `scripts/adopt-in-mongooseim' replaces (so the service's section is
%%% read with this project's config spec); with `service => mongooseim', MongooseIM's own.
-module(msm_mim_config).

-export([process/3]).
%% In the peer.
-export([in_peer/3]).

-type opts() :: #{service := mongooseim | plugin,
                  work_dir := file:filename(),
                  operator_modules => [module()],
                  release_files => [file:filename()]}.
%% A config error as MongooseIM reports it, without the values it quotes (`toml_value':
%% secrets among them) and without its stacktrace, text and the spec it applied (`items').
-type config_error() :: #{atom() => term()}.
-export_type([opts/0, config_error/0]).

-define(TIMEOUT_MS, 120000).

%% @doc The options the release's node holds after reading `File' (`[{Key, Value}]', as
%% `mongoose_config_parser:parse_file/1' returns them), or the errors that make it refuse
%% the file.
-spec process(msm_mim_sources:release(), file:filename(), opts()) ->
          {ok, [{term(), term()}]} | {error, [config_error()]}.
process(Release, File, Opts) ->
    Dirs = msm_mim_build:code_dirs(Release),
    Plugin = case maps:get(service, Opts) of
                 plugin -> [code:lib_dir(mongoose_system_metrics, ebin)];
                 mongooseim -> []
             end,
    {ok, Peer, _} = peer:start_link(#{connection => standard_io,
                                       args => ["-enable-feature", "maybe_expr"]}),
    try
        ok = peer:call(Peer, code, add_pathsz, [Dirs]),
        %% Ahead of the release's modules, as in a release that adopted the plugin.
        [true = peer:call(Peer, code, add_patha, [D]) || D <- Plugin],
        {Mod, Bin, Path} = code:get_object_code(?MODULE),
        {module, Mod} = peer:call(Peer, code, load_binary, [Mod, Path, Bin]),
        peer:call(Peer, ?MODULE, in_peer,
                  [msm_mim_build:build_dir(Release), filename:absname(File), Opts],
                  ?TIMEOUT_MS)
    after
        peer:stop(Peer)
    end.

%% @private The peer's side.
-spec in_peer(file:filename(), file:filename(), opts()) ->
          {ok, [{term(), term()}]} | {error, [config_error()]}.
in_peer(BuildDir, File, Opts) ->
    ok = stringprep:load_nif(),
    Modules = [list_to_atom(filename:basename(F, ".beam"))
               || F <- filelib:wildcard(filename:join(BuildDir, "*.beam"))],
    [{module, _} = code:ensure_loaded(M) || M <- Modules],
    [operator_module(M) || M <- maps:get(operator_modules, Opts, [])],
    WorkDir = maps:get(work_dir, Opts),
    [begin
         Path = filename:join(WorkDir, F),
         ok = filelib:ensure_dir(Path),
         ok = file:write_file(Path, <<>>)
     end || F <- maps:get(release_files, Opts, [])],
    ok = file:set_cwd(WorkDir),
    try mongoose_config_parser_toml:parse_file(File) of
        State -> {ok, mongoose_config_parser:get_opts(State)}
    catch
        error:{config_error, _Text, Errors} -> {error, [without_values(E) || E <- Errors]}
    end.

without_values(Error) when is_map(Error) ->
    maps:without([toml_value, stacktrace, text, class, items], Error);
without_values(Error) ->
    #{unexpected => Error}.

%% A module of the operator's own (MongooseIM checks that each configured module exists):
%% a `gen_mod' that starts and stops, declaring nothing else.
operator_module(Module) ->
    Forms = [{attribute, 1, module, Module},
             {attribute, 1, behaviour, gen_mod},
             {attribute, 1, export, [{start, 2}, {stop, 1}]},
             {function, 1, start, 2, [{clause, 1, [{var, 1, '_'}, {var, 1, '_'}], [],
                                       [{atom, 1, ok}]}]},
             {function, 1, stop, 1, [{clause, 1, [{var, 1, '_'}], [], [{atom, 1, ok}]}]}],
    {ok, Module, Bin} = compile:forms(Forms, [nowarn_undefined_behaviour]),
    {module, Module} = code:load_binary(Module, atom_to_list(Module) ++ ".erl", Bin).
