%%% @doc One report: collect the node's facts, build the events (engine), write the report
%%% file, send (engine, asynchronous) and wait for the engine's answer; then what its outcome
%%% means for the service, failures logged once per streak.
%%%
%%% A scheduled report runs in a process linked to the service (`start/1'), which tells the
%%% service `{job_sending, Pid, Ref}' once the engine has accepted the send (so that the
%%% service can cancel it) and `{job_done, Pid, outcome()}' at the end. `preview/1' and
%%% `validate/1' run a report in the caller, sending nothing or only to GA4's validation
%%% server, and touch neither the report file nor the service's state.
-module(mongoose_system_metrics_report).

-include_lib("kernel/include/logger.hrl").

-export([start/1, cancel/2, preview/1, validate/1]).
-export([healthy/0, outcome/2, failed/4, safe_reason/1]).

-export_type([context/0, outcome/0, health/0, last_error/0, preview/0]).

-type context() :: #{opts := mongoose_system_metrics_options:options(),
                     tracking_ids := [#{id := binary(), secret := binary()}],
                     client_id := binary() | undefined,
                     prev_counts := mongoose_system_metrics_collector:stanza_counts() | undefined,
                     mode := collect | validate}.
-type send_result() :: {ok, [mongoose_system_metrics_nif:tracking_result()]} | {error, term()}.
-type outcome() :: #{build => {error, term()},
                     collect_failures => [mongoose_system_metrics_collector:failure()],
                     file => ok | {error, term()},
                     counts => mongoose_system_metrics_collector:stanza_counts() | undefined,
                     client_id => binary(),
                     send => no_tracking_id | send_result()}.
-type last_error() :: undefined | #{at := integer(), kind := atom(), reason := term()}.
%% The kinds of step failing now (each logged once per streak) and the last error.
-type health() :: #{failing := #{atom() => true}, last_error := last_error()}.
-type preview() :: #{node_info := mongoose_system_metrics_nif:node_info(),
                     events := [mongoose_system_metrics_nif:event()],
                     requests := [mongoose_system_metrics_nif:request()],
                     report_file := string()}.

%%====================================================================
%% Running a report
%%====================================================================

%% @doc Starts a scheduled report in a process linked to the caller (the service).
-spec start(context()) -> pid().
start(Ctx) ->
    Service = self(),
    spawn_link(fun() -> run(Service, Ctx) end).

%% Whatever fails inside (a NIF call included) ends the job with a reason that carries no
%% term of its work: the options hold the api_secret, and an exception's stack frames hold
%% the arguments of the calls. `exit/1' (not an error) so that no crash report is printed.
run(Service, Ctx) ->
    try run_job(Service, Ctx)
    catch Class:Reason:Stack -> exit({report_job_crashed, Class, safe_reason(Reason),
                                      safe_stack(Stack)})
    end.

run_job(Service, Ctx) ->
    {Info, Failures} = collect(Ctx),
    Collected = #{collect_failures => Failures,
                  counts => maps:get(stanza_counts, Info, undefined)},
    Service ! {job_done, self(), report(Service, Ctx, Info, Collected)}.

