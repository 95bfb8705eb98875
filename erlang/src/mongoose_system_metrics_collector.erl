%%% @doc The node's facts, gathered for one report, in the shape the engine's
%%% `mongoose_system_metrics_nif:build_report/1' takes (`node_info()').
%%%
%%% Facts are raw: the engine applies the privacy rules (which modules, options, handlers
%%% and values may be named). So `modules' has one entry per (host type, module) for every
%%% configured gen_mod module, known or custom, with the module's `config_metrics/1'
%%% answer (when it exports one) turned into an options map; a key that appears several
%%% times (mod_event_pusher gives one `backend' per pusher) becomes a list value.
%%%
%%% A fact that cannot be gathered (not in MongooseIM, or MongooseIM crashed answering) is
%%% left out; `collect/1' also returns the failures so that the service can log them.
-module(mongoose_system_metrics_collector).

-export([collect/1, stanza_counts/0, instrumentation/0, stanza_types/0]).

-export_type([metrics_module/0, stanza_counts/0, failure/0]).

-type metrics_module() :: prometheus | exometer | none.
-type stanza_counts() :: #{atom() => non_neg_integer()}.
-type failure() :: {atom(), term()}.
-type node_info() :: mongoose_system_metrics_nif:node_info().

-define(MAX_BINARY, 256).

%% @doc Gathers the node's facts; `PrevCounts' are the stanza totals of the previous report.
-spec collect(stanza_counts() | undefined) -> {node_info(), [failure()]}.
collect(PrevCounts) ->
    Facts = [{version, fun version/0},
             {uptime_seconds, fun uptime_seconds/0},
             {node_count, fun node_count/0},
             {component_count, fun mongoose_system_metrics_mim:component_count/0},
             {config_type, fun config_type/0},
             {host_type_count, fun host_type_count/0},
             {domain_count, fun mongoose_system_metrics_mim:domains_count/0},
             {modules, fun modules/0},
             {http_handlers, fun http_handlers/0},
             {c2s_listeners, fun c2s_listeners/0},
             {outgoing_pools, fun outgoing_pools/0},
             {stanza_counts, fun stanza_counts/0}],
    {Info, Failures} = lists:foldl(fun gather/2, {#{}, []}, Facts),
    Info1 = case {Info, PrevCounts} of
                {#{stanza_counts := _}, #{}} -> Info#{previous_stanza_counts => PrevCounts};
                _ -> Info
            end,
    {Info1, lists:reverse(Failures)}.

gather({Key, Fun}, {Info, Failures}) ->
    try Fun() of
        {ok, Value} -> {Info#{Key => Value}, Failures};
        unavailable -> {Info, Failures}
    catch
        Class:Reason -> {Info, [{Key, {Class, Reason}} | Failures]}
    end.

%% @doc The node's XMPP stanza totals, from the instrumentation MongooseIM uses
%% (prometheus first, then exometer), or `unavailable' when neither is on.
-spec stanza_counts() -> {ok, stanza_counts()} | unavailable.
stanza_counts() ->
    case instrumentation() of
        none -> unavailable;
        Module -> {ok, maps:from_list([{Type, count(Module, Type)} || Type <- stanza_types()])}
    end.

%% @doc The stanza types reported, in MongooseIM's order.
-spec stanza_types() -> [atom()].
stanza_types() ->
    [xmppMessageSent, xmppMessageReceived, xmppIqSent,
     xmppIqReceived, xmppPresenceSent, xmppPresenceReceived].

%% @doc Which instrumentation gives the stanza counts: MongooseIM's `instrumentation' option.
-spec instrumentation() -> metrics_module().
instrumentation() ->
    case mongoose_system_metrics_mim:lookup_opt(instrumentation) of
        {ok, {ok, #{prometheus := _}}} -> prometheus;
        {ok, {ok, #{exometer := _}}} -> exometer;
        _ -> none
    end.

count(prometheus, Type) ->
    case mongoose_system_metrics_mim:prometheus_counter_values(prometheus_name(Type)) of
        {ok, Values} -> lists:sum([C || {_Labels, C} <- Values, is_integer(C), C >= 0]);
        unavailable -> 0
    end;
count(exometer, Type) ->
    case mongoose_system_metrics_mim:exometer_values(['_' | exometer_name(Type)]) of
        {ok, Values} ->
            lists:sum([C || {_Name, DataPoints} <- Values, is_list(DataPoints),
                            {count, C} <- DataPoints, is_integer(C), C >= 0]);
        unavailable -> 0
    end.

exometer_name(xmppMessageSent) -> [xmpp_element_in, '_', message_count];
exometer_name(xmppIqSent) -> [xmpp_element_in, '_', iq_count];
exometer_name(xmppPresenceSent) -> [xmpp_element_in, '_', presence_count];
exometer_name(xmppMessageReceived) -> [xmpp_element_out, '_', message_count];
exometer_name(xmppIqReceived) -> [xmpp_element_out, '_', iq_count];
exometer_name(xmppPresenceReceived) -> [xmpp_element_out, '_', presence_count].

prometheus_name(xmppMessageSent) -> "xmpp_element_in_message_count";
prometheus_name(xmppIqSent) -> "xmpp_element_in_iq_count";
prometheus_name(xmppPresenceSent) -> "xmpp_element_in_presence_count";
prometheus_name(xmppMessageReceived) -> "xmpp_element_out_message_count";
prometheus_name(xmppIqReceived) -> "xmpp_element_out_iq_count";
prometheus_name(xmppPresenceReceived) -> "xmpp_element_out_presence_count".

%% Facts

version() ->
    case lists:keyfind(mongooseim, 1, application:which_applications()) of
        {_, _, Vsn} ->
            Bin = unicode:characters_to_binary(Vsn),
            {ok, binary:part(Bin, 0, min(byte_size(Bin), ?MAX_BINARY))};
        false -> unavailable
    end.

uptime_seconds() ->
    {WallClockMs, _} = statistics(wall_clock),
    {ok, WallClockMs div 1000}.

node_count() ->
    {ok, length(nodes()) + 1}.

config_type() ->
    case mongoose_system_metrics_mim:config_path() of
        {ok, Path} ->
            {ok, case filename:extension(Path) of
                     ".toml" -> toml;
                     ".cfg" -> cfg;
                     _ -> unknown_config_type
                 end};
        unavailable ->
            unavailable
    end.

host_type_count() ->
    case mongoose_system_metrics_mim:host_types() of
        {ok, HostTypes} -> {ok, length(HostTypes)};
        unavailable -> unavailable
    end.

modules() ->
    case mongoose_system_metrics_mim:host_types() of
        {ok, HostTypes} ->
            {ok, lists:append([host_type_modules(HT) || HT <- HostTypes])};
        unavailable ->
            unavailable
    end.

host_type_modules(HostType) ->
    case mongoose_system_metrics_mim:loaded_modules(HostType) of
        {ok, Modules} ->
            [module_entry(M, HostType) || M <- lists:usort(Modules), is_atom(M)];
        unavailable ->
            []
    end.

module_entry(Module, HostType) ->
    case mongoose_system_metrics_mim:config_metrics(Module, HostType) of
        {ok, Metrics} when is_list(Metrics) ->
            case module_opts(Metrics) of
                Opts when map_size(Opts) =:= 0 -> #{module => Module};
                Opts -> #{module => Module, opts => Opts}
            end;
        _ ->
            #{module => Module}
    end.

%% [{Key, Value}] from config_metrics/1 -> #{Key => Value | [Value]}; {none, _} means nothing.
module_opts(Metrics) ->
    Grouped = lists:foldl(fun({none, _}, Acc) -> Acc;
                             ({Key, Value}, Acc) when is_atom(Key) ->
                                  maps:update_with(Key, fun(Vs) -> [Value | Vs] end, [Value], Acc);
                             (_, Acc) -> Acc
                          end, #{}, Metrics),
    maps:map(fun(_Key, [Value]) -> opt_value(Value);
                (_Key, Values) -> lists:usort([list_item(V) || V <- lists:reverse(Values)])
             end, Grouped).

%% A value the engine's schema takes; anything else is reported as `custom'.
opt_value(V) when is_atom(V); is_integer(V) -> V;
opt_value(V) when is_binary(V) -> truncate(V);
opt_value(V) when is_list(V) ->
    case io_lib:printable_unicode_list(V) of
        true -> truncate(unicode:characters_to_binary(V));
        false -> custom
    end;
opt_value(_) -> custom.

list_item(V) ->
    case opt_value(V) of
        I when is_integer(I) -> integer_to_binary(I);
        Other -> Other
    end.

truncate(Bin) when byte_size(Bin) =< ?MAX_BINARY -> Bin;
truncate(_) -> custom.

http_handlers() ->
    case listeners(ejabberd_cowboy) of
        {ok, Listeners} ->
            {ok, lists:usort([M || #{handlers := Handlers} <- Listeners, is_list(Handlers),
                                   #{module := M} <- Handlers, is_atom(M)])};
        unavailable ->
            unavailable
    end.

c2s_listeners() ->
    case listeners(mongoose_c2s_listener) of
        {ok, Listeners} -> {ok, [c2s_listener(L) || L <- Listeners]};
        unavailable -> unavailable
    end.

c2s_listener(Listener) ->
    Proto = case maps:get(proto, Listener, tcp) of
                P when is_atom(P) -> P;
                _ -> tcp
            end,
    case maps:get(tls, Listener, undefined) of
        #{mode := Mode} = Tls when is_atom(Mode) ->
            %% MongooseIM >= 6.3 has only just_tls and no `module' key.
            TlsModule = case maps:get(module, Tls, just_tls) of
                            M when is_atom(M) -> M;
                            _ -> just_tls
                        end,
            #{proto => Proto, tls => #{mode => Mode, module => TlsModule}};
        _ ->
            #{proto => Proto}
    end.

listeners(Module) ->
    case mongoose_system_metrics_mim:lookup_opt(listen) of
        {ok, {ok, Listeners}} when is_list(Listeners) ->
            {ok, [L || #{module := M} = L <- Listeners, M =:= Module]};
        {ok, {error, not_found}} ->
            {ok, []};
        _ ->
            unavailable
    end.

outgoing_pools() ->
    case mongoose_system_metrics_mim:lookup_opt(outgoing_pools) of
        {ok, {ok, Pools}} when is_list(Pools) ->
            {ok, [Type || #{type := Type} <- Pools, is_atom(Type)]};
        {ok, {error, not_found}} ->
            {ok, []};
        _ ->
            unavailable
    end.
