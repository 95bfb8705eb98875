%%% @doc Renders MongooseIM's release templates (`rel/files/mongooseim.toml') as relx does,
%%% for the preview suite: the mustache subset those templates use. `{{x}}' and `{{{x}}}'
%%% insert a value unescaped (relx does not escape), `{{#x}}...{{/x}}' keeps its body when
%%% `x' is set and not `false', `{{^x}}...{{/x}}' when it is not, `{{! ...}}' is a comment.
%%% Values are rendered as templates themselves (the vars files nest `{{port}}' tags in
%%% values). Sections of the same name do not nest (none does in these templates).
-module(msm_mustache).

-export([render/2, read_vars/1]).

-type vars() :: #{atom() => term()}.
-export_type([vars/0]).

-define(MAX_DEPTH, 8).

%% @doc Renders `Template' with `Vars'.
-spec render(binary(), vars()) -> binary().
render(Template, Vars) ->
    iolist_to_binary(render(Template, Vars, 0)).

render(_Template, _Vars, Depth) when Depth > ?MAX_DEPTH ->
    error(template_values_nest_too_deep);
render(Template, Vars, Depth) ->
    case binary:split(Template, <<"{{">>) of
        [Text] ->
            [Text];
        [Before, <<"{", Rest/binary>>] ->
            [Name, After] = binary:split(Rest, <<"}}}">>),
            [Before, value(Name, Vars, Depth) | render(After, Vars, Depth)];
        [Before, <<"#", Rest/binary>>] ->
            section(Before, Rest, Vars, Depth, fun(Set) -> Set end);
        [Before, <<"^", Rest/binary>>] ->
            section(Before, Rest, Vars, Depth, fun(Set) -> not Set end);
        [Before, <<"!", Rest/binary>>] ->
            [_Comment, After] = binary:split(Rest, <<"}}">>),
            [Before | render(After, Vars, Depth)];
        [Before, Rest] ->
            [Name, After] = binary:split(Rest, <<"}}">>),
            [Before, value(Name, Vars, Depth) | render(After, Vars, Depth)]
    end.

section(Before, Rest, Vars, Depth, Keep) ->
    [Tag, Body0] = binary:split(Rest, <<"}}">>),
    Name = string:trim(Tag),
    {match, [{Start, Len}]} = re:run(Body0, ["\\{\\{\\s*/\\s*", Name, "\\s*\\}\\}"],
                                     [{capture, first}]),
    Body = binary:part(Body0, 0, Start),
    After = binary:part(Body0, Start + Len, byte_size(Body0) - Start - Len),
    Kept = case Keep(is_set(Name, Vars)) of
               true -> render(Body, Vars, Depth);
               false -> []
           end,
    [Before, Kept | render(After, Vars, Depth)].

is_set(Name, Vars) ->
    case maps:find(key(Name), Vars) of
        {ok, false} -> false;
        {ok, _} -> true;
        error -> false
    end.

value(Name, Vars, Depth) ->
    case maps:find(key(Name), Vars) of
        {ok, V} -> render(text(V), Vars, Depth + 1);
        error -> <<>>
    end.

key(Name) ->
    binary_to_atom(string:trim(Name)).

text(V) when is_binary(V) -> V;
text(V) when is_integer(V) -> integer_to_binary(V);
text(V) when is_atom(V) -> atom_to_binary(V);
text(V) when is_list(V) -> unicode:characters_to_binary(V).

%% @doc The variables of a relx vars file: its `{Key, Value}' terms, and the files it names
%% (paths relative to it), whose variables override its own (as relx 4.1+ reads them). A
%% named file that is not there is skipped (MongooseIM's `configure.vars.config' is made by
%% its build).
-spec read_vars(file:filename()) -> vars().
read_vars(File) ->
    {ok, Terms} = file:consult(File),
    lists:foldl(fun({K, V}, Acc) when is_atom(K) -> Acc#{K => V};
                   (Include, Acc) when is_list(Include) ->
                        Path = filename:join(filename:dirname(File), Include),
                        case filelib:is_regular(Path) of
                            true -> maps:merge(Acc, read_vars(Path));
                            false -> Acc
                        end
                end, #{}, Terms).
