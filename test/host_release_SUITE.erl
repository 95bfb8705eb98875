%%% @doc mongoose_system_metrics as MongooseIM loads it: a rebar3 git dependency of a host
%%% project, shipped in a release, its service started by the host's service manager.
%%%
%%% test/host/ is a minimal stand-in for MongooseIM's project (a `mongooseim' application
%%% with MongooseIM's module names and signatures, none of the four system-metrics modules
%%% that the README's patch deletes). init_per_suite builds its release with `rebar3 release':
%%% the dependency is written as the README's snippet writes it (branch main), its URL a
%%% snapshot of this checkout's working tree (every file git does not ignore, uncommitted
%%% changes included, committed on branch main in a repository of its own under
%%% _build/msm_host/worktree), and its NIF is built by this project's own compile hook.
%%% The build goes to
%%% _build/msm_host/ (REBAR_BASE_DIR; not under test/, which rebar3 ct copies whole), and its
%%% cargo target is seeded once from this repository's target/release, so that only the two
%%% crates of this project are compiled again.
%%%
%%% The cases boot the release as a real node (`bin/mongooseim foreground', a unique node
%%% name and cookie, distribution on 127.0.0.1), configured by a mongooseim.toml made of the
%%% README's sample section (with a short `initial_report' and a `url' to a GA4 stand-in on
%%% 127.0.0.1), and stop it with `bin/mongooseim stop'.
-module(host_release_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include_lib("kernel/include/file.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1]).
-export([release_ships_the_nif/1, boot_report_and_stop/1, boot_without_nif_stays_idle/1]).

-define(SERVICE, service_mongoose_system_metrics).
-define(APP, mongoose_system_metrics).
-define(LIB, "libmongoose_system_metrics_nif.so").
-define(BUILD_TIMEOUT, timer:minutes(25)).
-define(BOOT_TIMEOUT, timer:seconds(90)).
-define(REPORT_TIMEOUT, timer:seconds(60)).
%% MongooseIM's four modules that the patch deletes; this project ships three of them.
-define(REPLACED_MODULES, [service_mongoose_system_metrics, mongoose_system_metrics_collector,
                           mongoose_system_metrics_sender, mongoose_system_metrics_file]).

-spec suite() -> list().
suite() ->
    [{timetrap, {minutes, 40}}].

-spec all() -> [atom()].
all() ->
    [release_ships_the_nif, boot_report_and_stop, boot_without_nif_stays_idle].

-spec init_per_suite(list()) -> list().
init_per_suite(Config) ->
    {ok, _} = application:ensure_all_started(jiffy),
    Root = project_root(),
    [ct:fail({not_found, Tool}) || Tool <- ["git", "rebar3", "cargo", "flock"],
                                   os:find_executable(Tool) =:= false],
    HostDir = filename:join([Root, "test", "host"]),
    BuildDir = filename:join([Root, "_build", "msm_host"]),
    Lock = lock_build_dir(BuildDir),
    Sha = build_release(Root, HostDir, BuildDir, Config),
    RelDir = physical(filename:join([BuildDir, "default", "rel", "mongooseim"])),
    Started = start_distribution(),
    [{root, Root}, {host_dir, HostDir}, {build_dir, BuildDir}, {rel_dir, RelDir}, {sha, Sha},
     {started_distribution, Started}, {lock, Lock} | Config].

-spec end_per_suite(list()) -> ok.
end_per_suite(Config) ->
    case ?config(started_distribution, Config) of
        true -> _ = net_kernel:stop(), ok;
        _ -> ok
    end,
    ?config(lock, Config) ! release,
    ok.

%%====================================================================
%% Cases
%%====================================================================

%% The assembled release: a real lib/ directory (not symlinks into _build) with the NIF in
%% lib/mongoose_system_metrics-VSN/priv/, both applications in the release, and none of the
%% replaced modules in the host's own application.
-spec release_ships_the_nif(list()) -> ok.
release_ships_the_nif(Config) ->
    RelDir = ?config(rel_dir, Config),
    AppDir = app_dir(RelDir),
    {ok, AppInfo} = file:read_link_info(AppDir),
    ?assertEqual(directory, AppInfo#file_info.type),
    Lib = filename:join([AppDir, "priv", ?LIB]),
    {ok, #file_info{type = regular, size = Size}} = file:read_file_info(Lib),
    ?assert(Size > 0),
    {ok, <<127, "ELF", _/binary>>} = read_head(Lib, 4),
    {ok, [{release, {"mongooseim", _}, _Erts, Apps}]} =
        file:consult(filename:join([RelDir, "releases", "6.8.0", "mongooseim.rel"])),
    ?assertMatch([_], [A || {?APP, _} = A <- Apps]),
    ?assertMatch([_], [A || {mongooseim, _} = A <- Apps]),
    {ok, [{application, mongooseim, HostApp}]} =
        file:consult(filename:join([RelDir, "lib", "mongooseim-6.8.0", "ebin", "mongooseim.app"])),
    HostModules = proplists:get_value(modules, HostApp),
    ?assert(lists:member(ejabberd_sup, HostModules)),
    ?assertEqual([], [M || M <- HostModules, lists:member(M, ?REPLACED_MODULES)]),
    {ok, [{application, ?APP, OurApp}]} =
        file:consult(filename:join([AppDir, "ebin", "mongoose_system_metrics.app"])),
    ?assert(lists:member(?SERVICE, proplists:get_value(modules, OurApp))),
    %% The dependency is the snapshot of the working tree: its commit, and every source file
    %% as it is in this checkout now.
    DepDir = filename:join([?config(build_dir, Config), "default", "lib",
                            "mongoose_system_metrics"]),
    ?assertEqual(?config(sha, Config), cmd_line("git -C '" ++ DepDir ++ "' rev-parse HEAD")),
    Sources = [F || Dir <- ["erlang/src", "native/engine/src", "native/nif/src"],
                    F <- filelib:wildcard(Dir ++ "/**/*.{erl,rs}", ?config(root, Config))],
    ?assert(length(Sources) > 20),
    [?assertEqual({F, file:read_file(filename:join(?config(root, Config), F))},
                  {F, file:read_file(filename:join(DepDir, F))}) || F <- Sources],
    ok.

%% Boot, the service started by the host's service manager with the README's options, a
%% report at the GA4 stand-in, the NIF loaded from the release's lib/, then a clean stop.
-spec boot_report_and_stop(list()) -> ok.
boot_report_and_stop(Config) ->
    RelDir = ?config(rel_dir, Config),
    %% A fresh log directory: no report file, client id or last success from a former run.
    {0, _} = sh("rm -rf '" ++ filename:join(RelDir, "log") ++ "'"),
    {ok, Stub} = ga4_stub_server:start(),
    try
        Url = ga4_stub_server:url(Stub),
        Toml = write_toml(Config, "with_nif", Url),
        Boot = boot(RelDir, Toml),
        try
            Node = maps:get(node, Boot),
            %% The options the service got, as the host parsed mongooseim.toml: the README's
            %% section with MongooseIM's defaults, a short initial_report and the stub's url.
            ?assertEqual(#{initial_report => 1000, periodic_report => 10800000,
                           cluster_report => false, url => list_to_binary(Url),
                           tracking_id => #{id => "G-XXXX", secret => "Secret"}},
                         rpc(Node, mongoose_config, get_opt, [[services, ?SERVICE]])),
            %% Started under MongooseIM's top supervisor, by the service manager.
            ?assert(rpc(Node, mongoose_service, is_loaded, [?SERVICE])),
            Pid = rpc(Node, erlang, whereis, [?SERVICE]),
            ?assert(is_pid(Pid)),
            ?assertMatch([{?SERVICE, Pid, worker, _}],
                         [C || {?SERVICE, _, _, _} = C
                                   <- rpc(Node, supervisor, which_children, [ejabberd_sup])]),
            %% The engine is loaded from the release's lib/mongoose_system_metrics-VSN/priv/.
            AppDir = app_dir(RelDir),
            ?assertEqual(filename:join(AppDir, "priv"), rpc(Node, code, priv_dir, [?APP])),
            ?assertEqual(none, rpc(Node, mongoose_system_metrics_nif, load_error, [])),
            Maps = os:cmd("cat /proc/" ++ maps:get(os_pid, Boot) ++ "/maps"),
            ?assertNotEqual(nomatch, string:find(Maps, filename:join([AppDir, "priv", ?LIB]))),
            %% Replaced modules come from this project (or are gone: the sender).
            ?assertEqual(filename:join([AppDir, "ebin", "service_mongoose_system_metrics.beam"]),
                         rpc(Node, code, which, [?SERVICE])),
            ?assertEqual(non_existing, rpc(Node, code, which, [mongoose_system_metrics_sender])),
            %% One report, to both tracking ids (built-in from sys.config, and configured).
            ok = ga4_stub_server:wait_for_requests(Stub, 2, ?REPORT_TIMEOUT),
            ?assertEqual([], ga4_stub_server:violations(Stub)),
            Events = ga4_stub_server:events(Stub),
            ?assertEqual([<<"G-HOSTRELEASE">>, <<"G-XXXX">>],
                         lists:usort([Id || #{measurement_id := Id} <- Events])),
            {ok, ClusterId} = rpc(Node, mongoose_cluster_id, get_cached_cluster_id, []),
            ?assertEqual([ClusterId], lists:usort([C || #{client_id := C} <- Events])),
            [Cluster | _] = [P || #{name := <<"cluster">>, params := P} <- Events],
            ?assertMatch(#{<<"version">> := <<"6.8.0">>, <<"config_type">> := <<"toml">>},
                         Cluster),
            %% The node alone; the test node is connected hidden, unless a former suite
            %% already made it a visible node.
            NodeCount = case ?config(started_distribution, Config) of
                            true -> 1;
                            false -> 1 + length(rpc(Node, erlang, nodes, []))
                        end,
            ?assertMatch(#{<<"node_number">> := NodeCount}, Cluster),
            ?assertNotEqual([], [P || #{name := <<"module_with_opt">>,
                                        params := #{<<"module">> := <<"mod_last">>,
                                                    <<"backend">> := <<"mnesia">>} = P}
                                          <- Events]),
            #{last_success := LastSuccess} = wait_for_status(Node, last_success),
            ?assert(is_integer(LastSuccess)),
            %% The report file holds exactly the events sent to each tracking id, in order:
            %% the node's one host type, its one module (mnesia), no custom module.
            {ok, File} = file:read_file(filename:join([RelDir, "log",
                                                       "system_metrics_report.json"])),
            Written = msm_expected:decode_events(File),
            [?assertEqual(Written, [#{name => N, params => P}
                                    || #{name := N, params := P, measurement_id := M} <- Events,
                                       M =:= Id])
             || Id <- [<<"G-HOSTRELEASE">>, <<"G-XXXX">>]],
            ?assertEqual([#{<<"value">> => 1}],
                         [P || #{name := <<"host_count">>, params := P} <- Written]),
            ?assertEqual([#{<<"module">> => <<"mod_last">>, <<"backend">> => <<"mnesia">>}],
                         [P || #{name := <<"module_with_opt">>, params := P} <- Written]),
            ?assertEqual([#{<<"value">> => 0}],
                         [P || #{name := <<"custom_module_count">>, params := P} <- Written]),
            %% Stop the service as the service manager does, then the node.
            ?assertMatch({stopped, _}, rpc(Node, mongoose_service, ensure_stopped, [?SERVICE])),
            ?assertEqual(undefined, rpc(Node, erlang, whereis, [?SERVICE])),
            ?assertEqual([], [C || {?SERVICE, _, _, _} = C
                                       <- rpc(Node, supervisor, which_children, [ejabberd_sup])]),
            stop_node(Boot),
            Log = read_log(RelDir),
            ?assertEqual(1, count_lines(Log, "what: report_transparency")),
            ?assertEqual(1, count_lines(Log, "what: mongooseim_node_started")),
            ?assertEqual(0, count_lines(Log, "report_send_failed")),
            ?assertEqual(0, count_lines(Log, "engine_unavailable")),
            ?assertEqual(0, count_lines(Log, "[error]")),
            ?assertEqual(0, count_lines(Log, "Secret"))
        after
            kill_if_running(Boot)
        end
    after
        ga4_stub_server:stop(Stub)
    end.

%% The same release without the .so: the node starts, the service stays idle (nothing
%% collected, written or sent) and there is exactly one log line about it.
-spec boot_without_nif_stays_idle(list()) -> ok.
boot_without_nif_stays_idle(Config) ->
    Copy = filename:join(?config(priv_dir, Config), "rel_without_nif"),
    {0, _} = sh("cp -a '" ++ ?config(rel_dir, Config) ++ "' '" ++ Copy ++ "'"),
    RelDir = physical(Copy),
    ok = file:delete(filename:join([app_dir(RelDir), "priv", ?LIB])),
    {0, _} = sh("rm -rf '" ++ filename:join(RelDir, "log") ++ "'"),
    {ok, Stub} = ga4_stub_server:start(),
    try
        Toml = write_toml(Config, "without_nif", ga4_stub_server:url(Stub)),
        Boot = boot(RelDir, Toml),
        try
            Node = maps:get(node, Boot),
            ?assertEqual([started, started], tuple_to_list(rpc(Node, init, get_status, []))),
            ?assertNotEqual(none, rpc(Node, mongoose_system_metrics_nif, load_error, [])),
            ?assert(rpc(Node, mongoose_service, is_loaded, [?SERVICE])),
            ?assertEqual(undefined, rpc(Node, erlang, whereis, [?SERVICE])),
            ?assertMatch(#{running := false}, rpc(Node, ?SERVICE, status, [])),
            %% Nothing runs that could report (no process, so no timer): nothing was sent or
            %% written.
            ?assertEqual([], [C || {?SERVICE, _, _, _} = C
                                       <- rpc(Node, supervisor, which_children, [ejabberd_sup])]),
            ?assertEqual([], ga4_stub_server:requests(Stub)),
            ?assertNot(filelib:is_regular(filename:join([RelDir, "log",
                                                         "system_metrics_report.json"]))),
            stop_node(Boot),
            Log = read_log(RelDir),
            ?assertEqual(1, count_lines(Log, "what: mongooseim_node_started")),
            ?assertEqual(1, count_lines(Log, "system_metrics")),
            ?assertEqual(1, count_lines(Log, "what: system_metrics_engine_unavailable")),
            ?assertEqual(0, count_lines(Log, "[error]"))
        after
            kill_if_running(Boot)
        end
    after
        ga4_stub_server:stop(Stub)
    end.

%%====================================================================
%% Building the release
%%====================================================================

%% The repository root: rebar3 ct runs from it (PWD); checked by looking for our files.
project_root() ->
    Candidates = [os:getenv("PWD", ""), filename:absname("../../../..")],
    case [D || D <- Candidates,
               filelib:is_regular(filename:join([D, "test", "host", "rebar.config"]))] of
        [Root | _] -> physical(Root);
        [] -> ct:fail({project_root_not_found, Candidates})
    end.

build_release(Root, HostDir, BuildDir, Config) ->
    {Snapshot, Sha} = snapshot_working_tree(Root, BuildDir),
    ok = filelib:ensure_dir(filename:join(BuildDir, "x")),
    CargoTarget = seed_cargo_target(Root, BuildDir),
    %% rebar3 keeps a fetched git dependency (and its lock) even when the ref changes.
    DepDir = filename:join([BuildDir, "default", "lib", "mongoose_system_metrics"]),
    case filelib:is_dir(DepDir) andalso cmd_line("git -C '" ++ DepDir ++ "' rev-parse HEAD") of
        false -> ok;
        Sha -> ok;
        _Other -> {0, _} = sh("rm -rf '" ++ DepDir ++ "'")
    end,
    _ = file:delete(filename:join(HostDir, "rebar.lock")),
    %% The README's snippet as written (branch main), its URL the snapshot's repository.
    Env = [{"MSM_GIT_URL", "file://" ++ Snapshot}, {"MSM_GIT_REF", false},
           {"REBAR_BASE_DIR", BuildDir}, {"CARGO_TARGET_DIR", CargoTarget},
           {"MSM_SKIP_NIF", false}, {"REBAR_PROFILE", false}, {"REBAR_CONFIG", false},
           {"ERL_LIBS", false}, {"ERL_FLAGS", false}],
    {Status, Out} = run(HostDir, "rebar3 release", Env, ?BUILD_TIMEOUT),
    ok = file:write_file(filename:join(?config(priv_dir, Config), "rebar3_release.log"), Out),
    ct:log("rebar3 release in ~ts (exit ~p):~n~ts", [HostDir, Status, Out]),
    Status =:= 0 orelse ct:fail({rebar3_release_failed, Status}),
    Sha.

%% The working tree as it is now (every file git does not ignore, tracked or not, changed or
%% not), committed on branch main of a repository of its own: a git dependency sees
%% committed work only. The same content gives the same commit (fixed author and dates), so
%% an unchanged tree reuses the fetched dependency.
snapshot_working_tree(Root, BuildDir) ->
    Snapshot = filename:join(BuildDir, "worktree"),
    Git = "git -c user.name=msm-snapshot -c user.email=msm-snapshot@localhost "
          "-c commit.gpgsign=false",
    Date = "GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z'",
    Cmd = "set -e; rm -rf '" ++ Snapshot ++ "'; mkdir -p '" ++ Snapshot ++ "'; "
          "cd '" ++ Root ++ "'; "
          "git ls-files -z --cached --others --exclude-standard "
          "| xargs -0 sh -c 'for f; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then "
          "printf \"%s\\0\" \"$f\"; fi; done' sh "
          "| xargs -0 cp -a --parents -t '" ++ Snapshot ++ "'; "
          "cd '" ++ Snapshot ++ "'; git init -q -b main .; " ++ Git ++ " add -A; "
          ++ Date ++ " " ++ Git ++ " commit -q -m 'working tree snapshot'",
    case sh(Cmd) of
        {0, _} -> ok;
        {Status, Out} -> ct:fail({snapshot_failed, Status, Out})
    end,
    Sha = cmd_line("git -C '" ++ Snapshot ++ "' rev-parse HEAD"),
    ct:log("working tree of ~ts committed as ~ts in ~ts", [Root, Sha, Snapshot]),
    {Snapshot, Sha}.

%% The host's own cargo target directory, seeded once from this repository's target/release
%% (copied under cargo's lock): the dependencies' compiled crates are reused and only this
%% project's two crates are compiled again. The main target is only read, and this
%% project's own cdylib is not copied, so the two builds never overwrite each other's
%% library.
seed_cargo_target(Root, BuildDir) ->
    Target = filename:join(BuildDir, "cargo-target"),
    Main = filename:join([Root, "target", "release"]),
    Seeded = filename:join([Target, "release"]),
    case filelib:is_dir(Seeded) orelse not filelib:is_dir(Main) of
        true -> ok;
        false ->
            Tmp = Seeded ++ ".tmp",
            Cmd = "rm -rf '" ++ Tmp ++ "' && mkdir -p '" ++ Tmp ++ "' && "
                "flock -w 900 '" ++ Main ++ "/.cargo-lock' "
                "tar -C '" ++ Main ++ "' -cf - --exclude=./examples --exclude=./incremental "
                "--exclude=./" ?LIB " --exclude=./deps/" ?LIB " . "
                "| tar -C '" ++ Tmp ++ "' -xf - && mv '" ++ Tmp ++ "' '" ++ Seeded ++ "'",
            {Status, Out} = sh(Cmd),
            ct:log("seeded ~ts from ~ts (exit ~p) ~ts", [Seeded, Main, Status, Out]),
            Status =:= 0 orelse ct:fail({seeding_cargo_target_failed, Out})
    end,
    Target.

%% An exclusive lock on the build directory for the whole suite (flock, released when its
%% holder closes the port, or when this VM exits): two runs in one clone take turns instead
%% of building and booting the same release at once.
lock_build_dir(BuildDir) ->
    ok = filelib:ensure_dir(filename:join(BuildDir, "x")),
    Lock = filename:join(BuildDir, ".suite.lock"),
    Self = self(),
    Holder = spawn(fun() ->
                           Port = open_port({spawn_executable, os:find_executable("flock")},
                                            [{args, ["-w", "1800", Lock, "-c",
                                                     "echo locked; exec cat >/dev/null"]},
                                             binary, exit_status, use_stdio]),
                           lock_holder(Self, Port)
                   end),
    receive
        {Holder, locked} -> Holder;
        {Holder, {lock_failed, Status}} -> ct:fail({build_dir_lock_failed, Lock, Status})
    end.

lock_holder(Parent, Port) ->
    receive
        {Port, {data, _}} ->
            Parent ! {self(), locked},
            lock_holder(Parent, Port);
        {Port, {exit_status, Status}} ->
            Parent ! {self(), {lock_failed, Status}};
        release ->
            port_close(Port)
    end.

%%====================================================================
%% Booting and stopping the release
%%====================================================================

%% mongooseim.toml: the README's sample section, with a short initial_report and the
%% stub's url, after a general section and one module.
write_toml(Config, Name, Url) ->
    Sample = readme_toml(?config(root, Config)),
    Section = re:replace(Sample, "(?m)^(\\s*)initial_report\\s*=.*$", "\\1initial_report = 1_000",
                         [{return, binary}]),
    ?assertNotEqual(Sample, Section),
    Toml = iolist_to_binary(["[general]\n  hosts = [\"localhost\"]\n\n",
                             "[modules.mod_last]\n  backend = \"mnesia\"\n\n",
                             Section, "  url = \"", Url, "\"\n"]),
    Path = filename:join(?config(priv_dir, Config), Name ++ "_mongooseim.toml"),
    ok = file:write_file(Path, Toml),
    ct:log("~ts:~n~ts", [Path, Toml]),
    Path.

%% The first TOML block of the README's "Using it in MongooseIM" section.
readme_toml(Root) ->
    {ok, Readme} = file:read_file(filename:join(Root, "README.md")),
    [_, Section] = binary:split(Readme, <<"\n## Using it in MongooseIM\n">>),
    [_, Block | _] = binary:split(Section, <<"```toml\n">>),
    [Toml | _] = binary:split(Block, <<"```">>),
    ?assertNotEqual(nomatch, binary:match(Toml, <<"[services.service_mongoose_system_metrics]">>)),
    Toml.

