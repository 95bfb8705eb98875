%%% @doc MongooseIM's anonymous system-metrics service, reporting through the Rust engine.
%%%
%%% Same name, callbacks and options as MongooseIM 6.x's own service (`start/1', `stop/0',
%%% `config_spec/0' of the `mongoose_service' behaviour, and `verify_if_configured/0'), plus
%%% `preview/0', `status/0' and `validate_now/0'. See the contract (section "Service") for
%%% every rule; in short:
%%% <ul>
%%% <li>Kill switches, checked before anything is collected: `report => false' (silent),
%%%     `MONGOOSEIM_SYSTEM_METRICS' in {off, 0, false} (any case), `DO_NOT_TRACK' set to
%%%     anything but "" or "0" (one notice naming it).</li>
%%% <li>With `report' unset, one consent warning at start.</li>
%%% <li>Without the engine (NIF not loaded): one warning, then the service stays idle.</li>
%%% <li>First report after `initial_report', or later when the persisted last success says
%%%     so, then at a fixed rate of `periodic_report' with up to 10% jitter; a tick that finds
%%%     a report in flight is skipped.</li>
%%% <li>Each report runs in a linked job process: collect, build (engine), write the file,
%%%     send (engine, asynchronous). Stopping the service cancels the send at once.</li>
%%% <li>`cluster_report => true': one reporter per cluster (a `global' name), with the
%%%     stanza counts of every node running the service summed.</li>
%%% </ul>
%%% Secrets (tracking id secrets) never reach logs, `status/0', the report file or state
%%% printouts (`format_status/1,2').
-module(service_mongoose_system_metrics).

%% MongooseIM's service behaviour (start/1, stop/0, config_spec/0), as MongooseIM's own
%% service declares it; outside MongooseIM the compiler notes that it cannot find it, and
%% dialyzer is told not to look for it.
-behaviour(mongoose_service).
-dialyzer(no_undefined_callbacks).
-behaviour(gen_server).

-include_lib("kernel/include/logger.hrl").

%% mongoose_service callbacks and MongooseIM's API
-export([start/1, stop/0, config_spec/0, verify_if_configured/0]).
%% Added API
-export([preview/0, status/0, validate_now/0]).
%% Internal: supervisor start
-export([start_link/1]).
%% gen_server
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2,
         format_status/1, format_status/2]).

-export_type([options/0, tracking_id/0, status/0, kill_switch/0, preview/0]).

-type options() :: mongoose_system_metrics_options:options().
-type tracking_id() :: mongoose_system_metrics_options:tracking_id().
-type kill_switch() :: mongoose_system_metrics_options:kill_switch().
-type hidden_options() :: fun(() -> options()).
-type millis() :: integer().
-type status() :: #{running := boolean(),
                    kill_switch := kill_switch(),
                    last_attempt := millis() | undefined,
                    last_success := millis() | undefined,
                    last_error := undefined | #{at := millis(), kind := atom(), reason := term()},
                    next_report_due := millis() | undefined,
                    in_flight => boolean(),
                    role => mongoose_system_metrics_cluster:role(),
                    client_id => binary() | undefined,
                    tracking_ids => [binary()],
                    report_file := string()}.
-type preview() :: #{node_info := mongoose_system_metrics_nif:node_info(),
                     events := [mongoose_system_metrics_nif:event()],
                     requests := [mongoose_system_metrics_nif:request()],
                     report_file := string()}.

-define(SUP, mongoose_system_metrics_sup).

-record(job, {pid :: pid(),
              send_ref :: reference() | undefined,
              started :: millis()}).

