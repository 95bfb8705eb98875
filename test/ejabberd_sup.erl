%%% @doc TEST STAND-IN for MongooseIM's top supervisor `ejabberd_sup': an empty
%%% one_for_one supervisor with MongooseIM's `start_child/1' and `stop_child/1'.
-module(ejabberd_sup).
-behaviour(supervisor).
-export([start_link/0, start_child/1, stop_child/1, init/1]).

start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
start_child(Spec) ->
    case supervisor:start_child(?MODULE, Spec) of
        {ok, Pid} -> {ok, Pid};
        Other -> erlang:error({start_child_failed, Other, Spec})
    end.
stop_child(Proc) ->
    _ = supervisor:terminate_child(?MODULE, Proc),
    _ = supervisor:delete_child(?MODULE, Proc),
    ok.
init([]) -> {ok, {#{strategy => one_for_one, intensity => 10, period => 1}, []}}.
