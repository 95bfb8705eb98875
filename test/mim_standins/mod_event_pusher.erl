%%% @doc TEST STAND-IN for MongooseIM's mod_event_pusher: a gen_mod whose
%%% `config_metrics/1' gives one `backend' per configured pusher section (its option keys),
%%% or `[{none, none}]' without options, as MongooseIM's.
-module(mod_event_pusher).
-behaviour(gen_mod).
-behaviour(mongoose_module_metrics).
-export([start/2, config_metrics/1]).

start(_HostType, _Opts) -> ok.
config_metrics(HostType) ->
    case gen_mod:get_module_opts(HostType, ?MODULE) of
        Opts when map_size(Opts) =:= 0 -> [{none, none}];
        Opts -> [{backend, Pusher} || Pusher <- maps:keys(Opts)]
    end.