-record(state, {opts :: options(),
                tracking_ids :: [#{id := binary(), secret := binary()}],
                kill_switch = none :: kill_switch(),
                base :: integer(),                    % monotonic ms of the nominal next tick
                timer :: reference() | undefined,
                next_due :: millis() | undefined,     % system time of the next tick
                job :: #job{} | undefined,
                client_id :: binary() | undefined,
                prev_counts :: mongoose_system_metrics_collector:stanza_counts() | undefined,
                last_attempt :: millis() | undefined,
                last_success :: millis() | undefined,
                last_error :: undefined | #{at := millis(), kind := atom(), reason := term()},
                failing = #{} :: #{atom() => true},
                role = every_node :: mongoose_system_metrics_cluster:role()}).

%%====================================================================
%% mongoose_service callbacks
%%====================================================================

%% @doc Starts the service: under MongooseIM's `ejabberd_sup' inside MongooseIM, under this
%% application's supervisor otherwise. `{ok, undefined}' when a kill switch is in force or the
%% engine (the NIF) could not be loaded.
-spec start(options()) -> {ok, pid() | undefined}.
start(Opts) ->
    Spec = #{id => ?MODULE,
             start => {?MODULE, start_link, [hidden(Opts)]},
             restart => temporary,
             shutdown => 5000,
             type => worker,
             modules => [?MODULE]},
    case mongoose_system_metrics_mim:in_mongooseim() of
        true ->
            {ok, {ok, _} = Res} = mongoose_system_metrics_mim:sup_start_child(Spec),
            Res;
        false ->
            {ok, _} = application:ensure_all_started(mongoose_system_metrics),
            case supervisor:start_child(?SUP, Spec) of
                {ok, _} = Res -> Res;
                {error, Reason} -> error({start_child_failed, Reason})
            end
    end.

%% @doc Stops the service; a send in flight is cancelled at once.
-spec stop() -> ok.
stop() ->
    case mongoose_system_metrics_mim:in_mongooseim() of
        true ->
            _ = mongoose_system_metrics_mim:sup_stop_child(?MODULE),
            ok;
        false ->
            case whereis(?SUP) of
                undefined -> ok;
                _ ->
                    _ = supervisor:terminate_child(?SUP, ?MODULE),
                    _ = supervisor:delete_child(?SUP, ?MODULE),
                    ok
            end
    end.

%% @doc The TOML section `[services.service_mongoose_system_metrics]' for MongooseIM's
%% config parser (MongooseIM 6.x records), processed alike by the parsers of 6.1.0 to 6.8.0.
-spec config_spec() -> mongoose_system_metrics_options:config_spec().
config_spec() ->
    mongoose_system_metrics_options:config_spec().

%% @doc `ok' when the service is configured; otherwise logs how reporting was switched off
%% (and how to silence that) and returns `ignore'.
-spec verify_if_configured() -> ok | ignore.
verify_if_configured() ->
    Configured = case mongoose_system_metrics_mim:service_is_loaded(?MODULE) of
                     {ok, Loaded} -> Loaded =:= true;
                     unavailable -> is_pid(whereis(?MODULE))
                 end,
    case Configured of
        true -> ok;
        false ->
            ?LOG_WARNING(#{what => system_metrics_disabled,
                           text => mongoose_system_metrics_options:removed_from_config_text()}),
            ignore
    end.

%%====================================================================
%% Added API
%%====================================================================

%% @doc What the next report would contain and the exact requests it would make (secrets
%% masked), without sending or writing anything.
-spec preview() -> {ok, preview()} | {error, term()}.
preview() ->
    case context() of
        {ok, Ctx} ->
            case collect_and_build(Ctx) of
                {ok, Info, Events, _Failures} ->
                    Requests = case maps:get(tracking_ids, Ctx) of
                                   [] -> {ok, []};
                                   _ -> mongoose_system_metrics_nif:plan_requests(
                                          Events, send_opts(Ctx#{client_id => known_client_id(Ctx)},
                                                            self()))
                               end,
                    case Requests of
                        {ok, Reqs} ->
                            {ok, #{node_info => Info, events => Events, requests => Reqs,
                                   report_file => mongoose_system_metrics_file:location()}};
                        {error, _} = Err -> Err
                    end;
                {error, _} = Err -> Err
            end;
        {error, _} = Err -> Err
    end.

%% @doc Last attempt, last success, last error, when the next report is due and the kill
%% switch in force (times in milliseconds since the epoch).
-spec status() -> status().
status() ->
    try gen_server:call(?MODULE, status, 5000)
    catch exit:_ -> not_running_status()
    end.

%% @doc Sends the next report to GA4's validation server now (`/debug/mp/collect'), and
%% returns its answer per tracking id, `validation_messages' included. Touches neither the
%% schedule, the previous totals nor the report file.
-spec validate_now() -> {ok, [mongoose_system_metrics_nif:tracking_result()]} | {error, term()}.
validate_now() ->
    case context() of
        {ok, #{tracking_ids := []}} -> {error, no_tracking_id};
        {ok, Ctx} ->
            case collect_and_build(Ctx) of
                {ok, _Info, Events, _Failures} ->
                    case resolve_client_id(Ctx) of
                        {ok, ClientId} ->
                            Opts = send_opts(Ctx#{mode => validate, client_id => ClientId}, self()),
                            send_and_wait(Events, Opts, fun(_) -> ok end);
                        {error, Reason} ->
                            {error, {client_id, Reason}}
                    end;
                {error, _} = Err -> Err
            end;
        {error, _} = Err -> Err
    end.

%%====================================================================
%% Internal API
%%====================================================================

%% @private
%% The options may come wrapped in a fun (`start/1' does so): supervisors print a child's
%% start arguments in their reports, and the options hold the tracking id's secret.
-spec start_link(options() | hidden_options()) -> {ok, pid()} | ignore | {error, term()}.
start_link(Opts) when is_map(Opts) ->
    start_link(hidden(Opts));