%% Starts `bin/mongooseim foreground' in the release directory; returns once the node
%% answers and has finished booting.
boot(RelDir, Toml) ->
    Unique = os:getpid() ++ "_" ++ integer_to_list(erlang:unique_integer([positive])),
    Name = "msm_host_" ++ Unique,
    Node = list_to_atom(Name ++ "@localhost"),
    Cookie = "msm_host_cookie_" ++ Unique,
    erlang:set_cookie(Node, list_to_atom(Cookie)),
    Env = node_env(Name, Cookie) ++ [{"EJABBERD_CONFIG_PATH", Toml}],
    Self = self(),
    Runner = spawn(fun() -> runner(Self, RelDir, Env) end),
    Boot = #{node => Node, runner => Runner, rel_dir => RelDir, env => Env},
    case wait_until_booted(Boot, erlang:monotonic_time(millisecond) + ?BOOT_TIMEOUT) of
        ok ->
            OsPid = rpc(Node, os, getpid, []),
            ct:log("booted ~p (OS pid ~s) from ~ts", [Node, OsPid, RelDir]),
            Boot#{os_pid => OsPid};
        {error, Reason} ->
            kill_if_running(Boot),
            ct:fail({boot_failed, Reason, runner_output(Boot)})
    end.

node_env(Name, Cookie) ->
    [{"MSM_HOST_NODE", Name ++ "@localhost"}, {"MSM_HOST_COOKIE", Cookie},
     {"MONGOOSEIM_SYSTEM_METRICS", false}, {"DO_NOT_TRACK", false},
     {"HTTPS_PROXY", false}, {"https_proxy", false}, {"HTTP_PROXY", false},
     {"http_proxy", false}, {"ERL_LIBS", false}, {"ERL_FLAGS", false},
     {"ERL_AFLAGS", false}, {"ERL_ZFLAGS", false}].

%% Owns the port of the foreground node: keeps its output, reports its exit status.
runner(Parent, RelDir, Env) ->
    Port = open_port({spawn_executable, filename:join([RelDir, "bin", "mongooseim"])},
                     [{args, ["foreground"]}, {cd, RelDir}, {env, Env}, exit_status, binary,
                      stderr_to_stdout, use_stdio]),
    runner_loop(Parent, Port, [], undefined).

runner_loop(Parent, Port, Acc, Status) ->
    receive
        {Port, {data, D}} ->
            runner_loop(Parent, Port, [D | Acc], Status);
        {Port, {exit_status, S}} ->
            runner_loop(Parent, Port, Acc, S);
        {get, From} ->
            From ! {runner, self(), Status, iolist_to_binary(lists:reverse(Acc))},
            runner_loop(Parent, Port, Acc, Status)
    end.

runner_state(#{runner := Runner}) ->
    Runner ! {get, self()},
    receive {runner, Runner, Status, Out} -> {Status, Out}
    after 5000 -> {undefined, <<>>}
    end.

runner_output(Boot) ->
    element(2, runner_state(Boot)).

wait_until_booted(#{node := Node} = Boot, Deadline) ->
    case runner_state(Boot) of
        {undefined, _} ->
            Ready = net_adm:ping(Node) =:= pong andalso
                (catch erpc:call(Node, init, get_status, [], 5000)) =:= {started, started},
            case Ready of
                true -> ok;
                false ->
                    case erlang:monotonic_time(millisecond) > Deadline of
                        true -> {error, timeout};
                        false -> timer:sleep(200), wait_until_booted(Boot, Deadline)
                    end
            end;
        {Status, _} ->
            {error, {exited, Status}}
    end.

%% `bin/mongooseim stop', then the foreground OS process must exit with status 0.
stop_node(#{rel_dir := RelDir, env := Env, node := Node} = Boot) ->
    {Status, Out} = run(RelDir, "bin/mongooseim stop", Env, timer:seconds(60)),
    ct:log("bin/mongooseim stop: exit ~p~n~ts", [Status, Out]),
    ?assertEqual(0, Status),
    ?assertEqual(0, wait_for_exit(Boot, erlang:monotonic_time(millisecond) + 60000)),
    ?assertEqual(pang, net_adm:ping(Node)),
    ?assertNotEqual(0, element(1, sh("kill -0 " ++ maps:get(os_pid, Boot)))),
    ct:log("node output:~n~ts", [runner_output(Boot)]),
    ok.

wait_for_exit(Boot, Deadline) ->
    case runner_state(Boot) of
        {undefined, Out} ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> ct:fail({node_did_not_exit, Out});
                false -> timer:sleep(200), wait_for_exit(Boot, Deadline)
            end;
        {Status, _} ->
            Status
    end.

%% Cleanup after a failure: the node this case started is killed by its OS pid.
kill_if_running(#{runner := Runner} = Boot) ->
    case runner_state(Boot) of
        {undefined, Out} ->
            ct:log("node still running, killing it; output:~n~ts", [Out]),
            case Boot of
                #{os_pid := OsPid} -> sh("kill -9 " ++ OsPid);
                #{node := Node} -> catch erpc:call(Node, erlang, halt, [], 5000)
            end;
        _ ->
            ok
    end,
    exit(Runner, kill),
    ok.

wait_for_status(Node, Key) ->
    wait_for_status(Node, Key, erlang:monotonic_time(millisecond) + ?REPORT_TIMEOUT).

wait_for_status(Node, Key, Deadline) ->
    Status = rpc(Node, ?SERVICE, status, []),
    case maps:get(Key, Status, undefined) of
        undefined ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> ct:fail({status_without, Key, Status});
                false -> timer:sleep(100), wait_for_status(Node, Key, Deadline)
            end;
        _ ->
            Status
    end.

read_log(RelDir) ->
    Path = filename:join([RelDir, "log", "mongooseim.log"]),
    {ok, Log} = file:read_file(Path),
    ct:log("~ts:~n~ts", [Path, Log]),
    Log.

count_lines(Log, Text) ->
    length([L || L <- binary:split(Log, <<"\n">>, [global]),
                 binary:match(L, list_to_binary(Text)) =/= nomatch]).

%%====================================================================
%% Helpers
%%====================================================================

start_distribution() ->
    case node() of
        nonode@nohost ->
            _ = sh(epmd() ++ " -daemon"),
            ok = application:set_env(kernel, inet_dist_use_interface, {127, 0, 0, 1}),
            Name = list_to_atom("msm_host_ct_" ++ os:getpid() ++ "@localhost"),
            %% Hidden: the node under test must count itself alone (node_number).
            {ok, _} = net_kernel:start(Name, #{name_domain => shortnames, hidden => true}),
            true;
        _ ->
            false
    end.

epmd() ->
    Erts = filename:join([code:root_dir(), "erts-" ++ erlang:system_info(version), "bin", "epmd"]),
    case filelib:is_regular(Erts) of
        true -> Erts;
        false -> "epmd"
    end.

rpc(Node, M, F, A) ->
    erpc:call(Node, M, F, A, 15000).

app_dir(RelDir) ->
    [Dir] = filelib:wildcard(filename:join([RelDir, "lib", "mongoose_system_metrics-*"])),
    Dir.

read_head(Path, N) ->
    {ok, F} = file:open(Path, [read, binary]),
    try file:read(F, N) after file:close(F) end.

physical(Dir) ->
    cmd_line("cd '" ++ Dir ++ "' && pwd -P").

cmd_line(Cmd) ->
    {0, Out} = sh(Cmd),
    string:trim(binary_to_list(Out)).

sh(Cmd) ->
    run("/", Cmd, [], timer:minutes(15)).

run(Dir, Cmd, Env, Timeout) ->
    msm_test_helper:run_cmd(Dir, Cmd, Env, Timeout).
