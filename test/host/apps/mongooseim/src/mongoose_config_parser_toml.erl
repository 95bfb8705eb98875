%%% @doc Stand-in for MongooseIM's TOML configuration parser, for the subset the host
%%% release needs: `[general]' (`hosts'), `[services.NAME]' and `[modules.NAME]' tables,
%%% `key = value' and dotted keys, values that are strings, integers (with `_'), booleans and
%%% one-line arrays. Each service's section is processed as MongooseIM does, through the
%%% service's own `config_spec/0' (`#section{}'/`#option{}'): required keys, unknown keys
%%% rejected, type conversion, validators, defaults, keys as atoms.
-module(mongoose_config_parser_toml).

-include("mongoose_config_spec.hrl").

-export([parse_file/1, parse_toml/1, process_section/2]).

-type toml() :: #{binary() => term()}.

%% @doc The options of a TOML file, as `mongoose_config' keeps them; errors crash the start.
-spec parse_file(file:filename()) -> #{term() => term()}.
parse_file(Path) ->
    {ok, Text} = file:read_file(Path),
    process(parse_toml(Text)).

%% @doc The TOML text as nested maps with binary keys.
-spec parse_toml(binary()) -> toml().
parse_toml(Text) ->
    Lines = binary:split(Text, [<<"\n">>, <<"\r\n">>], [global]),
    {Toml, _Table} = lists:foldl(fun parse_line/2, {#{}, []}, Lines),
    Toml.

parse_line(Line0, {Toml, Table}) ->
    case string:trim(Line0) of
        <<>> -> {Toml, Table};
        <<"#", _/binary>> -> {Toml, Table};
        <<"[", Rest/binary>> ->
            [Name, <<>>] = binary:split(Rest, <<"]">>),
            {Toml, keys(Name)};
        Line ->
            [Key, Value] = binary:split(Line, <<"=">>),
            {put_in(Table ++ keys(Key), value(string:trim(Value)), Toml), Table}
    end.

keys(Dotted) ->
    [string:trim(K) || K <- binary:split(string:trim(Dotted), <<".">>, [global])].

value(<<"\"", Rest/binary>>) ->
    [Str, <<>>] = binary:split(Rest, <<"\"">>),
    Str;
value(<<"true">>) -> true;
value(<<"false">>) -> false;
value(<<"[", Rest/binary>>) ->
    [Items, <<>>] = binary:split(Rest, <<"]">>),
    [value(string:trim(I)) || I <- binary:split(Items, <<",">>, [global]),
                              string:trim(I) =/= <<>>];
value(Int) ->
    binary_to_integer(binary:replace(Int, <<"_">>, <<>>, [global])).

put_in([Key], Value, Map) ->
    Map#{Key => Value};
put_in([Key | Rest], Value, Map) ->
    Map#{Key => put_in(Rest, Value, maps:get(Key, Map, #{}))}.

%% Top-level processing: the general options, services and modules.
process(Toml) ->
    General = maps:get(<<"general">>, Toml, #{}),
    Hosts = maps:get(<<"hosts">>, General, [<<"localhost">>]),
    Services = maps:fold(fun(Name, Section, Acc) ->
                                 Service = binary_to_atom(Name),
                                 {module, Service} = code:ensure_loaded(Service),
                                 Acc#{Service => process_section(Service:config_spec(), Section)}
                         end, #{}, maps:get(<<"services">>, Toml, #{})),
    Modules = maps:fold(fun(Name, Section, Acc) ->
                                Acc#{binary_to_atom(Name) => module_opts(Section)}
                        end, #{}, maps:get(<<"modules">>, Toml, #{})),
    maps:from_list([{hosts, Hosts}, {host_types, []}, {services, Services},
                    {listen, []}, {outgoing_pools, []}]
                   ++ [{{modules, Host}, Modules} || Host <- Hosts]).

module_opts(Section) ->
    maps:from_list([{binary_to_atom(K), case V of
                                            B when is_binary(B) -> binary_to_atom(B);
                                            _ -> V
                                        end} || {K, V} <- maps:to_list(Section)]).

%% @doc A TOML table processed by a `#section{}' spec, as MongooseIM's parser does.
-spec process_section(#section{}, toml()) -> #{atom() => term()}.
process_section(#section{items = Items, required = Required0, defaults = Defaults}, Toml)
  when is_map(Toml) ->
    Required = case Required0 of
                   all -> maps:keys(Items);
                   _ -> Required0
               end,
    [error({missing_key, K}) || K <- Required, not maps:is_key(K, Toml)],
    Parsed = maps:fold(fun(K, V, Acc) ->
                               Spec = case Items of
                                          #{K := S} -> S;
                                          #{default := S} -> S;
                                          _ -> error({unexpected_key, K})
                                      end,
                               Acc#{binary_to_atom(K) => process_node(K, Spec, V)}
                       end, #{}, Toml),
    maps:merge(maps:from_list([{binary_to_atom(K), V} || {K, V} <- maps:to_list(Defaults)]),
               Parsed);
process_section(_Spec, Value) ->
    error({not_a_table, Value}).

process_node(_Key, #section{} = Spec, Value) ->
    process_section(Spec, Value);
process_node(Key, #option{type = Type, validate = Validator}, Value) ->
    Converted = convert(Type, Value),
    case validate(Validator, Converted) of
        true -> Converted;
        false -> error({invalid_value, Key, Value})
    end.

convert(integer, V) when is_integer(V) -> V;
convert(boolean, V) when is_boolean(V) -> V;
convert(binary, V) when is_binary(V) -> V;
convert(string, V) when is_binary(V) -> unicode:characters_to_list(V);
convert(atom, V) when is_binary(V) -> binary_to_atom(V);
convert(Type, V) -> error({bad_type, Type, V}).

validate(any, _) -> true;
validate(non_negative, V) -> V >= 0;
validate(positive, V) -> V > 0;
validate(non_empty, V) -> V =/= "" andalso V =/= <<>> andalso V =/= '';
validate(url, V) ->
    case uri_string:parse(V) of
        #{scheme := S, host := H} when H =/= <<>> -> lists:member(S, [<<"http">>, <<"https">>]);
        _ -> false
    end;
validate(filename, V) -> filelib:is_file(V);
validate({enum, Values}, V) -> lists:member(V, Values);
validate(Validator, _) -> error({unknown_validator, Validator}).
