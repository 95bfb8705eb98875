%%% @doc The one adapter between this application and MongooseIM.
%%%
%%% Every call into a MongooseIM module (or into the instrumentation libraries MongooseIM
%%% uses) goes through here, so that the rest of the application builds, type-checks and
%%% passes xref without MongooseIM. Each call answers `unavailable' when the module or
%%% function is not there (outside MongooseIM, or an older MongooseIM), and `{ok, Value}'
%%% otherwise; a crash inside MongooseIM propagates to the caller, which decides what to do.
%%%
%%% Names and signatures are MongooseIM 6.x's: `ejabberd_sup:start_child/1',
%%% `ejabberd_sup:stop_child/1', `mongoose_service:is_loaded/1',
%%% `mongoose_config:lookup_opt/1', `mongoose_config:get_config_path/0',
%%% `gen_mod:loaded_modules/1', `mongoose_domain_core:domains_count/0',
%%% `mongoose_router:get_all_domains/0', `mongoose_component:dirty_get_all_components/1',
%%% `mongoose_component:lookup_component/2' (`ejabberd_router:...' in 6.1), `mongoose_cluster_id:get_cached_cluster_id/0',
%%% `mongoose_logs:dir/0', `prometheus_counter:values/2', `exometer:get_values/1', and the
%%% `config_metrics/1' callback of MongooseIM's `mongoose_module_metrics' behaviour.
-module(mongoose_system_metrics_mim).

-export([in_mongooseim/0,
         sup_start_child/1, sup_stop_child/1,
         service_is_loaded/1,
         lookup_opt/1, config_path/0,
         host_types/0, loaded_modules/1, config_metrics/2,
         domains_count/0, component_count/1,
         cluster_id/0, logs_dir/0,
         prometheus_counter_values/1, exometer_values/1]).

%% This module is the only one allowed to call modules that are not part of this application.
-ignore_xref([{ejabberd_sup, start_child, 1}, {ejabberd_sup, stop_child, 1},
              {mongoose_service, is_loaded, 1},
              {mongoose_config, lookup_opt, 1}, {mongoose_config, get_config_path, 0},
              {gen_mod, loaded_modules, 1}, {mongoose_domain_core, domains_count, 0},
              {mongoose_router, get_all_domains, 0},
              {mongoose_component, dirty_get_all_components, 1},
              {mongoose_component, lookup_component, 2},
              {ejabberd_router, dirty_get_all_components, 1},
              {ejabberd_router, lookup_component, 2},
              {mongoose_cluster_id, get_cached_cluster_id, 0}, {mongoose_logs, dir, 0},
              {prometheus_counter, values, 2}, {exometer, get_values, 1}]).

-type result(T) :: {ok, T} | unavailable.
-export_type([result/1]).

%% @doc True when running inside a MongooseIM node: its top supervisor is up.
-spec in_mongooseim() -> boolean().
in_mongooseim() ->
    is_pid(whereis(ejabberd_sup)).

%% @doc Starts a child under MongooseIM's top supervisor (`ejabberd_sup:start_child/1').
-spec sup_start_child(supervisor:child_spec()) -> result({ok, pid() | undefined}).
sup_start_child(Spec) ->
    call(ejabberd_sup, start_child, [Spec]).

%% @doc Stops and deletes a child of MongooseIM's top supervisor.
-spec sup_stop_child(term()) -> result(term()).
sup_stop_child(Id) ->
    call(ejabberd_sup, stop_child, [Id]).

%% @doc Whether MongooseIM's configuration has the service (`mongoose_service:is_loaded/1').
-spec service_is_loaded(module()) -> result(boolean()).
service_is_loaded(Service) ->
    call(mongoose_service, is_loaded, [Service]).

%% @doc A global MongooseIM option, `{ok, {ok, Value}}' or `{ok, {error, not_found}}'.
-spec lookup_opt(atom() | [term()]) -> result({ok, term()} | {error, not_found}).
lookup_opt(Key) ->
    call(mongoose_config, lookup_opt, [Key]).

%% @doc The path of the configuration file the node was started with.
-spec config_path() -> result(string()).
config_path() ->
    call(mongoose_config, get_config_path, []).

%% @doc All host types: the `hosts' and the `host_types' options, as MongooseIM's
%% `?ALL_HOST_TYPES'.
-spec host_types() -> result([binary()]).
host_types() ->
    case {lookup_opt(hosts), lookup_opt(host_types)} of
        {{ok, Hosts}, {ok, HostTypes}} -> {ok, opt_list(Hosts) ++ opt_list(HostTypes)};
        _ -> unavailable
    end.

opt_list({ok, L}) when is_list(L) -> L;
opt_list(_) -> [].

%% @doc The gen_mod modules configured for a host type.
-spec loaded_modules(binary()) -> result([module()]).
loaded_modules(HostType) ->
    call(gen_mod, loaded_modules, [HostType]).

%% @doc A module's `config_metrics/1' answer for a host type, or `unavailable' when the
%% module does not export it.
-spec config_metrics(module(), binary()) -> result(term()).
config_metrics(Module, HostType) ->
    call(Module, config_metrics, [HostType]).

%% @doc The number of domains (static and dynamic).
-spec domains_count() -> result(non_neg_integer()).
domains_count() ->
    call(mongoose_domain_core, domains_count, []).

%% @doc External XMPP components connected to this node, counted as MongooseIM does, through
%% the module that knows them in the node's release (`ejabberd_router' in 6.1,
%% `mongoose_component' from 6.2).
-spec component_count(ejabberd_router | mongoose_component) -> result(non_neg_integer()).
component_count(Module) ->
    case {call(mongoose_router, get_all_domains, []),
          call(Module, dirty_get_all_components, [all])} of
        {{ok, Domains}, {ok, Components}} ->
            Node = node(),
            Found = [call(Module, lookup_component, [D, Node]) || D <- Domains ++ Components],
            {ok, length(lists:append([L || {ok, L} <- Found, is_list(L)]))};
        _ ->
            unavailable
    end.

%% @doc MongooseIM's cluster id, when it has one cached.
-spec cluster_id() -> result(binary()).
cluster_id() ->
    case call(mongoose_cluster_id, get_cached_cluster_id, []) of
        {ok, {ok, Id}} when is_binary(Id), Id =/= <<>> -> {ok, Id};
        _ -> unavailable
    end.

%% @doc MongooseIM's log directory (`""' when it logs to no file).
-spec logs_dir() -> result(string()).
logs_dir() ->
    call(mongoose_logs, dir, []).

%% @doc Values of a prometheus counter in the default registry: `[{Labels, Count}]'.
-spec prometheus_counter_values(string() | atom()) -> result(list()).
prometheus_counter_values(Name) ->
    call(prometheus_counter, values, [default, Name]).

%% @doc Values of the exometer entries matching a name pattern.
-spec exometer_values(list()) -> result(list()).
exometer_values(Pattern) ->
    call(exometer, get_values, [Pattern]).

-spec call(module(), atom(), list()) -> result(term()).
call(Module, Function, Args) ->
    case code:ensure_loaded(Module) of
        {module, Module} ->
            case erlang:function_exported(Module, Function, length(Args)) of
                true -> {ok, erlang:apply(Module, Function, Args)};
                false -> unavailable
            end;
        {error, _} ->
            unavailable
    end.
