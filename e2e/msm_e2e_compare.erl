%%% @doc What MongooseIM's own service sent compared with what this project's service sent,
%%% per tracking id, as multisets of events.
%%%
%%% The cluster event's `uptime' is left out (the nodes ran at different times). Every other
%%% difference must be one of the differences README.md documents ("Where this project differs
%%% from MongooseIM, and why"); each is named in the output, seen or not, and anything else
%%% fails the comparison.
-module(msm_e2e_compare).

-export([events/2, differences/0]).

-type event() :: #{name := binary(), params := map(), measurement_id := binary(), _ => _}.
-type norm() :: {binary(), map()}.

%% The README's documented differences, by the name it gives them.
-define(CUSTOM_MODULES, "custom modules counted, not named").
-define(VERSION, "version sanitised").
-define(INCREMENT, "no negative increment").
-define(CUSTOM_VALUES, "option values off the allowlist").

%% @doc The names of the documented differences, in the README's order.
-spec differences() -> [string()].
differences() ->
    [?CUSTOM_MODULES, ?VERSION, ?INCREMENT, ?CUSTOM_VALUES].

%% @doc Compares MongooseIM's events with this project's: `{ok, Seen}' where Seen maps
%% each documented difference that explains part of the gap to its instances (an absent
%% key: not seen), or `{fail, Why}'.
-spec events([event()], [event()]) -> {ok, #{string() => [iodata()]}} | {fail, iodata()}.
events(Theirs, Ours) ->
    ByIdTheirs = by_id(Theirs),
    ByIdOurs = by_id(Ours),
    case {maps:keys(ByIdTheirs), maps:keys(ByIdOurs)} of
        {Ids, Ids} ->
            Results = [compare_id(Id, maps:get(Id, ByIdTheirs), maps:get(Id, ByIdOurs))
                       || Id <- Ids],
            case [Why || {fail, Why} <- Results] of
                [] -> {ok, merge([Seen || {ok, Seen} <- Results])};
                Whys -> {fail, lists:join("; ", Whys)}
            end;
        {IdsTheirs, IdsOurs} ->
            {fail, io_lib:format("tracking ids differ: MongooseIM's service ~0p, "
                                 "this project's ~0p", [IdsTheirs, IdsOurs])}
    end.

by_id(Events) ->
    lists:foldl(fun(#{measurement_id := Id} = E, Acc) ->
                        maps:update_with(Id, fun(L) -> [norm(E) | L] end, [norm(E)], Acc)
                end, #{}, Events).

-spec norm(event()) -> norm().
norm(#{name := <<"cluster">> = Name, params := Params}) ->
    {Name, maps:remove(<<"uptime">>, Params)};
norm(#{name := Name, params := Params}) ->
    {Name, Params}.

merge(Seens) ->
    lists:foldl(fun(S, Acc) ->
                        maps:fold(fun(K, V, A) -> maps:update_with(K, fun(L) -> L ++ V end,
                                                                   V, A)
                                  end, Acc, S)
                end, #{}, Seens).

compare_id(Id, Theirs, Ours) ->
    OnlyTheirs = lists:sort(Theirs) -- lists:sort(Ours),
    OnlyOurs = lists:sort(Ours) -- lists:sort(Theirs),
    Explainers = [fun version/2, fun custom_modules/2, fun increment/2, fun custom_values/2],
    {Seen, RestTheirs, RestOurs} =
        lists:foldl(fun(Explain, {S, T, O}) ->
                            {Name, Instances, T1, O1} = Explain(T, O),
                            S1 = case Instances of
                                     [] -> S;
                                     _ -> S#{Name => Instances}
                                 end,
                            {S1, T1, O1}
                    end, {#{}, OnlyTheirs, OnlyOurs}, Explainers),
    case {RestTheirs, RestOurs} of
        {[], []} -> {ok, Seen};
        _ -> {fail, io_lib:format("~s: only MongooseIM's service sent ~0p; only this "
                                  "project's sent ~0p", [Id, RestTheirs, RestOurs])}
    end.

%% The cluster event with the version cut to the release number and git-describe suffix.
version(Theirs, Ours) ->
    Pairs = [{T, O} || {<<"cluster">>, #{<<"version">> := VT} = PT} = T <- Theirs,
                       {<<"cluster">>, #{<<"version">> := VO} = PO} = O <- Ours,
                       VT =/= VO, binary:longest_common_prefix([VT, VO]) =:= byte_size(VO),
                       maps:remove(<<"version">>, PT) =:= maps:remove(<<"version">>, PO)],
    explained(?VERSION, Pairs, Theirs, Ours,
              fun({{_, #{<<"version">> := VT}}, {_, #{<<"version">> := VO}}}) ->
                      io_lib:format("~s sent as ~s", [VT, VO])
              end).

%% Modules that only MongooseIM names, and the custom module count that many higher here.
custom_modules(Theirs, Ours) ->
    Named = lists:usort([M || {<<"module_with_opt">>, #{<<"module">> := M}} <- Theirs])
        -- [M || {<<"module_with_opt">>, #{<<"module">> := M}} <- Ours],
    Counts = [{T, O} || {<<"custom_module_count">>, #{<<"value">> := CT}} = T <- Theirs,
                        {<<"custom_module_count">>, #{<<"value">> := CO}} = O <- Ours,
                        CO - CT =:= length(Named)],
    case {Named, Counts} of
        {[_ | _], [{T, O}]} ->
            NamedEvents = [E || {<<"module_with_opt">>, #{<<"module">> := M}} = E <- Theirs,
                                lists:member(M, Named)],
            {?CUSTOM_MODULES, [io_lib:format("~s counted", [M]) || M <- Named],
             (Theirs -- NamedEvents) -- [T], Ours -- [O]};
        _ ->
            {?CUSTOM_MODULES, [], Theirs, Ours}
    end.

%% A negative increment sent as the total.
increment(Theirs, Ours) ->
    Pairs = [{T, O} || {<<"xmpp_stanza_count">>, #{<<"increment">> := IT} = PT} = T <- Theirs,
                       {<<"xmpp_stanza_count">>, #{<<"increment">> := IO} = PO} = O <- Ours,
                       IT < 0, IO =:= maps:get(<<"total">>, PO),
                       maps:remove(<<"increment">>, PT) =:= maps:remove(<<"increment">>, PO)],
    explained(?INCREMENT, Pairs, Theirs, Ours,
              fun({{_, #{<<"stanza_type">> := S, <<"increment">> := I}}, _}) ->
                      io_lib:format("~s increment ~b sent as the total", [S, I])
              end).

%% An option value MongooseIM names, sent as `custom' here.
custom_values(Theirs, Ours) ->
    Pairs = [{T, O} || {<<"module_with_opt">>, PT} = T <- Theirs,
                       {<<"module_with_opt">>, PO} = O <- Ours,
                       maps:get(<<"module">>, PT) =:= maps:get(<<"module">>, PO),
                       maps:keys(PT) =:= maps:keys(PO),
                       lists:all(fun(K) -> maps:get(K, PT) =:= maps:get(K, PO)
                                               orelse maps:get(K, PO) =:= <<"custom">>
                                 end, maps:keys(PT))],
    explained(?CUSTOM_VALUES, Pairs, Theirs, Ours,
              fun({{_, #{<<"module">> := M} = PT}, {_, PO}}) ->
                      [io_lib:format("~s ~s=~s sent as custom", [M, K, V])
                       || {K, V} <- maps:to_list(PT), maps:get(K, PO) =/= V]
              end).

%% Removes each explained pair once (first match) from both sides.
explained(Name, Pairs, Theirs, Ours, Describe) ->
    {Instances, T1, O1} =
        lists:foldl(fun({T, O} = P, {Acc, Ts, Os}) ->
                            case lists:member(T, Ts) andalso lists:member(O, Os) of
                                true -> {[Describe(P) | Acc], Ts -- [T], Os -- [O]};
                                false -> {Acc, Ts, Os}
                            end
                    end, {[], Theirs, Ours}, Pairs),
    {Name, lists:reverse(Instances), T1, O1}.
