%%% @doc TEST STAND-IN for MongooseIM's `gen_mod' (the calls the system metrics make, with
%%% MongooseIM 6.x's names, arities and results): a module's options are the stand-in
%%% config's `{modules, HostType}' map; a module not loaded there has no options (`#{}'),
%%% and `get_opt/2' of a missing key raises `{badkey, Key}', as MongooseIM's.
-module(gen_mod).
-export([loaded_modules/1, get_module_opts/2, get_opt/2]).

-callback start(HostType :: binary(), Opts :: map()) -> any().

loaded_modules(HostType) -> maps:keys(mongoose_config:get_opt({modules, HostType})).
get_module_opts(HostType, Module) -> mongoose_config:get_opt([{modules, HostType}, Module], #{}).
get_opt(Key, Opts) when is_map(Opts) -> maps:get(Key, Opts).
