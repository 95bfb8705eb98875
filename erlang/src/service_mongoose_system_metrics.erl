%%% @doc MongooseIM's anonymous system-metrics service, reporting through the Rust engine.
%%%
%%% Same name, callbacks and options as MongooseIM 6.x's own service (`start/1', `stop/0',
%%% `config_spec/0' of the `mongoose_service' behaviour, and `verify_if_configured/0'), plus
%%% `preview/0', `status/0' and `validate_now/0'; the options are described in the README
%%% ("Configuration"). This module is the service's process and its timers; the rest is in:
%%% <ul>
%%% <li>`mongoose_system_metrics_options': the config spec, defaults, tracking ids,
%%%     endpoint, kill switches and what the operator is told;</li>
%%% <li>`mongoose_system_metrics_schedule': when reports are due;</li>
%%% <li>`mongoose_system_metrics_report': one report (collect, build, write the file, send)
%%%     in a linked process, cancelled at once when the service stops, and its outcome;</li>
%%% <li>`mongoose_system_metrics_cluster': the cluster's one reporter (`cluster_report'),
%%%     the stanza counts summed over the nodes, the client id.</li>
%%% </ul>
%%% Without the engine (NIF not loaded) the service logs one warning and stays idle. Tracking
%%% id secrets never reach logs, `status/0', the report file or state printouts
%%% (`format_status/1,2').
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
-type preview() :: mongoose_system_metrics_report:preview().
-type hidden_options() :: fun(() -> options()).
-type millis() :: integer().
-type status() :: #{running := boolean(),
                    kill_switch := kill_switch(),
                    last_attempt := millis() | undefined,
                    last_success := millis() | undefined,
                    last_error := mongoose_system_metrics_report:last_error(),
                    next_report_due := millis() | undefined,
                    in_flight => boolean(),
                    role => mongoose_system_metrics_cluster:role(),
                    client_id => binary() | undefined,
                    tracking_ids => [binary()],
                    report_file := string(),
                    version := binary()}.

-define(SUP, mongoose_system_metrics_sup).

-record(job, {pid :: pid(),
              send_ref :: reference() | undefined}).

