%%% @doc Test helper: captures OTP logger events (a logger handler) so that cases can
%%% assert what was logged. `start()' then `events()' -> `[#{level, what, text, msg, meta}]'
%%% (oldest first; `text' is the report's text, or the formatted message), `clear()',
%%% `stop()'. `matching(Regex)' -> the events whose text or report matches.
-module(msm_log_capture).
-export([start/0, stop/0, events/0, clear/0, matching/1, matching/2]).
-export([log/2]).

-define(TAB, msm_log_capture).

start() ->
    stop(),
    Parent = self(),
    Holder = spawn(fun() ->
                           ets:new(?TAB, [named_table, public, ordered_set]),
                           Parent ! {?TAB, ready},
                           receive stop -> ok end
                   end),
    receive {?TAB, ready} -> ok end,
    register(msm_log_capture_holder, Holder),
    ok = logger:add_handler(?TAB, ?MODULE, #{level => all}),
    ok.

stop() ->
    _ = logger:remove_handler(?TAB),
    case whereis(msm_log_capture_holder) of
        undefined -> ok;
        Pid -> Pid ! stop, timer:sleep(10), ok
    end.

clear() -> ets:delete_all_objects(?TAB), ok.

events() -> [E || {_, E} <- ets:tab2list(?TAB)].

matching(Regex) -> matching(Regex, all).

matching(Regex, Level) ->
    [E || #{level := L, text := T, msg := M} = E <- events(),
          Level =:= all orelse L =:= Level,
          re:run(T, Regex, [{capture, none}]) =:= match
              orelse re:run(io_lib:format("~p", [M]), Regex, [{capture, none}]) =:= match].

%% logger handler callback
log(#{level := Level, msg := Msg} = Event, _Config) ->
    {What, Text} = case Msg of
                       {report, #{} = R} -> {maps:get(what, R, undefined),
                                             to_text(maps:get(text, R, io_lib:format("~p", [R])))};
                       {report, R} -> {undefined, to_text(io_lib:format("~p", [R]))};
                       {string, S} -> {undefined, to_text(S)};
                       {F, A} -> {undefined, to_text(io_lib:format(F, A))}
                   end,
    catch ets:insert(?TAB, {erlang:unique_integer([monotonic]),
                            #{level => Level, what => What, text => Text, msg => Msg,
                              meta => maps:get(meta, Event, #{})}}),
    ok.

to_text(T) ->
    case unicode:characters_to_binary(T) of
        B when is_binary(B) -> B;
        _ -> iolist_to_binary(io_lib:format("~p", [T]))
    end.
