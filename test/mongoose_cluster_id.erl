%%% @doc TEST STAND-IN for MongooseIM's `mongoose_cluster_id': `get_cached_cluster_id/0'
%%% answers what `set/1' stored, `{error, cluster_id_not_in_cache}' otherwise.
-module(mongoose_cluster_id).
-export([get_cached_cluster_id/0, set/1, clean_cache/0]).

get_cached_cluster_id() ->
    case persistent_term:get(?MODULE, undefined) of
        undefined -> {error, cluster_id_not_in_cache};
        Id -> {ok, Id}
    end.
set(Id) -> persistent_term:put(?MODULE, Id).
clean_cache() -> persistent_term:erase(?MODULE), ok.