-record(state, {opts :: options(),
                tracking_ids :: [#{id := binary(), secret := binary()}],
                kill_switch = none :: kill_switch(),
                base = 0 :: integer(),                % monotonic ms of the nominal next tick
                timer :: reference() | undefined,
                next_due :: millis() | undefined,     % system time of the next tick
                job :: #job{} | undefined,
                client_id :: binary() | undefined,
                prev_counts :: mongoose_system_metrics_collector:stanza_counts() | undefined,
                last_attempt :: millis() | undefined,
                last_success :: millis() | undefined,
                health = mongoose_system_metrics_report:healthy()
                    :: mongoose_system_metrics_report:health(),
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
        {ok, Ctx} -> mongoose_system_metrics_report:preview(Ctx);
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
        {ok, Ctx} -> mongoose_system_metrics_report:validate(Ctx);
        {error, _} = Err -> Err
    end.

%% What a report made now would start from (secrets included: for this node's processes).
context() ->
    try gen_server:call(?MODULE, context, 5000)
    catch exit:{noproc, _} -> {error, not_running};
          exit:{timeout, _} -> {error, timeout}
    end.

%%====================================================================
%% gen_server
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

%% @private
-spec init(options() | hidden_options()) -> {ok, #state{}} | ignore | {stop, term()}.
init(Hidden) when is_function(Hidden, 0) ->
    init(Hidden());
init(Opts0) ->
    try mongoose_system_metrics_options:normalize(Opts0) of
        Opts ->
            Switch = mongoose_system_metrics_options:kill_switch(Opts),
            application:set_env(mongoose_system_metrics, kill_switch, Switch),
            case {Switch, mongoose_system_metrics_nif:load_error()} of
                {none, none} ->
                    process_flag(trap_exit, true),
                    mongoose_system_metrics_options:log_consent(Opts),
                    Tids = mongoose_system_metrics_options:tracking_ids(Opts),
                    {ok, schedule_first(#state{opts = Opts, tracking_ids = Tids})};
                {none, Reason} ->
                    mongoose_system_metrics_options:log_engine_unavailable(Reason),
                    ignore;
                _ ->
                    mongoose_system_metrics_options:log_kill_switch(Switch),
                    ignore
            end
    catch
        error:{bad_option, Key} -> {stop, {bad_option, Key}}
    end.

%% @private
-spec handle_call(status | context | term(), gen_server:from(), #state{}) ->
          {reply, term(), #state{}}.
handle_call(status, _From, State) ->
    {reply, status(State), State};
handle_call(context, _From, #state{kill_switch = none} = State) ->
    {reply, {ok, context(State)}, State};
handle_call(context, _From, #state{kill_switch = Switch} = State) ->
    {reply, {error, {kill_switch, Switch}}, State};
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_call}, State}.

%% @private
-spec handle_cast(term(), #state{}) -> {noreply, #state{}}.
handle_cast(_Msg, State) ->
    {noreply, State}.

%% @private
-spec handle_info(term(), #state{}) -> {noreply, #state{}}.
handle_info({timeout, Timer, tick}, #state{timer = Timer} = State) ->
    {noreply, tick(schedule_next(State))};
handle_info({job_sending, Pid, Ref}, #state{job = #job{pid = Pid} = Job} = State) ->
    {noreply, State#state{job = Job#job{send_ref = Ref}}};
handle_info({job_done, Pid, Outcome}, #state{job = #job{pid = Pid}} = State) ->
    {noreply, job_done(Outcome, State#state{job = undefined})};
handle_info({'EXIT', Pid, Reason}, #state{job = #job{pid = Pid}, health = H} = State) ->
    %% The report ended without telling its outcome; only a reason safe to show (no term of
    %% the job, which could hold the api_secret) is logged and kept.
    H1 = mongoose_system_metrics_report:failed(job, report_job_failed,
                                               mongoose_system_metrics_report:safe_reason(Reason), H),
    {noreply, State#state{job = undefined, health = H1}};
handle_info({global_name_conflict, Name}, State) ->
    case mongoose_system_metrics_cluster:is_reporter_name(Name) of
        true -> {noreply, State#state{role = standby}};
        false -> {noreply, State}
    end;
handle_info(_Msg, State) ->
    {noreply, State}.

%% @private Cancels the send in flight, if any, and stops the report.
-spec terminate(term(), #state{}) -> ok.
terminate(_Reason, #state{job = undefined}) ->
    ok;
terminate(_Reason, #state{job = #job{pid = Pid, send_ref = Ref}}) ->
    mongoose_system_metrics_report:cancel(Pid, Ref).

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

schedule_first(#state{opts = Opts} = S) ->
    LastSuccess = case mongoose_system_metrics_file:read_last_success() of
                      {ok, Ms} -> Ms;
                      error -> undefined
                  end,
    Delay = mongoose_system_metrics_schedule:first_delay(Opts, LastSuccess, now_ms()),
    arm(erlang:monotonic_time(millisecond) + Delay, 0, S#state{last_success = LastSuccess}).

schedule_next(#state{opts = Opts, base = Base} = S) ->
    case mongoose_system_metrics_schedule:next(Opts, Base, erlang:monotonic_time(millisecond)) of
        none -> S#state{timer = undefined, next_due = undefined};
        {Next, Jitter} -> arm(Next, Jitter, S)
    end.

arm(Base, Jitter, S) ->
    Delay = max(0, Base + Jitter - erlang:monotonic_time(millisecond)),
    Timer = erlang:start_timer(Delay, self(), tick),
    S#state{base = Base, timer = Timer, next_due = now_ms() + Delay}.

%% The environment's kill switches are read at each tick: setting one stops the next
%% report, unsetting it lets the next one run.
tick(#state{job = #job{}} = S) ->
    ?LOG_INFO(#{what => system_metrics_report_skipped,
                text => <<"The previous report is still in flight: this one is skipped">>}),
    S;
tick(#state{opts = Opts} = S) ->
    case mongoose_system_metrics_options:env_kill_switch() of
        none ->
            case mongoose_system_metrics_cluster:role(Opts) of
                standby -> S#state{kill_switch = none, role = standby};
                Role -> start_job(S#state{kill_switch = none, role = Role})
            end;
        Switch when Switch =:= S#state.kill_switch ->
            S;
        Switch ->
            mongoose_system_metrics_options:log_kill_switch(Switch),
            S#state{kill_switch = Switch}
    end.

start_job(S) ->
    Pid = mongoose_system_metrics_report:start(context(S)),
    S#state{job = #job{pid = Pid}, last_attempt = now_ms()}.

context(#state{opts = Opts, tracking_ids = Tids, client_id = ClientId, prev_counts = Prev}) ->
    #{opts => Opts, tracking_ids => Tids, client_id => ClientId, prev_counts => Prev,
      mode => case maps:get(validate, Opts, false) of true -> validate; false -> collect end}.

job_done(Outcome, #state{health = H0} = S0) ->
    %% Increments count from the previous report collected, sent or not, as MongooseIM's.
    S = S0#state{client_id = maps:get(client_id, Outcome, S0#state.client_id),
                 prev_counts = maps:get(counts, Outcome, S0#state.prev_counts)},
    case mongoose_system_metrics_report:outcome(Outcome, H0) of
        {undefined, H} -> S#state{health = H};
        {Success, H} -> S#state{health = H, last_success = Success}
    end.

%%====================================================================
%% Status and printouts
%%====================================================================

status(#state{health = #{last_error := LastError}} = S) ->
    #{running => true,
      kill_switch => S#state.kill_switch,
      last_attempt => S#state.last_attempt,
      last_success => S#state.last_success,
      last_error => LastError,
      next_report_due => S#state.next_due,
      in_flight => S#state.job =/= undefined,
      role => S#state.role,
      client_id => S#state.client_id,
      tracking_ids => [Id || #{id := Id} <- S#state.tracking_ids],
      report_file => mongoose_system_metrics_file:location(),
      version => version()}.

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
      report_file => mongoose_system_metrics_file:location(), version => version()}.

%% This application's version (the `.app.src' `vsn', equal to the Rust crates' version and
%% the HTTP User-Agent's: a test keeps them so).
version() ->
    _ = application:load(mongoose_system_metrics),
    case application:get_key(mongoose_system_metrics, vsn) of
        {ok, Vsn} -> list_to_binary(Vsn);
        undefined -> <<"unknown">>
    end.

mask_state(#state{opts = Opts, tracking_ids = Tids} = S) ->
    Masked = case Opts of
                 #{tracking_id := T} -> Opts#{tracking_id => T#{secret => "***"}};
                 _ -> Opts
             end,
    S#state{opts = Masked, tracking_ids = [T#{secret => <<"***">>} || T <- Tids]};
mask_state(Other) ->
    Other.

now_ms() ->
    erlang:system_time(millisecond).
