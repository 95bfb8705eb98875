%%% @doc TEST STAND-IN for MongooseIM's mod_last: its `config_metrics/1' reports `backend'.
-module(mod_last).
-export([config_metrics/1]).

config_metrics(HostType) ->
    Opts = gen_mod:get_module_opts(HostType, ?MODULE),
    [{backend, maps:get(backend, Opts, mnesia)}].