start_link(Hidden) ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, Hidden, []).

%% Options in a closure: printed as `#Fun<...>', never showing the secret.
-spec hidden(options()) -> hidden_options().
hidden(Opts) ->
    fun() -> Opts end.

%%====================================================================
%% gen_server
%%====================================================================

%% @private
-spec init(options() | hidden_options()) -> {ok, #state{}} | ignore | {stop, term()}.
init(Hidden) when is_function(Hidden, 0) ->
    init(Hidden());
init(Opts0) ->
    try mongoose_system_metrics_options:normalize(Opts0) of
        Opts ->
            case mongoose_system_metrics_options:kill_switch(Opts) of
                none ->
                    application:set_env(mongoose_system_metrics, kill_switch, none),
                    case mongoose_system_metrics_nif:load_error() of
                        none ->
                            process_flag(trap_exit, true),
                            mongoose_system_metrics_options:log_consent(Opts),
                            Tids = mongoose_system_metrics_options:tracking_ids(Opts),
                            {ok, schedule_first(#state{opts = Opts,
                                                       tracking_ids = Tids,
                                                       base = 0})};
                        Reason ->
                            mongoose_system_metrics_options:log_engine_unavailable(Reason),
                            ignore
                    end;
                Switch ->
                    application:set_env(mongoose_system_metrics, kill_switch, Switch),
                    mongoose_system_metrics_options:log_kill_switch(Switch),
                    ignore
            end
    catch
        error:{bad_option, Key} -> {stop, {bad_option, Key}}
    end.

%% @private
handle_call(status, _From, State) ->
    {reply, status(State), State};
handle_call(context, _From, #state{kill_switch = none} = State) ->
    {reply, {ok, context(State)}, State};
handle_call(context, _From, #state{kill_switch = Switch} = State) ->
    {reply, {error, {kill_switch, Switch}}, State};
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_call}, State}.

%% @private
handle_cast(_Msg, State) ->
    {noreply, State}.

%% @private
handle_info({timeout, Timer, tick}, #state{timer = Timer} = State) ->
    {noreply, tick(schedule_next(State))};
handle_info({job_sending, Pid, Ref}, #state{job = #job{pid = Pid} = Job} = State) ->
    {noreply, State#state{job = Job#job{send_ref = Ref}}};
handle_info({job_done, Pid, Outcome}, #state{job = #job{pid = Pid}} = State) ->
    {noreply, job_done(Outcome, State#state{job = undefined})};
handle_info({'EXIT', Pid, Reason}, #state{job = #job{pid = Pid}} = State) ->
    %% The job ended without reporting its outcome.
    State1 = failure(job, report_job_failed, Reason, State#state{job = undefined}),
    {noreply, State1};
handle_info({global_name_conflict, Name}, State) ->
    case mongoose_system_metrics_cluster:is_reporter_name(Name) of
        true -> {noreply, State#state{role = standby}};
        false -> {noreply, State}
    end;
handle_info(_Msg, State) ->
    {noreply, State}.

%% @private Cancels the send in flight, if any, and stops the job.
terminate(_Reason, #state{job = Job}) ->
    cancel_job(Job),
    ok.

%% @private Masks the tracking id secrets in state printouts (OTP >= 25).
-spec format_status(gen_server:format_status()) -> gen_server:format_status().
format_status(Status) ->
    maps:map(fun(state, State) -> mask_state(State);
                (_, V) -> V
             end, Status).

%% @private Masks the tracking id secrets in state printouts (OTP < 25).
-spec format_status(normal | terminate, list()) -> term().
format_status(_Opt, [_PDict, State]) ->
    [{data, [{"State", mask_state(State)}]}].

%%====================================================================
%% Schedule
%%====================================================================

%% First report after initial_report, or later when the last success says so.
schedule_first(#state{opts = #{initial_report := Initial, periodic_report := Period}} = S) ->
    LastSuccess = case mongoose_system_metrics_file:read_last_success() of
                      {ok, Ms} -> Ms;
                      error -> undefined
                  end,
    Delay = case LastSuccess of
                undefined -> Initial;
                _ -> max(Initial, min(Period, LastSuccess + Period - now_ms()))
            end,
    log_if_periodic_report_off(Period, Delay),
    arm(erlang:monotonic_time(millisecond) + Delay, 0, S#state{last_success = LastSuccess}).

%% periodic_report = 0: the initial report is the only one of this run.
schedule_next(#state{opts = #{periodic_report := 0}} = S) ->
    S#state{timer = undefined, next_due = undefined};

%% Fixed rate: the nominal tick moves by one period (skipping missed ones), then up to 10%
%% jitter is added to when the timer fires.
schedule_next(#state{base = Base, opts = #{periodic_report := Period}} = S) ->
    Now = erlang:monotonic_time(millisecond),
    Next = case Base + Period of
               N when N > Now -> N;
               N -> N + ((Now - N) div Period + 1) * Period
           end,
    arm(Next, rand:uniform(Period div 10 + 1) - 1, S).

%% Once per start, so that a zero set on purpose is visible and one set by mistake is found.
log_if_periodic_report_off(0, Delay) ->
    ?LOG_NOTICE(#{what => system_metrics_periodic_report_off, initial_report_in_ms => Delay,
                  text => <<"periodic_report is 0: only the initial report is sent, "
                            "no periodic reports follow">>});
log_if_periodic_report_off(_, _) ->
    ok.

arm(Base, Jitter, S) ->
    Delay = max(0, Base + Jitter - erlang:monotonic_time(millisecond)),
    Timer = erlang:start_timer(Delay, self(), tick),
    S#state{base = Base, timer = Timer, next_due = now_ms() + Delay}.

tick(#state{job = #job{}} = S) ->
    ?LOG_INFO(#{what => system_metrics_report_skipped,
                text => <<"The previous report is still in flight: this one is skipped">>}),
    S;
tick(#state{opts = Opts} = S) ->
    case mongoose_system_metrics_options:env_kill_switch() of
        none ->
            S1 = S#state{kill_switch = none},
            case mongoose_system_metrics_cluster:role(Opts) of
                standby -> S1#state{role = standby};
                Role -> start_job(S1#state{role = Role})
            end;
        Switch when Switch =:= S#state.kill_switch ->
            S;
        Switch ->
            mongoose_system_metrics_options:log_kill_switch(Switch),
            S#state{kill_switch = Switch}
    end.

%%====================================================================
%% Report job
%%====================================================================

start_job(S) ->
    Ctx = context(S),
    Service = self(),
    Pid = spawn_link(fun() -> run_job(Service, Ctx) end),
    Now = now_ms(),
    S#state{job = #job{pid = Pid, started = Now}, last_attempt = Now}.

context(#state{opts = Opts, tracking_ids = Tids, client_id = ClientId, prev_counts = Prev}) ->
    #{opts => Opts, tracking_ids => Tids, client_id => ClientId, prev_counts => Prev,
      mode => case maps:get(validate, Opts, false) of true -> validate; false -> collect end}.

context() ->
    try gen_server:call(?MODULE, context, 5000)
    catch exit:{noproc, _} -> {error, not_running};
          exit:{timeout, _} -> {error, timeout}
    end.

%% The job: collect, build, write the file, send, wait for the engine's answer.
run_job(Service, Ctx) ->
    Outcome0 = #{},
    Outcome = case collect_and_build(Ctx) of
                  {ok, Info, Events, Failures} ->
                      FileResult = mongoose_system_metrics_file:save(Events),
                      O1 = Outcome0#{collect_failures => Failures, file => FileResult,
                                     counts => maps:get(stanza_counts, Info, undefined)},
                      case maps:get(tracking_ids, Ctx) of
                          [] ->
                              O1#{send => no_tracking_id};
                          _ ->
                              case resolve_client_id(Ctx) of
                                  {ok, ClientId} ->
                                      Notify = fun(Ref) -> Service ! {job_sending, self(), Ref} end,
                                      Opts = send_opts(Ctx#{client_id => ClientId}, self()),
                                      O1#{client_id => ClientId,
                                          send => send_and_wait(Events, Opts, Notify)};
                                  {error, Reason} ->
                                      O1#{send => {error, {client_id, Reason}}}
                              end
                      end;
                  {error, Reason} ->
                      Outcome0#{build => {error, Reason}}
              end,
    Service ! {job_done, self(), Outcome}.

collect_and_build(#{opts := Opts, prev_counts := Prev}) ->
    {Info0, Failures} = mongoose_system_metrics_collector:collect(Prev),
    Info = case Opts of
               #{cluster_report := true} -> mongoose_system_metrics_cluster:sum_stanza_counts(Info0);
               _ -> Info0
           end,
    case mongoose_system_metrics_nif:build_report(Info) of
        {ok, Events} -> {ok, Info, Events, Failures};
        {error, Reason} -> {error, {build_report, Reason}}
    end.

%% Only what the configuration sets is passed: the engine has the defaults.
send_opts(#{opts := Opts, tracking_ids := Tids, mode := Mode, client_id := ClientId}, Notify) ->
    Base = #{client_id => ClientId,
             tracking_ids => Tids,
             mode => Mode,
             notify => Notify},
    Url = case mongoose_system_metrics_options:endpoint(Opts) of
              default -> undefined;
              U -> U
          end,
    Optional = [{url, Url},
                {timeout_ms, maps:get(timeout, Opts, undefined)},
                {max_retries, maps:get(max_retries, Opts, undefined)},
                {cacertfile, maps:get(cacertfile, Opts, undefined)}],
    lists:foldl(fun({_, undefined}, Acc) -> Acc;
                   ({K, V}, Acc) -> Acc#{K => V}
                end, Base, Optional).

send_and_wait(Events, Opts, Notify) ->
    case mongoose_system_metrics_nif:send_report(Events, Opts) of
        {ok, Ref} ->
            Notify(Ref),
            receive
                {mongoose_system_metrics_sent, Ref, Results} -> {ok, Results}
            end;
        {error, _} = Err ->
            Err
    end.

cancel_job(undefined) ->
    ok;
cancel_job(#job{pid = Pid, send_ref = Ref0}) ->
    unlink(Pid),
    exit(Pid, kill),
    %% The job may have started its send and told us just now.
    Ref = receive {job_sending, Pid, R} -> R after 0 -> Ref0 end,
    case Ref of
        undefined -> ok;
        _ -> _ = mongoose_system_metrics_nif:cancel(Ref), ok
    end.

job_done(Outcome, S0) ->
    S1 = case Outcome of
             #{client_id := Id} -> S0#state{client_id = Id};
             _ -> S0
         end,
    %% Increments count from the previous report collected, sent or not, as MongooseIM's.
    S1b = case Outcome of
              #{counts := Counts} -> S1#state{prev_counts = Counts};
              _ -> S1
          end,
    S2 = case Outcome of
             #{build := {error, Reason}} -> failure(build, report_build_failed, Reason, S1b);
             _ -> recovered(build, S1b)
         end,
    S3 = case maps:get(collect_failures, Outcome, []) of
             [] -> recovered(collect, S2);
             Failures -> failure(collect, report_facts_missing, Failures, S2)
         end,
    S4 = case maps:get(file, Outcome, ok) of
             ok -> recovered(file, S3);
             {error, FileReason} -> failure(file, report_file_write_failed, FileReason, S3)
         end,
    case maps:get(send, Outcome, undefined) of
        undefined -> S4;
        no_tracking_id -> succeeded(S4);
        {ok, Results} ->
            S5 = log_validation(Results, S4),
            case [{Tid, R} || #{tracking_id := Tid, result := {error, R}} <- Results] of
                [] -> succeeded(recovered(send, S5));
                Errors ->
                    case lists:keymember(tls_error, 2, Errors) of
                        true -> tls_failure(Errors, S5);
                        false -> failure(send, report_send_failed, Errors, S5)
                    end
            end;
        {error, Reason2} ->
            failure(send, report_send_failed, Reason2, S4)
    end.

succeeded(S) ->
    Now = now_ms(),
    S1 = case mongoose_system_metrics_file:write_last_success(Now) of
             ok -> S;
             {error, Reason} -> failure(file, state_file_write_failed, Reason, S)
         end,
    S1#state{last_success = Now}.

log_validation(Results, S) ->
    Messages = [{Tid, Ms} || #{tracking_id := Tid, validation_messages := Ms} <- Results, Ms =/= []],
    case Messages of
        [] -> recovered(validation, S);
        _ -> failure(validation, report_validation_messages, Messages, S)
    end.

%% Failures are logged once per streak; the streak ends at the next success of that kind.
failure(Kind, What, Reason, #state{failing = Failing} = S) ->
    case maps:is_key(Kind, Failing) of
        true -> ok;
        false ->
            ?LOG_WARNING(#{what => What, reason => Reason,
                           text => <<"System metrics report failed; the service goes on and "
                                     "logs this again only after a success">>})
    end,
    S#state{failing = Failing#{Kind => true},
            last_error = #{at => now_ms(), kind => Kind, reason => Reason}}.

%% TLS verification failures get their own single, explicit line: the usual causes are a
%% machine without a CA bundle or an intercepting proxy, and the remedy is `cacertfile'.
tls_failure(Errors, #state{failing = Failing} = S) ->
    case maps:is_key(send, Failing) of
        true -> ok;
        false ->
            ?LOG_WARNING(#{what => report_tls_verification_failed, reason => Errors,
                           text => <<"System metrics could not verify the TLS certificate of "
                                     "the reporting endpoint (no CA bundle on this machine, or "
                                     "an intercepting proxy?). Set cacertfile in "
                                     "[services.service_mongoose_system_metrics] to a PEM file "
                                     "with the CA to trust; nothing was sent.">>})
    end,
    S#state{failing = Failing#{send => true},
            last_error = #{at => now_ms(), kind => send, reason => Errors}}.

