%%% @doc TEST STAND-IN for MongooseIM's mod_push_service_mongoosepush (`api_version').
-module(mod_push_service_mongoosepush).
-export([config_metrics/1]).

config_metrics(HostType) ->
    [{api_version, maps:get(api_version, gen_mod:get_module_opts(HostType, ?MODULE), <<"v3">>)}].
