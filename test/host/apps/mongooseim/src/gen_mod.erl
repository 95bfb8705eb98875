%%% @doc Stand-in for MongooseIM's `gen_mod': the modules configured for a host type are
%%% the keys of the `{modules, HostType}' option.
-module(gen_mod).

-export([loaded_modules/1, get_module_opts/2, get_opt/2]).

-spec loaded_modules(binary()) -> [module()].
loaded_modules(HostType) ->
    maps:keys(mongoose_config:get_opt({modules, HostType})).

-spec get_module_opts(binary(), module()) -> #{atom() => term()}.
get_module_opts(HostType, Module) ->
    mongoose_config:get_opt([{modules, HostType}, Module]).

-spec get_opt(atom(), #{atom() => term()}) -> term().
get_opt(Key, Opts) ->
    maps:get(Key, Opts).
