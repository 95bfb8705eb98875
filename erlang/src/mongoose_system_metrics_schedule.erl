%%% @doc When reports are due: the first after `initial_report', or later when the last
%%% success (persisted, so it survives a restart) says so; then at a fixed rate of
%%% `periodic_report' with up to 10% jitter; with `periodic_report = 0' the first report is
%%% the only one. Times in milliseconds; the service arms the timers.
-module(mongoose_system_metrics_schedule).

-include_lib("kernel/include/logger.hrl").

-export([first_delay/3, next/3]).

%% @doc How long until the first report: `max(initial_report, last success +
%% periodic_report)', never more than one period from now (`Now' is system time). With
%% `periodic_report = 0', logs that no periodic reports follow.
-spec first_delay(mongoose_system_metrics_options:options(), integer() | undefined,
                  integer()) -> non_neg_integer().
first_delay(#{initial_report := Initial, periodic_report := Period}, LastSuccess, Now) ->
    Delay = case LastSuccess of
                undefined -> Initial;
                _ -> max(Initial, min(Period, LastSuccess + Period - Now))
            end,
    log_if_periodic_report_off(Period, Delay),
    Delay.

%% Once per start, so that a zero set on purpose is visible and one set by mistake is found.
log_if_periodic_report_off(0, Delay) ->
    ?LOG_NOTICE(#{what => system_metrics_periodic_report_off, initial_report_in_ms => Delay,
                  text => <<"periodic_report is 0: only the initial report is sent, "
                            "no periodic reports follow">>});
log_if_periodic_report_off(_, _) ->
    ok.

%% @doc The nominal time of the report after the one due at `Base' (monotonic time), a
%% whole number of periods later and after `Now' (missed ones are skipped), and the jitter
%% to add to it; `none' when `periodic_report' is 0.
-spec next(mongoose_system_metrics_options:options(), integer(), integer()) ->
          {integer(), non_neg_integer()} | none.
next(#{periodic_report := 0}, _Base, _Now) ->
    none;
next(#{periodic_report := Period}, Base, Now) ->
    Next = case Base + Period of
               N when N > Now -> N;
               N -> N + ((Now - N) div Period + 1) * Period
           end,
    {Next, rand:uniform(Period div 10 + 1) - 1}.
