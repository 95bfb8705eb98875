%%% @doc MongooseIM's `mongoose_module_metrics' behaviour (kept by the README's patch): a
%%% module's `config_metrics/1' names the options system metrics may report.
-module(mongoose_module_metrics).

-export([opts_for_module/3]).

-callback config_metrics(binary()) -> any().
-optional_callbacks([config_metrics/1]).

-spec opts_for_module(binary(), module(), [atom()]) -> [{atom(), term()}].
opts_for_module(HostType, Module, OptsToReport) ->
    try
        Opts = gen_mod:get_module_opts(HostType, Module),
        [{Opt, gen_mod:get_opt(Opt, Opts)} || Opt <- OptsToReport]
    catch
        _:_ -> [{none, none}]
    end.
