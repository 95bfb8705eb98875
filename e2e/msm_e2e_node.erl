%%% @doc One MongooseIM release as a running node, driven as an operator does: its own start
%%% script (`bin/mongooseim start | stop', `bin/mongooseimctl status'), and Erlang
%%% distribution from this hidden node for what the start script cannot do (it has no
%%% `eval'): MongooseIM's node is `mongooseim@localhost', cookie `mongooseim' (etc/vm.args).
%%% One release runs at a time: they share the node name and the ports.
-module(msm_e2e_node).

-export([node_name/0, prepare/2, start/1, ctl_status/1, rpc/4, stop/2, kill/1,
         log_lines/1, report_file/1, is_registered/0, sh/2]).

-define(NODE, 'mongooseim@localhost').
%% Bounds that only guard against hanging: a boot takes seconds here.
-define(BOOT_TIMEOUT_MS, 120000).
-define(STOP_TIMEOUT_MS, 120000).
-define(RPC_TIMEOUT_MS, 30000).

%% @doc The node every release runs as.
-spec node_name() -> node().
node_name() ->
    ?NODE.

%% @doc A fresh start for the release: no log, no Mnesia directory (so no report file, client
%% id or last success from an earlier run), and the given configuration.
-spec prepare(file:filename(), iodata()) -> ok.
prepare(Rel, Toml) ->
    {0, _} = sh(["rm -rf '", Rel, "/log' '", Rel, "'/Mnesia.*"], 60000),
    ok = file:write_file(filename:join([Rel, "etc", "mongooseim.toml"]), Toml).

%% @doc Starts the release with its own start script and waits until `mongooseimctl status'
%% says it has started; `{ok, OsPid}' or `{error, Why}'.
-spec start(file:filename()) -> {ok, string()} | {error, iodata()}.
start(Rel) ->
    case is_registered() of
        true -> {error, "a node named mongooseim is already registered with epmd"};
        false ->
            case sh([Rel, "/bin/mongooseim start"], 60000) of
                {0, _} -> wait_started(Rel, deadline(?BOOT_TIMEOUT_MS));
                {Code, Out} -> {error, io_lib:format("bin/mongooseim start exited ~p: ~ts",
                                                     [Code, Out])}
            end
    end.

wait_started(Rel, Deadline) ->
    case ctl_status(Rel) of
        {0, Out} ->
            case string:find(Out, "boot script status: started") of
                nomatch -> retry_started(Rel, Deadline, Out);
                _ -> connected_pid(Rel)
            end;
        {_, Out} ->
            retry_started(Rel, Deadline, Out)
    end.

%% A VM that stopped while booting leaves a crash dump: no need to wait any longer.
retry_started(Rel, Deadline, Out) ->
    Crashed = filelib:is_regular(filename:join([Rel, "log", "erl_crash.dump"])),
    case Crashed orelse erlang:monotonic_time(millisecond) > Deadline of
        true ->
            Why = case Crashed of
                      true -> "the VM stopped while booting";
                      false -> "not started in time"
                  end,
            {error, [Why, "; mongooseimctl status: ", hd(string:split(Out, "\n") ++ [""]),
                     "; first error in the log: ", first_error(Rel)]};
        false ->
            timer:sleep(500),
            wait_started(Rel, Deadline)
    end.

first_error(Rel) ->
    case [L || L <- log_lines(Rel), binary:match(L, <<"level=error">>) =/= nomatch] of
        [Line | _] -> binary:part(Line, 0, min(byte_size(Line), 600));
        [] -> "none"
    end.

connected_pid(Rel) ->
    case net_kernel:connect_node(?NODE) of
        true ->
            OsPid = rpc(?NODE, os, getpid, []),
            note_running(Rel ++ " " ++ OsPid ++ "\n"),
            {ok, OsPid};
        _ ->
            {error, "started, but this node cannot connect to mongooseim@localhost"}
    end.

%% The shell script stops the node this file names if the run is interrupted.
note_running(Text) ->
    case os:getenv("MSM_E2E_RUNNING") of
        false -> ok;
        File when Text =:= "" -> _ = file:delete(File), ok;
        File -> ok = file:write_file(File, Text)
    end.

%% @doc `bin/mongooseimctl status': exit code and output.
-spec ctl_status(file:filename()) -> {integer(), string()}.
ctl_status(Rel) ->
    sh([Rel, "/bin/mongooseimctl status"], 60000).

%% @doc A call on the node; raises on a remote crash or when the node is unreachable.
-spec rpc(node(), module(), atom(), list()) -> term().
rpc(Node, M, F, A) ->
    erpc:call(Node, M, F, A, ?RPC_TIMEOUT_MS).

%% @doc Stops the node with its start script: `ok' when the script succeeds, the OS process
%% is gone, the node has left epmd and no crash dump was written; else `{fail, Why}'.
-spec stop(file:filename(), string()) -> ok | {fail, iodata()}.
stop(Rel, OsPid) ->
    {Code, Out} = sh([Rel, "/bin/mongooseim stop"], ?STOP_TIMEOUT_MS),
    Deadline = deadline(?STOP_TIMEOUT_MS),
    Gone = wait_until(fun() -> not os_process_alive(OsPid) andalso not is_registered() end,
                      Deadline),
    Gone andalso note_running(""),
    Dump = filelib:is_regular(filename:join([Rel, "log", "erl_crash.dump"])),
    if Code =/= 0 -> {fail, io_lib:format("bin/mongooseim stop exited ~p: ~ts", [Code, Out])};
       not Gone -> {fail, "the node's OS process or its epmd name is still there"};
       Dump -> {fail, "log/erl_crash.dump written"};
       true -> ok
    end.

%% @doc Stops the node if it runs (cleanup after a failure); never fails.
-spec kill(file:filename()) -> ok.
kill(Rel) ->
    case is_registered() of
        true -> _ = sh([Rel, "/bin/mongooseim stop"], ?STOP_TIMEOUT_MS), ok;
        false -> ok
    end.

%% @doc Whether a node named `mongooseim' is registered with the local epmd.
-spec is_registered() -> boolean().
is_registered() ->
    case net_adm:names() of
        {ok, Names} -> lists:keymember("mongooseim", 1, Names);
        {error, _} -> false
    end.

%% A zombie (exited, not yet reaped by its parent) counts as gone.
os_process_alive(OsPid) ->
    case file:read_file("/proc/" ++ OsPid ++ "/stat") of
        {ok, Stat} ->
            [_, AfterName] = string:split(Stat, ") ", trailing),
            not lists:member(binary:first(AfterName), [$Z, $X]);
        {error, _} ->
            false
    end.

%% @doc The lines of the node's text log (`log/mongooseim.log.N', oldest file first).
-spec log_lines(file:filename()) -> [binary()].
log_lines(Rel) ->
    Files = filelib:wildcard(filename:join([Rel, "log", "mongooseim.log.[0-9]*"])),
    Sorted = lists:sort(fun(A, B) -> suffix(A) =< suffix(B) end, Files),
    lists:append([begin
                      {ok, Bin} = file:read_file(F),
                      [L || L <- binary:split(Bin, <<"\n">>, [global]), L =/= <<>>]
                  end || F <- Sorted]).

suffix(File) ->
    list_to_integer(lists:last(string:split(File, ".", trailing))).

%% @doc Where both services write the last report: `system_metrics_report.json' in the log
%% directory.
-spec report_file(file:filename()) -> file:filename().
report_file(Rel) ->
    filename:join([Rel, "log", "system_metrics_report.json"]).

%% @doc Runs a shell command with its output in a file (a daemon started by the command
%% keeps no pipe of ours open); returns the exit code and the output.
-spec sh(iodata(), pos_integer()) -> {integer() | timeout, string()}.
sh(Cmd, Timeout) ->
    Out = filename:join(os:getenv("MSM_E2E_TMP", "/tmp"),
                        "msm_e2e_sh_" ++ integer_to_list(erlang:unique_integer([positive]))),
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", lists:flatten(io_lib:format("~ts > '~ts' 2>&1 < /dev/null",
                                                                [Cmd, Out]))]},
                      exit_status, binary]),
    Code = receive {Port, {exit_status, C}} -> C
           after Timeout -> catch port_close(Port), timeout
           end,
    Text = case file:read_file(Out) of
               {ok, B} -> unicode:characters_to_list(B);
               {error, _} -> ""
           end,
    _ = file:delete(Out),
    {Code, Text}.

deadline(Ms) ->
    erlang:monotonic_time(millisecond) + Ms.

wait_until(Pred, Deadline) ->
    case Pred() of
        true -> true;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> false;
                false -> timer:sleep(200), wait_until(Pred, Deadline)
            end
    end.
