%%% @doc TEST STAND-IN for MongooseIM's top supervisor (`ejabberd_sup'): MongooseIM's services
%%% start their processes under it with `start_child/1' and remove them with `stop_child/1'.
-module(ejabberd_sup).

-behaviour(supervisor).

-include_lib("kernel/include/logger.hrl").

-export([start_link/0, init/1, start_child/1, start_child/2, stop_child/1]).

-spec start_link() -> {ok, pid()} | ignore | {error, term()}.
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, noargs).

-spec init(noargs) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init(noargs) ->
    {ok, {#{strategy => one_for_one, intensity => 10, period => 1}, []}}.

-spec start_child(supervisor:child_spec()) -> {ok, pid() | undefined}.
start_child(ChildSpec) ->
    start_child(?MODULE, ChildSpec).

-spec start_child(atom() | pid(), supervisor:child_spec()) -> {ok, pid() | undefined}.
start_child(SupName, ChildSpec) ->
    case supervisor:start_child(SupName, ChildSpec) of
        {ok, Pid} ->
            {ok, Pid};
        Other ->
            ?LOG_ERROR(#{what => start_child_failed, spec => ChildSpec,
                         supervisor_name => SupName, reason => Other}),
            erlang:error({start_child_failed, Other, ChildSpec})
    end.

-spec stop_child(term()) -> ok.
stop_child(Proc) ->
    _ = supervisor:terminate_child(?MODULE, Proc),
    _ = supervisor:delete_child(?MODULE, Proc),
    ok.
