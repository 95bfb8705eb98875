%%% @doc Test helper: captures OTP logger events (a logger handler) so that cases can
%%% assert what was logged. `start()' then `events()' -> `[#{level, what, text, msg, meta}]'
%%% (oldest first; `text' is the report's text, or the formatted message; `meta' is the
%%% event's whole metadata, process metadata included), `clear()', `stop()'.
%%% `matching(Regex)' -> the events whose text or report matches.
%%% `containing(Needle)' -> the events that hold `Needle' anywhere: in the message (report,
%%% format and arguments, or string), in its text, in the metadata, or in the line the
%%% default formatter prints; `assert_absent(Needle)' fails the case with the first such
%%% event (secrets are looked for this way, so that no part of a log event is left out).
-module(msm_log_capture).
-export([start/0, stop/0, events/0, clear/0, matching/1, matching/2, containing/1,
         assert_absent/1, event_text/1]).
-export([log/2]).

-define(TAB, msm_log_capture).

-type event() :: #{level := logger:level(), what := term(), text := binary(),
                   msg := term(), meta := logger:metadata()}.
-export_type([event/0]).

-spec start() -> ok.
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

-spec stop() -> ok.
stop() ->
    _ = logger:remove_handler(?TAB),
    case whereis(msm_log_capture_holder) of
        undefined -> ok;
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! stop,
            receive {'DOWN', Ref, process, Pid, _} -> ok end
    end.

-spec clear() -> ok.
clear() -> ets:delete_all_objects(?TAB), ok.

-spec events() -> [event()].
events() -> [E || {_, E} <- ets:tab2list(?TAB)].

-spec matching(string() | binary()) -> [event()].
matching(Regex) -> matching(Regex, all).

-spec matching(string() | binary(), logger:level() | all) -> [event()].
matching(Regex, Level) ->
    [E || #{level := L, text := T, msg := M} = E <- events(),
          Level =:= all orelse L =:= Level,
          re:run(T, Regex, [{capture, none}]) =:= match
              orelse re:run(io_lib:format("~p", [M]), Regex, [{capture, none}]) =:= match].

%% @doc The captured events holding `Needle' in any part of them.
-spec containing(string() | binary()) -> [event()].
containing(Needle) ->
    N = unicode:characters_to_binary(Needle),
    [E || E <- events(), binary:match(event_text(E), N) =/= nomatch].

%% @doc Fails the case when any captured event holds `Needle' (shown around its place).
-spec assert_absent(string() | binary()) -> ok.
assert_absent(Needle) ->
    N = unicode:characters_to_binary(Needle),
    case containing(N) of
        [] -> ok;
        [E | _] = Found ->
            Text = event_text(E),
            {At, _} = binary:match(Text, N),
            From = max(0, At - 600),
            ct:fail({found_in_log, length(Found), binary:part(Text, From,
                                                              min(900, byte_size(Text) - From))})
    end.

%% @doc Every part of an event as text: its level, message, text, metadata (each printed
%% whole, `~p') and the line the default formatter prints.
-spec event_text(event()) -> binary().
event_text(#{level := L, msg := Msg, text := T, meta := Meta}) ->
    Formatted = try logger_formatter:format(#{level => L, msg => Msg, meta => Meta},
                                            #{single_line => false, depth => unlimited,
                                              chars_limit => unlimited})
                catch _:_ -> <<>>
                end,
    unicode:characters_to_binary(
      io_lib:format("~tp~n~ts~n~tp~n~tp~n~ts", [L, T, Msg, Meta, Formatted])).

%% logger handler callback
-spec log(logger:log_event(), logger:handler_config()) -> ok.
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
