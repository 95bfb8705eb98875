%%% @doc The first report of a running node, sent to the loopback collector only.
%%%
%%% Both services are configured with a first report a day away (`initial_report'), so
%%% nothing can leave the node before the collector's URL is set. The URL is set as
%%% MongooseIM's own tests set it, `mongoose_config:set_opt(google_analytics_url, Url)' on
%%% the running node: MongooseIM's service reads it at each report, and so does this
%%% project's service when its section has no `url'. Then the first report is started the
%%% way each service's own timer would start it:
%%% <ul>
%%% <li>MongooseIM's service: its `spawn_reporter' message;</li>
%%% <li>this project's service: the `{timeout, Timer, tick}' message of the timer it armed
%%%     for the first report (found in its state, the one running timer there).</li>
%%% </ul>
-module(msm_e2e_report).

-export([set_url/2, quiet/3, trigger/2, wait_done/3]).

-define(SERVICE, service_mongoose_system_metrics).
-define(DAY_MS, 86400000).
-define(REPORT_TIMEOUT_MS, 60000).

-type kind() :: mongooseim | plugin.
-export_type([kind/0]).

%% @doc Points the node's `google_analytics_url' at the collector; `ok' once the node
%% answers it back.
-spec set_url(node(), string()) -> ok | {fail, iodata()}.
set_url(Node, Url) ->
    ok = msm_e2e_node:rpc(Node, mongoose_config, set_opt, [google_analytics_url, Url]),
    case msm_e2e_node:rpc(Node, mongoose_config, get_opt, [google_analytics_url]) of
        Url -> ok;
        Other -> {fail, io_lib:format("google_analytics_url reads back as ~0p", [Other])}
    end.

%% @doc Nothing reported yet, and nothing due for the next 23 hours: no report file, and for
%% this project's service no attempt in its status and the first report a day away.
-spec quiet(kind(), node(), file:filename()) -> ok | {ok, iodata()} | {fail, iodata()}.
quiet(Kind, Node, Rel) ->
    case filelib:is_regular(msm_e2e_node:report_file(Rel)) of
        true -> {fail, "a report file exists already"};
        false -> quiet_service(Kind, Node)
    end.

quiet_service(mongooseim, Node) ->
    Opts = msm_e2e_node:rpc(Node, mongoose_config, get_opt, [[services, ?SERVICE]]),
    case {msm_e2e_node:rpc(Node, erlang, whereis, [?SERVICE]), Opts} of
        {Pid, #{initial_report := ?DAY_MS}} when is_pid(Pid) ->
            {ok, "running, its first report a day after the start (initial_report)"};
        Other ->
            {fail, io_lib:format("MongooseIM's service and options: ~0p", [Other])}
    end;
quiet_service(plugin, Node) ->
    Now = msm_e2e_node:rpc(Node, erlang, system_time, [millisecond]),
    case msm_e2e_node:rpc(Node, ?SERVICE, status, []) of
        #{running := true, last_attempt := undefined, next_report_due := Due}
          when is_integer(Due), Due > Now + ?DAY_MS - 3600000 ->
            {ok, io_lib:format("status/0: no attempt, next report due in ~b h",
                               [(Due - Now) div 3600000])};
        Status ->
            {fail, io_lib:format("status/0: ~0p", [Status])}
    end.

%% @doc Starts the first report now.
-spec trigger(kind(), node()) -> ok | {fail, iodata()}.
trigger(mongooseim, Node) ->
    msm_e2e_node:rpc(Node, erlang, send, [?SERVICE, spawn_reporter]),
    ok;
trigger(plugin, Node) ->
    State = msm_e2e_node:rpc(Node, sys, get_state, [?SERVICE]),
    Timers = [R || R <- tuple_to_list(State), is_reference(R),
                   is_integer(msm_e2e_node:rpc(Node, erlang, read_timer, [R]))],
    case Timers of
        [Timer] ->
            msm_e2e_node:rpc(Node, erlang, send, [?SERVICE, {timeout, Timer, tick}]),
            ok;
        _ ->
            {fail, io_lib:format("expected one running timer in the service's state, "
                                 "found ~b", [length(Timers)])}
    end.

%% @doc Waits until the report is over: MongooseIM's service writes its file after sending
%% to every tracking id; this project's service says so in `status/0'.
-spec wait_done(kind(), node(), file:filename()) -> ok | {fail, iodata()}.
wait_done(Kind, Node, Rel) ->
    Deadline = erlang:monotonic_time(millisecond) + ?REPORT_TIMEOUT_MS,
    wait_done(Kind, Node, Rel, Deadline).

wait_done(Kind, Node, Rel, Deadline) ->
    case done(Kind, Node, Rel) of
        true -> ok;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> {fail, "the report did not end in time"};
                false -> timer:sleep(200), wait_done(Kind, Node, Rel, Deadline)
            end
    end.

done(mongooseim, Node, Rel) ->
    %% The file is written after the last send; the reporter process is then gone from
    %% the service's state.
    filelib:is_regular(msm_e2e_node:report_file(Rel)) andalso
        [] =:= [P || P <- tuple_to_list(msm_e2e_node:rpc(Node, sys, get_state, [?SERVICE])),
                     is_pid(P)];
done(plugin, Node, _Rel) ->
    case msm_e2e_node:rpc(Node, ?SERVICE, status, []) of
        #{last_attempt := A, in_flight := false} when is_integer(A) -> true;
        _ -> false
    end.
