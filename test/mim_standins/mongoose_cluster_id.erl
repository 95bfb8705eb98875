%%% @doc TEST STAND-IN for MongooseIM's `mongoose_cluster_id' (`get_cached_cluster_id/0', with
%%% MongooseIM's result): the host release's `start/0' makes a UUID at start; tests set one
%%% with `set/1' or remove it with `clean_cache/0'.
-module(mongoose_cluster_id).
-export([start/0, get_cached_cluster_id/0, set/1, clean_cache/0]).

-spec start() -> {ok, binary()}.
start() ->
    <<A:32, B:16, C:16, D:16, E:48>> = crypto:strong_rand_bytes(16),
    Id = iolist_to_binary(io_lib:format("~8.16.0b-~4.16.0b-~4.16.0b-~4.16.0b-~12.16.0b",
                                        [A, B, C, D, E])),
    set(Id),
    {ok, Id}.

-spec get_cached_cluster_id() -> {ok, binary()} | {error, cluster_id_not_in_cache}.
get_cached_cluster_id() ->
    case persistent_term:get(?MODULE, undefined) of
        undefined -> {error, cluster_id_not_in_cache};
        Id -> {ok, Id}
    end.

-spec set(binary()) -> ok.
set(Id) -> persistent_term:put(?MODULE, Id).

-spec clean_cache() -> ok.
clean_cache() -> _ = persistent_term:erase(?MODULE), ok.
