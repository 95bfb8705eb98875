%%% @doc The application: starts the (initially empty) supervisor.
%%%
%%% Inside MongooseIM the supervisor stays empty: MongooseIM starts the service under its own
%%% `ejabberd_sup' (`service_mongoose_system_metrics:start/1'). Outside MongooseIM the service
%%% runs under this supervisor, so the application also works on its own.
-module(mongoose_system_metrics_app).

-behaviour(application).

-export([start/2, stop/1]).

%% @private
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_StartType, _Args) ->
    mongoose_system_metrics_sup:start_link().

%% @private
-spec stop(term()) -> ok.
stop(_State) ->
    ok.
