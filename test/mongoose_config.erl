%%% @doc TEST STAND-IN for MongooseIM's `mongoose_config' (6.x names and signatures): options
%%% in a persistent_term, as MongooseIM keeps them. Not MongooseIM's code.
-module(mongoose_config).
-export([set_opts/1, get_opts/0, erase_opts/0, set_opt/2, unset_opt/1, lookup_opt/1,
         get_opt/1, get_opt/2, get_config_path/0, set_config_path/1]).

set_opts(Opts) -> persistent_term:put(?MODULE, Opts).
get_opts() -> persistent_term:get(?MODULE).
erase_opts() -> persistent_term:erase(?MODULE).

set_opt(Key, Value) when not is_list(Key) -> set_opt([Key], Value);
set_opt(KeyPath, Value) -> set_opts(put_path(KeyPath, Value, get_opts())).

unset_opt(Key) when not is_list(Key) -> unset_opt([Key]);
unset_opt(KeyPath) -> set_opts(remove_path(KeyPath, get_opts())).

lookup_opt(Key) ->
    try get_opt(Key) of V -> {ok, V}
    catch error:{badkey, _} -> {error, not_found}
    end.

get_opt(Key, Default) ->
    try get_opt(Key) catch error:{badkey, _} -> Default end.

get_opt(KeyPath) when is_list(KeyPath) ->
    lists:foldl(fun maps:get/2, persistent_term:get(?MODULE), KeyPath);
get_opt(Key) -> get_opt([Key]).

get_config_path() -> persistent_term:get({?MODULE, path}, "/etc/mongooseim/mongooseim.toml").
set_config_path(Path) -> persistent_term:put({?MODULE, path}, Path).

put_path([K], V, M) -> M#{K => V};
put_path([K | Rest], V, M) -> M#{K => put_path(Rest, V, maps:get(K, M, #{}))}.
remove_path([K], M) -> maps:remove(K, M);
remove_path([K | Rest], M) -> M#{K => remove_path(Rest, maps:get(K, M))}.
