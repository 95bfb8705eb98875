%%% @doc The reporting engine: a Rust NIF that builds, checks, plans and sends
%%% MongooseIM's anonymous system-metrics reports (GA4 Measurement Protocol).
%%%
%%% Every function answers and none raises on bad input: bad input gives
%%% `{error, {invalid_input, Path, Reason}}' where `Path' names the offending
%%% field (atoms for keys, 1-based positions for list items) and `Reason' is a
%%% short binary. If the native library could not be loaded, this module still
%%% loads and every function returns `{error, {nif_not_loaded, Reason}}', so a
%%% missing or broken `.so' never stops a node from booting.
%%%
%%% Load-once policy. The library is loaded once per VM: rustler offers no upgrade
%%% callback, so while an older copy of this module holds the library, a reloaded copy
%%% cannot load it again and answers `{error, {nif_not_loaded, {upgrade, _}}}' (see ARCHITECTURE.md,
%%% "Load-once policy"). Sends already in flight are not disturbed: they run on the
%%% engine's background runtime, which belongs to the library, and still answer. Once the
%%% old copy is purged (`code:purge/1'), loading the module binds the library again, with
%%% the same runtime and in-flight bound (the library mapped at first load: a new `.so'
%%% on disk needs a node restart). The library is never unmapped under running threads:
%%% it is linked with `-z nodelete' (native/nif/build.rs). So a reload never crashes the
%%% VM; to report again after a reload, purge the old copy and load the module once more
%%% (reliability_lifecycle_SUITE:reload_stub_module_keeps_vm_up).
-module(mongoose_system_metrics_nif).

-export([build_report/1, encode_json/1, plan_requests/2, send_report/2, build_and_send/2,
         cancel/1, cancel_all/0, configure/1, load_error/0, release_rules/1, new_client_id/0]).

-on_load(init/0).

-export_type([node_info/0, event/0, request/0, send_opts/0, path/0, release_rules/0,
              input_error/0, tracking_result/0, send_error_reason/0]).

-type path() :: [atom() | pos_integer() | binary()].
-type input_error() :: {invalid_input, path(), binary()}.
-type nif_error() :: {nif_not_loaded, term()}.
-type opt_value() :: atom() | binary() | integer() | boolean() | [atom() | binary()].
-type node_info() ::
        #{version => binary(),
          uptime_seconds => non_neg_integer(),
          node_count => pos_integer(),
          component_count => non_neg_integer(),
          config_type => toml | cfg | unknown_config_type,
          host_type_count => non_neg_integer(),
          domain_count => non_neg_integer(),
          modules => [#{module := atom(), opts => #{atom() => opt_value()}}],
          http_handlers => [atom()],
          c2s_listeners => [#{proto := atom(), tls => #{mode := atom(), module := atom()}}],
          outgoing_pools => [atom()],
          stanza_counts => #{atom() => non_neg_integer()},
          previous_stanza_counts => #{atom() => non_neg_integer()}}.
-type event() :: #{name := binary(), params := #{binary() => binary() | integer()}}.
-type request() :: #{tracking_id := binary(), url := binary(), body := binary()}.
-type send_opts() ::
        #{client_id := binary() | string(),
          tracking_ids := [#{id := binary() | string(), secret := binary() | string()}],
          url => binary() | string(),
          mode => collect | validate,
          timeout_ms => pos_integer(),
          max_retries => non_neg_integer(),
          cacertfile => binary() | string(),
          notify => pid()}.
-type send_error_reason() :: timeout | connect_error | tls_error | {http_status, pos_integer()}
                           | rate_limited | cancelled | internal_error.
-type tracking_result() ::
        #{tracking_id := binary(),
          result := ok | {error, send_error_reason()},
          batches := non_neg_integer(),
          requests := non_neg_integer(),
          events := non_neg_integer(),
          validation_messages => [#{binary() => binary()}]}.

-type release_rules() ::
        #{release := binary(),
          stanza_counters := exometer_by_type | exometer_c2s | exometer_when_configured
                           | instrumentation,
          components := ejabberd_router | mongoose_component}.

-define(LOAD_ERROR_KEY, {?MODULE, load_error}).
-define(LIB, "libmongoose_system_metrics_nif").

%% @private Loads the native library; never fails, so the module always loads.
-spec init() -> ok.
init() ->
    Result = case code:priv_dir(mongoose_system_metrics) of
                 {error, bad_name} -> {error, no_priv_dir};
                 PrivDir -> erlang:load_nif(filename:join(PrivDir, ?LIB), 0)
             end,
    case Result of
        ok -> persistent_term:erase(?LOAD_ERROR_KEY);
        {error, Reason} -> persistent_term:put(?LOAD_ERROR_KEY, {error, {nif_not_loaded, Reason}})
    end,
    ok.

%% @doc Why the native library is not loaded, or `none' when it is.
-spec load_error() -> none | term().
load_error() ->
    case persistent_term:get(?LOAD_ERROR_KEY, none) of
        {error, {nif_not_loaded, Reason}} -> Reason;
        none -> none
    end.

