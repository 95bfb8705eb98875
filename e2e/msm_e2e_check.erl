%%% @doc The checks of `make mongooseim-e2e': one printed line each, and the tally.
%%%
%%% A check is a name and a fun: the fun returns `ok' or `{ok, Detail}' (passed), or
%%% `{fail, Why}', or crashes (failed, the crash is printed). The tally lives in the calling
%%% process's dictionary: the driver runs in one process.
-module(msm_e2e_check).

-export([check/2, record/2, skip/2, summary/0]).

-type outcome() :: ok | {ok, iodata()} | {fail, iodata()}.
-export_type([outcome/0]).

-define(KEY, {?MODULE, tally}).

%% @doc Runs a check, prints its line, counts it; returns whether it passed.
-spec check(iodata(), fun(() -> outcome())) -> boolean().
check(Name, Fun) ->
    Outcome = try Fun()
              catch Class:Reason:Stack ->
                      {fail, io_lib:format("~p:~0p at ~0p", [Class, Reason, hd(Stack ++ [none])])}
              end,
    record(Name, Outcome).

%% @doc Counts and prints an outcome known already.
-spec record(iodata(), outcome() | boolean()) -> boolean().
record(Name, true) -> record(Name, ok);
record(Name, false) -> record(Name, {fail, "no"});
record(Name, ok) ->
    line("ok  ", Name, ""),
    count(passed);
record(Name, {ok, Detail}) ->
    line("ok  ", Name, [" (", Detail, ")"]),
    count(passed);
record(Name, {fail, Why}) ->
    line("FAIL", Name, [": ", Why]),
    count(failed).

%% @doc A check that could not run because an earlier step failed: counted as failed.
-spec skip(iodata(), iodata()) -> false.
skip(Name, Because) ->
    record(Name, {fail, ["not run: ", Because]}).

%% @doc Prints `N passed, N failed' and returns the exit status (0 when nothing failed).
-spec summary() -> 0 | 1.
summary() ->
    #{passed := P, failed := F} = tally(),
    io:format("~b passed, ~b failed~n", [P, F]),
    case F of
        0 -> 0;
        _ -> 1
    end.

line(Tag, Name, Rest) ->
    io:format("~s ~ts~ts~n", [Tag, Name, Rest]).

count(Kind) ->
    T = tally(),
    put(?KEY, maps:update_with(Kind, fun(N) -> N + 1 end, T)),
    Kind =:= passed.

tally() ->
    case get(?KEY) of
        undefined -> #{passed => 0, failed => 0};
        T -> T
    end.
