%%% @doc TEST STAND-IN for MongooseIM's `mongoose_config' (6.x names, arities and results):
%%% options in a persistent term, as MongooseIM keeps them. In the host release `start/0'
%%% parses the TOML file (path: application env `mongooseim/config', else
%%% `EJABBERD_CONFIG_PATH', else etc/mongooseim.toml); tests set options and the path
%%% directly (`set_opts/1', `set_opt/2', `unset_opt/1', `set_config_path/1').
-module(mongoose_config).

-export([start/0, stop/0, get_config_path/0, set_config_path/1,
         set_opts/1, get_opts/0, erase_opts/0,
         set_opt/2, unset_opt/1, lookup_opt/1, get_opt/1, get_opt/2]).

-type key() :: atom() | tuple().
-type key_path() :: [term()].
-type value() :: term().

-spec start() -> ok.
start() ->
    set_opts(mongoose_config_parser_toml:parse_file(get_config_path())).

-spec stop() -> ok | {error, not_started}.
stop() ->
    case erase_opts() of
        true -> ok;
        false -> {error, not_started}
    end.

-spec get_config_path() -> string().
get_config_path() ->
    Default = case os:getenv("EJABBERD_CONFIG_PATH") of
                  false -> "etc/mongooseim.toml";
                  Path -> Path
              end,
    persistent_term:get({?MODULE, path}, application:get_env(mongooseim, config, Default)).

-spec set_config_path(string()) -> ok.
set_config_path(Path) ->
    persistent_term:put({?MODULE, path}, Path).

-spec set_opts(#{key() => value()}) -> ok.
set_opts(Opts) ->
    persistent_term:put(?MODULE, Opts).

-spec get_opts() -> #{key() => value()}.
get_opts() ->
    persistent_term:get(?MODULE).

-spec erase_opts() -> boolean().
erase_opts() ->
    persistent_term:erase(?MODULE).

-spec set_opt(key() | key_path(), value()) -> ok.
set_opt(Key, Value) when not is_list(Key) ->
    set_opt([Key], Value);
set_opt(KeyPath, Value) ->
    set_opts(put_path(KeyPath, Value, get_opts())).

-spec unset_opt(key() | key_path()) -> ok.
unset_opt(Key) when not is_list(Key) ->
    unset_opt([Key]);
unset_opt(KeyPath) ->
    set_opts(remove_path(KeyPath, get_opts())).

-spec lookup_opt(key() | key_path()) -> {ok, value()} | {error, not_found}.
lookup_opt(Key) ->
    try get_opt(Key) of
        Value -> {ok, Value}
    catch
        error:{badkey, _} -> {error, not_found}
    end.

-spec get_opt(key() | key_path(), value()) -> value().
get_opt(Key, Default) ->
    case lookup_opt(Key) of
        {ok, Value} -> Value;
        {error, not_found} -> Default
    end.

-spec get_opt(key() | key_path()) -> value().
get_opt(KeyPath) when is_list(KeyPath) ->
    lists:foldl(fun maps:get/2, get_opts(), KeyPath);
get_opt(Key) ->
    get_opt([Key]).

put_path([Key], Value, Map) ->
    Map#{Key => Value};
put_path([Key | Rest], Value, Map) ->
    Map#{Key => put_path(Rest, Value, maps:get(Key, Map, #{}))}.

remove_path([Key], Map) ->
    maps:remove(Key, Map);
remove_path([Key | Rest], Map) ->
    Map#{Key => remove_path(Rest, maps:get(Key, Map))}.
