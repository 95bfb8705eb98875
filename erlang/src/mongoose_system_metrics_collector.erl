%%% @doc The node's facts, gathered for one report, in the shape the engine's
%%% `mongoose_system_metrics_nif:build_report/1' takes (`node_info()'), read as MongooseIM's
%%% own collector reads them, release by release.
%%%
%%% Facts are raw: the engine applies the privacy rules (which modules, options, handlers
%%% and values may be named). `modules' has, for each host type, one entry for every
%%% module loaded on any host type (MongooseIM asks each host type about each of them),
%%% with the options that the module's own `config_metrics/1' gives for that host type,
%%% folded into one map as MongooseIM folds them (a repeated key keeps its last value).
%%% Modules that declare neither `gen_mod' nor `mongoose_module_metrics' are not modules
%%% MongooseIM counts, and are left out.
%%%
%%% What differs between releases (how the stanza counters are read, which module knows
%%% the components) comes from the engine's table of release rules
%%% (`mongoose_system_metrics_nif:release_rules/1'), keyed by the node's version.
%%%
%%% A fact that cannot be gathered (not in MongooseIM, or MongooseIM crashed answering) is
%%% left out; `collect/1' also returns the failures so that the service can log them.
-module(mongoose_system_metrics_collector).

-export([collect/1, stanza_counts/0, stanza_types/0]).

-export_type([stanza_counts/0, failure/0]).

-type stanza_counts() :: #{atom() => non_neg_integer()}.
-type failure() :: {atom(), term()}.
-type node_info() :: mongoose_system_metrics_nif:node_info().
-type rules() :: mongoose_system_metrics_nif:release_rules().

-define(MAX_BINARY, 256).

%% @doc Gathers the node's facts; `PrevCounts' are the stanza totals of the previous report
%% (collected, whether or not its send succeeded).
-spec collect(stanza_counts() | undefined) -> {node_info(), [failure()]}.
collect(PrevCounts) ->
    Version = gather_one(version, fun version/0),
    Rules = rules(Version),
    Facts = [{uptime_seconds, fun uptime_seconds/0},
             {node_count, fun node_count/0},
             {component_count, fun() -> component_count(Rules) end},
             {config_type, fun config_type/0},
             {host_type_count, fun host_type_count/0},
             {domain_count, fun mongoose_system_metrics_mim:domains_count/0},
             {modules, fun modules/0},
             {http_handlers, fun http_handlers/0},
             {c2s_listeners, fun c2s_listeners/0},
             {outgoing_pools, fun outgoing_pools/0},
             {stanza_counts, fun() -> stanza_counts(Rules) end}],
    {Info, Failures} = lists:foldl(fun gather/2, Version, Facts),
    Info1 = case {Info, PrevCounts} of
                {#{stanza_counts := _}, #{}} -> Info#{previous_stanza_counts => PrevCounts};
                _ -> Info
            end,
    {Info1, lists:reverse(Failures)}.

gather_one(Key, Fun) ->
    gather({Key, Fun}, {#{}, []}).

gather({Key, Fun}, {Info, Failures}) ->
    try Fun() of
        {ok, Value} -> {Info#{Key => Value}, Failures};
        {ok, Value, Partial} -> {Info#{Key => Value}, lists:reverse(Partial, Failures)};
        unavailable -> {Info, Failures}
    catch
        Class:Reason -> {Info, [{Key, {Class, Reason}} | Failures]}
    end.

%% Without the engine nothing is built or sent: the facts that depend on the release are
%% then left out.
rules({Info, _}) ->
    case mongoose_system_metrics_nif:release_rules(maps:get(version, Info, <<>>)) of
        {ok, Rules} -> Rules;
        {error, _} -> none
    end.

%% @doc This node's XMPP stanza totals, read as its release reads them, or `unavailable'
%% when its release reads none (no instrumentation configured).
-spec stanza_counts() -> {ok, stanza_counts()} | unavailable.
stanza_counts() ->
    Version = gather_one(version, fun version/0),
    stanza_counts(rules(Version)).

-spec stanza_counts(rules() | none) -> {ok, stanza_counts()} | unavailable.
stanza_counts(none) ->
    unavailable;
stanza_counts(#{stanza_counters := Scheme}) ->
    case stanza_source(Scheme) of
        none -> unavailable;
        Source -> read_counts(Source)
    end.

%% @doc The stanza types reported, in MongooseIM's order. The engine has the same list
%% (`STANZA_TYPES' in privacy.rs): there it says which types may be sent, here which
%% counters to read from MongooseIM (each mapped to its release's counter below). A type
%% only here is read but never sent; one only there is never read.
-spec stanza_types() -> [atom()].
stanza_types() ->
    [xmppMessageSent, xmppMessageReceived, xmppIqSent,
     xmppIqReceived, xmppPresenceSent, xmppPresenceReceived].

%% Where a release's collector reads the counters (see release.rs in the engine).
stanza_source(exometer_by_type) -> {exometer, fun(Type) -> [Type] end};
stanza_source(exometer_c2s) -> {exometer, fun c2s_metric/1};
stanza_source(exometer_when_configured) ->
    case mongoose_system_metrics_mim:lookup_opt([instrumentation, exometer]) of
        {ok, {ok, _}} -> {exometer, fun xmpp_element_metric/1};
        _ -> none
    end;
stanza_source(instrumentation) ->
    case mongoose_system_metrics_mim:lookup_opt(instrumentation) of
        {ok, {ok, #{prometheus := _}}} -> prometheus;
        {ok, {ok, #{exometer := _}}} -> {exometer, fun xmpp_element_metric/1};
        _ -> none
    end.

read_counts(Source) ->
    Counts = [{Type, count(Source, Type)} || Type <- stanza_types()],
    case lists:keymember(unavailable, 2, Counts) of
        true -> unavailable;
        false -> {ok, maps:from_list(Counts)}
    end.

count(prometheus, Type) ->
    case mongoose_system_metrics_mim:prometheus_counter_values(prometheus_name(Type)) of
        {ok, Values} -> lists:sum([C || {_Labels, C} <- Values, is_integer(C), C >= 0]);
        unavailable -> unavailable
    end;
count({exometer, Metric}, Type) ->
    case mongoose_system_metrics_mim:exometer_values(['_' | Metric(Type)]) of
        {ok, Values} ->
            lists:sum([C || {_Name, DataPoints} <- Values, is_list(DataPoints),
                            {count, C} <- DataPoints, is_integer(C), C >= 0]);
        unavailable -> unavailable
    end.

c2s_metric(Type) ->
    {Direction, Kind} = direction_and_kind(Type),
    [c2s_direction(Direction), Kind].

xmpp_element_metric(Type) ->
    {Direction, Kind} = direction_and_kind(Type),
    [xmpp_element_direction(Direction), '_', Kind].

prometheus_name(Type) ->
    {Direction, Kind} = direction_and_kind(Type),
    atom_to_list(xmpp_element_direction(Direction)) ++ "_" ++ atom_to_list(Kind).

%% MongooseIM counts a client's stanzas coming in as "sent" (by the client).
direction_and_kind(xmppMessageSent) -> {in, message_count};
direction_and_kind(xmppIqSent) -> {in, iq_count};
direction_and_kind(xmppPresenceSent) -> {in, presence_count};
direction_and_kind(xmppMessageReceived) -> {out, message_count};
direction_and_kind(xmppIqReceived) -> {out, iq_count};
direction_and_kind(xmppPresenceReceived) -> {out, presence_count}.

c2s_direction(in) -> c2s_element_in;
c2s_direction(out) -> c2s_element_out.

xmpp_element_direction(in) -> xmpp_element_in;
xmpp_element_direction(out) -> xmpp_element_out.

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

component_count(none) ->
    unavailable;
component_count(#{components := Module}) ->
    mongoose_system_metrics_mim:component_count(Module).

host_type_count() ->
    case mongoose_system_metrics_mim:host_types() of
        {ok, HostTypes} -> {ok, length(HostTypes)};
        unavailable -> unavailable
    end.

modules() ->
    case mongoose_system_metrics_mim:host_types() of
        {ok, HostTypes} ->
            Loaded = lists:usort(lists:append([loaded_modules(HT) || HT <- HostTypes])),
            Modules = [{M, module_kind(M)} || M <- Loaded],
            Entries = [module_entry(M, Kind, HT) || HT <- HostTypes, {M, Kind} <- Modules,
                                                    Kind =/= other],
            {ok, [E || {E, _} <- Entries], [F || {_, {failed, F}} <- Entries]};
        unavailable ->
            unavailable
    end.

loaded_modules(HostType) ->
    case mongoose_system_metrics_mim:loaded_modules(HostType) of
        {ok, Modules} when is_list(Modules) -> [M || M <- Modules, is_atom(M)];
        _ -> []
    end.

%% As MongooseIM tells them apart: by the behaviours a module declares.
module_kind(Module) ->
    Attrs = try Module:module_info(attributes) catch _:_ -> [] end,
    Declares = fun(B) -> lists:member({behaviour, [B]}, Attrs)
                             orelse lists:member({behavior, [B]}, Attrs) end,
    case {Declares(mongoose_module_metrics), Declares(gen_mod)} of
        {true, _} -> metrics;
        {false, true} -> gen_mod;
        {false, false} -> other
    end.

%% A module that reports metrics gets what its `config_metrics/1' answers for this host
%% type; MongooseIM asks it even where it is not loaded (it then answers no options). One
%% that crashes answering is reported without options, and the crash as a failure (the
%% other modules are still reported).
module_entry(Module, metrics, HostType) ->
    {Opts, Result} = try mongoose_system_metrics_mim:config_metrics(Module, HostType) of
                         {ok, Metrics} when is_list(Metrics) -> {module_opts(Metrics), ok};
                         _ -> {#{}, ok}
                     catch
                         Class:Reason ->
                             {#{}, {failed, {modules, {Module, config_metrics, {Class, Reason}}}}}
                     end,
    case map_size(Opts) of
        0 -> {#{module => Module}, Result};
        _ -> {#{module => Module, opts => Opts}, Result}
    end;
module_entry(Module, gen_mod, _HostType) ->
    {#{module => Module}, ok}.

%% [{Key, Value}] from config_metrics/1 folded into a map, a repeated key keeping its last
%% value, as MongooseIM folds them; {none, _} means nothing.
module_opts(Metrics) ->
    lists:foldl(fun({none, _}, Acc) -> Acc;
                   ({Key, Value}, Acc) when is_atom(Key) -> Acc#{Key => opt_value(Value)};
                   (_, Acc) -> Acc
                end, #{}, Metrics).

%% A value the engine's schema takes; anything else is reported as `custom'.
opt_value(V) when is_atom(V); is_integer(V) -> V;
opt_value(V) when is_binary(V) -> truncate(V);
opt_value(V) when is_list(V) ->
    case io_lib:printable_unicode_list(V) of
        true -> truncate(unicode:characters_to_binary(V));
        false -> custom
    end;
opt_value(_) -> custom.

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
    Proto = case maps:get(proto, Listener, undefined) of
                P when is_atom(P) -> P;
                _ -> undefined
            end,
    case maps:get(tls, Listener, undefined) of
        %% Listeners of 6.4+ have no TLS `module': MongooseIM then reports no TLS option.
        #{mode := Mode, module := TlsModule} when is_atom(Mode), is_atom(TlsModule) ->
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
