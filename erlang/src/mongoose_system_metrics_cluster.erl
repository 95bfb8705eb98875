%%% @doc What the service shares with the other nodes of its cluster: which node reports
%%% (`cluster_report'), the stanza counts summed over the nodes, and the client id.
%%%
%%% `local_client_id/0' and `local_stanza_counts/0' are called on the other nodes (`erpc'):
%%% a node that does not answer, or answers an error, is left out.
-module(mongoose_system_metrics_cluster).

-export([role/1, is_reporter_name/1, sum_stanza_counts/1,
         client_id/1, known_client_id/1]).
%% Called from the other nodes of the cluster.
-export([local_client_id/0, local_stanza_counts/0]).

-export_type([role/0]).

-type role() :: every_node | reporter | standby.

-define(SERVICE, service_mongoose_system_metrics).
-define(REPORTER, {?SERVICE, reporter}).
-define(REMOTE_TIMEOUT, 5000).

%%====================================================================
%% Who reports
%%====================================================================

%% @doc This node's part in the next report. With `cluster_report', the process holding a
%% `global' name reports and the others stand by; when it goes away the name is free, and
%% the first of the others to tick takes it. Otherwise every node reports, as MongooseIM.
-spec role(mongoose_system_metrics_options:options()) -> role().
role(#{cluster_report := true}) ->
    Self = self(),
    case global:whereis_name(?REPORTER) of
        Self -> reporter;
        undefined ->
            case global:register_name(?REPORTER, Self, fun global:random_notify_name/3) of
                yes -> reporter;
                no -> standby
            end;
        _ -> standby
    end;
role(_) ->
    every_node.

%% @doc Whether a `{global_name_conflict, Name}' message is about the reporter's name: the
%% process receiving it lost the name when two clusters merged.
-spec is_reporter_name(term()) -> boolean().
is_reporter_name(Name) ->
    Name =:= ?REPORTER.

%% @doc The node's facts with the stanza counts of every node running the service added
%% to this node's own.
-spec sum_stanza_counts(mongoose_system_metrics_nif:node_info()) ->
          mongoose_system_metrics_nif:node_info().
sum_stanza_counts(#{stanza_counts := Own} = Info) ->
    Answers = erpc:multicall(nodes(), ?MODULE, local_stanza_counts, [], ?REMOTE_TIMEOUT),
    Sum = lists:foldl(fun({ok, {ok, Counts}}, Acc) when is_map(Counts) ->
                              maps:fold(fun(K, V, A) when is_integer(V), V >= 0 ->
                                                maps:update_with(K, fun(X) -> X + V end, V, A);
                                           (_, _, A) -> A
                                        end, Acc, Counts);
                         (_, Acc) -> Acc
                      end, Own, Answers),
    Info#{stanza_counts => Sum};
sum_stanza_counts(Info) ->
    Info.

%% @private This node's stanza totals, asked by the cluster's reporter; only nodes running
%% the service answer.
-spec local_stanza_counts() -> {ok, mongoose_system_metrics_collector:stanza_counts()}
                                   | unavailable.
local_stanza_counts() ->
    case whereis(?SERVICE) of
        undefined -> unavailable;
        _ -> mongoose_system_metrics_collector:stanza_counts()
    end.

%%====================================================================
%% Client id
%%====================================================================

%% @doc The client id of a report: MongooseIM's cluster id when present; else the id the
%% service already uses (`Known'); else the persisted one; else one from another node; else
%% a new UUID, created under a cluster-wide lock so that two nodes starting together agree.
-spec client_id(binary() | undefined) -> {ok, binary()} | {error, term()}.
client_id(Known) ->
    case mongoose_system_metrics_mim:cluster_id() of
        {ok, Id} -> {ok, Id};
        unavailable when Known =/= undefined -> {ok, Known};
        unavailable -> local_or_shared_client_id()
    end.

%% @doc The client id a report would use now, creating none (for a preview).
-spec known_client_id(binary() | undefined) -> binary().
known_client_id(Known) ->
    case mongoose_system_metrics_mim:cluster_id() of
        {ok, Id} -> Id;
        unavailable when Known =/= undefined -> Known;
        unavailable ->
            case local_client_id() of
                {ok, Id} -> Id;
                error -> <<"not-yet-assigned">>
            end
    end.

%% @private The client id persisted on this node, asked by another node that has none.
-spec local_client_id() -> {ok, binary()} | error.
local_client_id() ->
    mongoose_system_metrics_file:read_client_id().

local_or_shared_client_id() ->
    case local_client_id() of
        {ok, Id} -> {ok, Id};
        error ->
            LockId = {{?SERVICE, client_id}, self()},
            case global:trans(LockId, fun shared_client_id/0, [node() | nodes()], 20) of
                {ok, Id} -> {ok, Id};
                {error, _} = Error -> Error;
                aborted -> {error, lock_not_acquired}
            end
    end.

%% Under the lock: the smallest id another node has persisted, else a new one.
shared_client_id() ->
    Answers = erpc:multicall(nodes(), ?MODULE, local_client_id, [], ?REMOTE_TIMEOUT),
    case lists:sort([Id || {ok, {ok, Id}} <- Answers]) of
        [First | _] -> persist(First);
        [] ->
            %% A random UUID (v4) from the engine's uuid crate.
            case mongoose_system_metrics_nif:new_client_id() of
                Id when is_binary(Id) -> persist(Id);
                {error, Reason} -> {error, Reason}
            end
    end.

persist(Id) ->
    _ = mongoose_system_metrics_file:write_client_id(Id),
    {ok, Id}.
