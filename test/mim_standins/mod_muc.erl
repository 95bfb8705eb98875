%%% @doc TEST STAND-IN for MongooseIM's mod_muc: a gen_mod that reports `backend' and
%%% `online_backend' (6.2+) through `mongoose_module_metrics', as MongooseIM's.
-module(mod_muc).
-behaviour(gen_mod).
-behaviour(mongoose_module_metrics).
-export([start/2, config_metrics/1]).

start(_HostType, _Opts) -> ok.
config_metrics(HostType) ->
    mongoose_module_metrics:opts_for_module(HostType, ?MODULE, [backend, online_backend]).
