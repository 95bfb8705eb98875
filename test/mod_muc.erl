%%% @doc TEST STAND-IN for MongooseIM's mod_muc: `config_metrics/1' reports `backend' and
%%% `online_backend'.
-module(mod_muc).
-export([config_metrics/1]).

config_metrics(HostType) ->
    Opts = gen_mod:get_module_opts(HostType, ?MODULE),
    [{backend, maps:get(backend, Opts, mnesia)}, {online_backend, maps:get(online_backend, Opts, mnesia)}].
