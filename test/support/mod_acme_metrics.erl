%%% @doc A custom module for the tests that declares MongooseIM's `mongoose_module_metrics'
%%% behaviour: MongooseIM would send its name; it must only ever be counted.
-module(mod_acme_metrics).
-behaviour(gen_mod).
-behaviour(mongoose_module_metrics).
-export([start/2, config_metrics/1]).

start(_HostType, _Opts) -> ok.
config_metrics(HostType) -> mongoose_module_metrics:opts_for_module(HostType, ?MODULE, [backend]).
