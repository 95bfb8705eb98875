%%% @doc The application's supervisor. It starts with no child; outside MongooseIM,
%%% `service_mongoose_system_metrics:start/1' adds the service to it as a temporary worker.
-module(mongoose_system_metrics_sup).

-behaviour(supervisor).

-export([start_link/0, init/1]).

%% @private
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

%% @private
-spec init([]) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init([]) ->
    {ok, {#{strategy => one_for_one, intensity => 5, period => 60}, []}}.
