%%% @doc TEST STAND-IN for the prometheus library's `prometheus_counter' (`values/2'), with
%%% `set/3' to give a labelled counter a value.
-module(prometheus_counter).
-export([values/2, set/3, inc/2, reset/0]).

values(default, Name) ->
    [{Labels, C} || {{N, Labels}, C} <- maps:to_list(all()), N =:= Name].
set(Name, Labels, Count) -> persistent_term:put(?MODULE, (all())#{{Name, Labels} => Count}).
inc(Name, Labels) ->
    All = all(), persistent_term:put(?MODULE, All#{{Name, Labels} => maps:get({Name, Labels}, All, 0) + 1}).
reset() -> persistent_term:erase(?MODULE), ok.
all() -> persistent_term:get(?MODULE, #{}).
