%%% @doc TEST STAND-IN for MongooseIM's mod_last: a gen_mod that reports its `backend'
%%% through `mongoose_module_metrics', as MongooseIM's.
-module(mod_last).
-behaviour(gen_mod).
-behaviour(mongoose_module_metrics).
-export([start/2, config_metrics/1]).

start(_HostType, _Opts) -> ok.
config_metrics(HostType) -> mongoose_module_metrics:opts_for_module(HostType, ?MODULE, [backend]).
