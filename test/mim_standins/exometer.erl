%%% @doc TEST STAND-IN for exometer's `get_values/1' (patterns with '_' as wildcards),
%%% with `set/2' to give a counter a value.
-module(exometer).
-export([get_values/1, set/2, reset/0]).

get_values(Pattern) ->
    [{Name, [{count, C}, {one, 0}]} || {Name, C} <- maps:to_list(all()), match(Pattern, Name)].
set(Name, Count) -> persistent_term:put(?MODULE, (all())#{Name => Count}).
reset() -> persistent_term:erase(?MODULE), ok.
all() -> persistent_term:get(?MODULE, #{}).
match([], []) -> true;
match(['_' | P], [_ | N]) -> match(P, N);
match([X | P], [X | N]) -> match(P, N);
match(_, _) -> false.
