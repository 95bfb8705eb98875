%%% @doc TEST STAND-IN for MongooseIM's `gen_mod' (the calls the system metrics make).
-module(gen_mod).
-export([loaded_modules/1, get_module_opts/2]).

loaded_modules(HostType) -> maps:keys(mongoose_config:get_opt({modules, HostType})).
get_module_opts(HostType, Module) -> mongoose_config:get_opt([{modules, HostType}, Module]).