%% With a tracking id and a client id, the events are built and sent in one engine call;
%% otherwise they are only built. Either way the report file gets them.
report(Service, #{tracking_ids := [_ | _], client_id := Known} = Ctx, Info, Collected) ->
    case mongoose_system_metrics_cluster:client_id(Known) of
        {ok, ClientId} ->
            case mongoose_system_metrics_nif:build_and_send(Info, send_opts(Ctx, ClientId)) of
                {ok, Events, Ref} ->
                    Service ! {job_sending, self(), Ref},
                    Outcome = Collected#{file => mongoose_system_metrics_file:save(Events),
                                         client_id => ClientId},
                    Outcome#{send => wait_sent(Ref)};
                {error, {invalid_input, [node_info | Path], Why}} ->
                    #{build => {error, {build_report, {invalid_input, Path, Why}}}};
                {error, _} = Err ->
                    build_only(Info, Collected#{client_id => ClientId, send => Err})
            end;
        {error, Reason} ->
            build_only(Info, Collected#{send => {error, {client_id, Reason}}})
    end;
report(_Service, _Ctx, Info, Collected) ->
    build_only(Info, Collected#{send => no_tracking_id}).

build_only(Info, Outcome) ->
    case build(Info) of
        {ok, Events} -> Outcome#{file => mongoose_system_metrics_file:save(Events)};
        {error, Reason} -> #{build => {error, Reason}}
    end.

%% @doc An exit reason that can be logged and kept in `status/0': a reason of this module's
%% own (already made safe), an atom, or only the tag of a tagged tuple; every other term
%% (which could hold the options and so the api_secret) is left out.
-spec safe_reason(term()) -> term().
safe_reason({report_job_crashed, Class, R, Stack}) when is_atom(Class), is_atom(R) orelse
                                                        is_tuple(R), is_list(Stack) ->
    {report_job_crashed, Class, safe_reason(R), safe_stack(Stack)};
safe_reason(R) when is_atom(R) -> R;
safe_reason(R) when is_tuple(R), tuple_size(R) > 0, is_atom(element(1, R)) ->
    {element(1, R), '...'};
safe_reason(_) -> '...'.

%% Stack frames with arities only (never arguments) and the file and line.
safe_stack(Stack) when is_list(Stack) ->
    [safe_frame(F) || F <- Stack];
safe_stack(_) ->
    [].

safe_frame({M, F, Args, Loc}) when is_atom(M), is_atom(F) ->
    Arity = if is_list(Args) -> length(Args); is_integer(Args) -> Args; true -> 0 end,
    {M, F, Arity, [{K, V} || {K, V} <- safe_location(Loc),
                             (K =:= file andalso is_list(V)) orelse
                                 (K =:= line andalso is_integer(V))]};
safe_frame(_) ->
    '...'.

safe_location(Loc) when is_list(Loc) -> [KV || {_, _} = KV <- Loc];
safe_location(_) -> [].

%% @doc Stops a report and cancels its send, if it started one (`SendRef', or the one the
%% report has just told the caller about).
-spec cancel(pid(), reference() | undefined) -> ok.
cancel(Pid, SendRef) ->
    unlink(Pid),
    exit(Pid, kill),
    Ref = receive {job_sending, Pid, R} -> R after 0 -> SendRef end,
    case Ref of
        undefined -> ok;
        _ -> _ = mongoose_system_metrics_nif:cancel(Ref), ok
    end.

%% @doc What the report would contain and the exact requests it would make (secrets
%% masked), sending and writing nothing.
-spec preview(context()) -> {ok, preview()} | {error, term()}.
preview(#{client_id := Known} = Ctx) ->
    case collect_and_build(Ctx) of
        {ok, Info, Events, _Failures} ->
            Requests = case maps:get(tracking_ids, Ctx) of
                           [] -> {ok, []};
                           _ ->
                               ClientId = mongoose_system_metrics_cluster:known_client_id(Known),
                               mongoose_system_metrics_nif:plan_requests(
                                 Events, send_opts(Ctx, ClientId))
                       end,
            case Requests of
                {ok, Reqs} ->
                    {ok, #{node_info => Info, events => Events, requests => Reqs,
                           report_file => mongoose_system_metrics_file:location()}};
                {error, _} = Err -> Err
            end;
        {error, _} = Err -> Err
    end.

%% @doc Sends the report to GA4's validation server and returns its answer per tracking id.
-spec validate(context()) -> send_result().
validate(#{tracking_ids := []}) ->
    {error, no_tracking_id};
validate(#{client_id := Known} = Ctx) ->
    case collect_and_build(Ctx) of
        {ok, _Info, Events, _Failures} ->
            case mongoose_system_metrics_cluster:client_id(Known) of
                {ok, ClientId} ->
                    Opts = send_opts(Ctx#{mode => validate}, ClientId),
                    send_and_wait(Events, Opts);
                {error, Reason} ->
                    {error, {client_id, Reason}}
            end;
        {error, _} = Err -> Err
    end.

collect_and_build(Ctx) ->
    {Info, Failures} = collect(Ctx),
    case build(Info) of
        {ok, Events} -> {ok, Info, Events, Failures};
        {error, _} = Err -> Err
    end.

collect(#{opts := Opts, prev_counts := Prev}) ->
    {Info, Failures} = mongoose_system_metrics_collector:collect(Prev),
    case Opts of
        #{cluster_report := true} ->
            {mongoose_system_metrics_cluster:sum_stanza_counts(Info), Failures};
        _ ->
            {Info, Failures}
    end.

build(Info) ->
    case mongoose_system_metrics_nif:build_report(Info) of
        {ok, Events} -> {ok, Events};
        {error, Reason} -> {error, {build_report, Reason}}
    end.

%% Only what the configuration sets is passed: the engine has the defaults.
send_opts(#{opts := Opts, tracking_ids := Tids, mode := Mode}, ClientId) ->
    Url = case mongoose_system_metrics_options:endpoint(Opts) of
              default -> undefined;
              U -> U
          end,
    Optional = [{url, Url},
                {timeout_ms, maps:get(timeout, Opts, undefined)},
                {max_retries, maps:get(max_retries, Opts, undefined)},
                {cacertfile, maps:get(cacertfile, Opts, undefined)}],
    maps:merge(#{client_id => ClientId, tracking_ids => Tids, mode => Mode, notify => self()},
               maps:from_list([{K, V} || {K, V} <- Optional, V =/= undefined])).

send_and_wait(Events, Opts) ->
    case mongoose_system_metrics_nif:send_report(Events, Opts) of
        {ok, Ref} -> wait_sent(Ref);
        {error, _} = Err -> Err
    end.

wait_sent(Ref) ->
    receive
        {mongoose_system_metrics_sent, Ref, Results} -> {ok, Results}
    end.

%%====================================================================
%% Outcome
%%====================================================================

%% @doc Nothing failing, no error yet.
-spec healthy() -> health().
healthy() ->
    #{failing => #{}, last_error => undefined}.

%% @doc What a finished report means: each step's failure logged (once per streak) or its
%% recovery noted, and, when the report succeeded, its time (milliseconds since the epoch),
%% persisted for the schedule after a restart. A report with no tracking id to send to
%% succeeds whether its file could be written or not.
-spec outcome(outcome(), health()) -> {integer() | undefined, health()}.
outcome(Outcome, H0) ->
    case steps(Outcome, H0) of
        {succeeded, H} ->
            Now = erlang:system_time(millisecond),
            case mongoose_system_metrics_file:write_last_success(Now) of
                ok -> {Now, H};
                {error, Reason} -> {Now, failed(file, state_file_write_failed, Reason, H)}
            end;
        {failed, H} ->
            {undefined, H}
    end.

steps(Outcome, H0) ->
    H1 = case Outcome of
             #{build := {error, Reason}} -> failed(build, report_build_failed, Reason, H0);
             _ -> recovered(build, H0)
         end,
    H2 = case maps:get(collect_failures, Outcome, []) of
             [] -> recovered(collect, H1);
             Failures -> failed(collect, report_facts_missing, Failures, H1)
         end,
    H3 = case maps:get(file, Outcome, ok) of
             ok -> recovered(file, H2);
             {error, FileReason} -> failed(file, report_file_write_failed, FileReason, H2)
         end,
    case maps:get(send, Outcome, undefined) of
        undefined -> {failed, H3};
        no_tracking_id -> {succeeded, H3};
        {ok, Results} -> sent(Results, validation(Results, H3));
        {error, SendReason} -> {failed, failed(send, report_send_failed, SendReason, H3)}
    end.

sent(Results, H) ->
    case [{Tid, R} || #{tracking_id := Tid, result := {error, R}} <- Results] of
        [] ->
            {succeeded, recovered(send, H)};
        Errors ->
            case lists:keymember(tls_error, 2, Errors) of
                true -> {failed, failed(send, report_tls_verification_failed, Errors,
                                        tls_text(), H)};
                false -> {failed, failed(send, report_send_failed, Errors, H)}
            end
    end.

validation(Results, H) ->
    case [{Tid, Ms} || #{tracking_id := Tid, validation_messages := Ms} <- Results, Ms =/= []] of
        [] -> recovered(validation, H);
        Messages -> failed(validation, report_validation_messages, Messages, H)
    end.

%% @doc A step failed: logged when its streak starts (the streak ends at the step's next
%% success), and kept as the last error.
-spec failed(atom(), atom(), term(), health()) -> health().
failed(Kind, What, Reason, H) ->
    failed(Kind, What, Reason, <<"System metrics report failed; the service goes on and "
                                 "logs this again only after a success">>, H).

failed(Kind, What, Reason, Text, #{failing := Failing} = H) ->
    case maps:is_key(Kind, Failing) of
        true -> ok;
        false -> ?LOG_WARNING(#{what => What, reason => Reason, text => Text})
    end,
    H#{failing => Failing#{Kind => true},
       last_error => #{at => erlang:system_time(millisecond), kind => Kind, reason => Reason}}.

recovered(Kind, #{failing := Failing} = H) ->
    case maps:is_key(Kind, Failing) of
        true ->
            ?LOG_NOTICE(#{what => system_metrics_recovered, kind => Kind,
                          text => <<"System metrics reporting works again">>}),
            H#{failing => maps:remove(Kind, Failing)};
        false ->
            H
    end.

%% TLS verification failures get their own explicit line: the usual causes are a machine
%% without a CA bundle or an intercepting proxy, and the remedy is `cacertfile'.
tls_text() ->
    <<"System metrics could not verify the TLS certificate of the reporting endpoint (no CA "
      "bundle on this machine, or an intercepting proxy?). Set cacertfile in "
      "[services.service_mongoose_system_metrics] to a PEM file with the CA to trust; "
      "nothing was sent.">>.
