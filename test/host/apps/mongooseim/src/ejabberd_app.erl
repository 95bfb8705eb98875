%%% @doc Stand-in for MongooseIM's application module: the start sequence steps that matter
%%% to system metrics, in MongooseIM's order (config, top supervisor, cluster id, services,
%%% `service_mongoose_system_metrics:verify_if_configured/0'), and services stopped in
%%% `prep_stop/1'.
-module(ejabberd_app).

-behaviour(application).

-include_lib("kernel/include/logger.hrl").

-export([start/2, prep_stop/1, stop/1]).

-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(normal, _Args) ->
    mongoose_config:start(),
    {ok, _} = Sup = ejabberd_sup:start_link(),
    mongoose_cluster_id:start(),
    mongoose_service:start(),
    service_mongoose_system_metrics:verify_if_configured(),
    ?LOG_NOTICE(#{what => mongooseim_node_started, node => node()}),
    Sup;
start(_, _) ->
    {error, badarg}.

-spec prep_stop(term()) -> term().
prep_stop(State) ->
    mongoose_service:stop(),
    State.

-spec stop(term()) -> ok.
stop(_State) ->
    _ = mongoose_config:stop(),
    ok.
