%%% @doc TEST STAND-IN for MongooseIM's service manager (`mongoose_service'): services are the
%%% `services' option; `start/0' calls `Service:start(Opts)' for each at node start,
%%% `stop/0' calls `Service:stop()', and `ensure_started/2', `ensure_stopped/1' do the same
%%% for one service at run time, keeping the option up to date, as MongooseIM does.
-module(mongoose_service).

-include_lib("kernel/include/logger.hrl").

-export([start/0, stop/0, config_spec/1, is_loaded/1, assert_loaded/1,
         loaded_services_with_opts/0, ensure_started/2, ensure_stopped/1]).

-type service() :: module().
-type options() :: #{atom() => term()}.

-spec start() -> ok.
start() ->
    [start_service(S, Opts) || {S, Opts} <- lists:sort(maps:to_list(loaded_services_with_opts()))],
    ok.

-spec stop() -> ok.
stop() ->
    [stop_service(S) || S <- lists:reverse(lists:sort(maps:keys(loaded_services_with_opts())))],
    ok.

-spec config_spec(service()) -> term().
config_spec(Service) ->
    Service:config_spec().

-spec ensure_started(service(), options()) ->
          {started, term()} | {restarted, options(), term()} | already_started.
ensure_started(Service, Opts) ->
    case loaded_services_with_opts() of
        #{Service := Opts} ->
            already_started;
        #{Service := PrevOpts} = Services ->
            stop_service(Service),
            set_services(Services#{Service => Opts}),
            {ok, Res} = start_service(Service, Opts),
            {restarted, PrevOpts, Res};
        Services ->
            set_services(Services#{Service => Opts}),
            {ok, Res} = start_service(Service, Opts),
            {started, Res}
    end.

-spec ensure_stopped(service()) -> {stopped, options()} | already_stopped.
ensure_stopped(Service) ->
    case loaded_services_with_opts() of
        #{Service := Opts} = Services ->
            stop_service(Service),
            set_services(maps:remove(Service, Services)),
            {stopped, Opts};
        _ ->
            already_stopped
    end.

-spec is_loaded(service()) -> boolean().
is_loaded(Service) ->
    case mongoose_config:lookup_opt([services, Service]) of
        {ok, _Opts} -> true;
        {error, not_found} -> false
    end.

-spec assert_loaded(service()) -> ok.
assert_loaded(Service) ->
    case is_loaded(Service) of
        true -> ok;
        false -> error(#{what => service_not_loaded, service => Service})
    end.

-spec loaded_services_with_opts() -> #{service() => options()}.
loaded_services_with_opts() ->
    mongoose_config:get_opt(services).

set_services(Services) ->
    mongoose_config:set_opt(services, Services).

start_service(Service, Opts) ->
    assert_loaded(Service),
    Res = Service:start(Opts),
    ?LOG_INFO(#{what => service_started, service => Service,
                text => <<"Started MongooseIM service">>}),
    case Res of
        {ok, _} -> Res;
        _ -> {ok, Res}
    end.

stop_service(Service) ->
    assert_loaded(Service),
    _ = Service:stop(),
    ?LOG_INFO(#{what => service_stopped, service => Service,
                text => <<"Stopped MongooseIM service">>}),
    ok.
