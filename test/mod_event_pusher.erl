%%% @doc TEST STAND-IN for MongooseIM's mod_event_pusher: `config_metrics/1' gives one
%%% `backend' per configured pusher, as MongooseIM's.
-module(mod_event_pusher).
-export([config_metrics/1]).

config_metrics(HostType) ->
    case gen_mod:get_module_opts(HostType, ?MODULE) of
        Empty when Empty =:= #{} -> [{none, none}];
        Opts -> [{backend, Backend} || Backend <- maps:keys(Opts)]
    end.
