%%% @doc Stand-in for MongooseIM's `mod_last': only its `config_metrics/1' callback.
-module(mod_last).

-behaviour(mongoose_module_metrics).

-export([config_metrics/1]).

-spec config_metrics(binary()) -> [{atom(), term()}].
config_metrics(HostType) ->
    mongoose_module_metrics:opts_for_module(HostType, ?MODULE, [backend]).