%% @doc Builds the events of one report from the node's facts, applying the privacy rules.
%% Runs on a dirty CPU scheduler.
-spec build_report(node_info()) -> {ok, [event()]} | {error, input_error() | nif_error()}.
build_report(_NodeInfo) -> not_loaded().

%% @doc The events as pretty-printed JSON, as written to the report file.
-spec encode_json([event()]) -> {ok, binary()} | {error, input_error() | nif_error()}.
encode_json(_Events) -> not_loaded().

%% @doc The exact HTTP requests a send would make (api_secret masked), sending nothing.
-spec plan_requests([event()], send_opts()) ->
          {ok, [request()]} | {error, input_error() | nif_error()}.
plan_requests(_Events, _Opts) -> not_loaded().

%% @doc Checks the events against the privacy and GA4 rules, then starts sending in the
%% background and returns at once (the checks run on a dirty CPU scheduler). Exactly one
%% message `{mongoose_system_metrics_sent, Ref, [tracking_result()]}' follows, to `notify'
%% (default: the caller).
-spec send_report([event()], send_opts()) ->
          {ok, reference()} | {error, overloaded | input_error() | nif_error()}.
send_report(_Events, _Opts) -> not_loaded().

%% @doc `build_report/1' and `send_report/2' in one call (the events go to the send as built,
%% and are checked there as every send is): the events, for the report file, and the send's
%% reference. Error paths start with `node_info' or `opts'.
-spec build_and_send(node_info(), send_opts()) ->
          {ok, [event()], reference()} | {error, overloaded | input_error() | nif_error()}.
build_and_send(_NodeInfo, _Opts) -> not_loaded().

%% @doc Stops the pending attempts and retries of one send; its message carries `cancelled'.
-spec cancel(reference()) -> ok | {error, nif_error()}.
cancel(_Ref) -> not_loaded().

%% @doc Stops every pending send.
-spec cancel_all() -> ok | {error, nif_error()}.
cancel_all() -> not_loaded().

%% @doc Sets engine limits: `max_in_flight' (default 64) bounds concurrent sends.
-spec configure(#{max_in_flight => pos_integer()}) -> ok | {error, input_error() | nif_error()}.
configure(_Opts) -> not_loaded().

%% @doc The rules of the MongooseIM release line a node of this version runs (the engine's
%% one table of per-release rules): how its collector reads the stanza counters and which
%% module knows the components. An unknown version (or anything but a version binary) gets
%% the latest supported line's rules.
-spec release_rules(binary() | undefined) ->
          {ok, release_rules()} | {error, nif_error() | internal_error}.
release_rules(_Version) -> not_loaded().

%% @doc A new random client id: a version 4 UUID as text (`<<"xxxxxxxx-xxxx-4xxx-...">>'),
%% for a node whose cluster has no id of its own.
-spec new_client_id() -> binary() | {error, nif_error()}.
new_client_id() -> not_loaded().

%% The error term is read at run time (not a literal here) so that dialyzer judges callers by
%% the specs above, not by these stub bodies.
not_loaded() ->
    persistent_term:get(?LOAD_ERROR_KEY, {error, {nif_not_loaded, not_loaded}}).
