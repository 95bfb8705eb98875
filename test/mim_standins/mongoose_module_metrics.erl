%%% @doc TEST STAND-IN for MongooseIM's `mongoose_module_metrics' behaviour (6.1-6.8: the
%%% same module in every release): the optional `config_metrics/1' callback, and
%%% `opts_for_module/3', which reports the given option keys of a module on a host type, or
%%% `[{none, none}]' when any is missing (the module is not loaded there). The differential
%%% suite loads MongooseIM's own module over this one.
-module(mongoose_module_metrics).
-export([opts_for_module/3]).

-callback config_metrics(HostType :: binary()) -> any().
-optional_callbacks([config_metrics/1]).

opts_for_module(HostType, Module, Keys) ->
    try
        Opts = gen_mod:get_module_opts(HostType, Module),
        [{Key, gen_mod:get_opt(Key, Opts)} || Key <- Keys]
    catch _:_ ->
        [{none, none}]
    end.