recovered(Kind, #state{failing = Failing} = S) ->
    case maps:is_key(Kind, Failing) of
        true ->
            ?LOG_NOTICE(#{what => system_metrics_recovered, kind => Kind,
                          text => <<"System metrics reporting works again">>}),
            S#state{failing = maps:remove(Kind, Failing)};
        false ->
            S
    end.

%% The client id is kept in the context once a report has resolved it.
resolve_client_id(Ctx) ->
    mongoose_system_metrics_cluster:client_id(maps:get(client_id, Ctx, undefined)).

known_client_id(Ctx) ->
    mongoose_system_metrics_cluster:known_client_id(maps:get(client_id, Ctx, undefined)).

%%====================================================================
%% Status and printouts
%%====================================================================

status(#state{} = S) ->
    #{running => true,
      kill_switch => S#state.kill_switch,
      last_attempt => S#state.last_attempt,
      last_success => S#state.last_success,
      last_error => S#state.last_error,
      next_report_due => S#state.next_due,
      in_flight => S#state.job =/= undefined,
      role => S#state.role,
      client_id => S#state.client_id,
      tracking_ids => [Id || #{id := Id} <- S#state.tracking_ids],
      report_file => mongoose_system_metrics_file:location()}.

not_running_status() ->
    Switch = case application:get_env(mongoose_system_metrics, kill_switch) of
                 {ok, report_false} -> report_false;
                 _ -> mongoose_system_metrics_options:env_kill_switch()
             end,
    LastSuccess = case mongoose_system_metrics_file:read_last_success() of
                      {ok, Ms} -> Ms;
                      error -> undefined
                  end,
    #{running => false, kill_switch => Switch, last_attempt => undefined,
      last_success => LastSuccess, last_error => undefined, next_report_due => undefined,
      report_file => mongoose_system_metrics_file:location()}.

mask_state(#state{opts = Opts, tracking_ids = Tids} = S) ->
    Masked = case Opts of
                 #{tracking_id := T} -> Opts#{tracking_id => T#{secret => "***"}};
                 _ -> Opts
             end,
    S#state{opts = Masked, tracking_ids = [T#{secret => <<"***">>} || T <- Tids]};
mask_state(Other) ->
    Other.

%%====================================================================
%% Helpers
%%====================================================================

now_ms() ->
    erlang:system_time(millisecond).
