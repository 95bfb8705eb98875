%%% @doc A custom module for the tests whose `config_metrics/1' crashes where it is not
%%% loaded (as a `gen_mod:get_module_opt/3' without a default would).
-module(mod_acme_crashing_metrics).
-behaviour(gen_mod).
-behaviour(mongoose_module_metrics).
-export([start/2, config_metrics/1]).

start(_HostType, _Opts) -> ok.
config_metrics(HostType) ->
    #{backend := Backend} = gen_mod:get_module_opts(HostType, ?MODULE),
    [{backend, Backend}].
