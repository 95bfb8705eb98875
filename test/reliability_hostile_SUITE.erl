%%% @doc Reliability of the reporting engine on hostile input: PropEr properties over random
%%% and mutated terms on every engine function (always an answer, never an exception, no atom
%%% created), then the VM and the engine still up.
-module(reliability_hostile_SUITE).

-include_lib("proper/include/proper.hrl").
-include("support/msm_reliability.hrl").

-compile([export_all, nowarn_export_all]).

%% The helpers every reliability suite shares.
-import(msm_reliability, [pool_events/1, opts/2, closed_url/0, send_and_wait/3, flush/0,
                          run_prop/2]).

all() ->
    [{group, hostile_input}].

groups() ->
    [{hostile_input, [], [prop_random_terms_every_function, prop_mutated_inputs_every_function,
                          vm_and_engine_still_up]}].

%% The hook (msm_reliability) starts the applications and resets each case.
suite() ->
    [{timetrap, {minutes, 3}}, {ct_hooks, [{msm_reliability, []}]}].

%%%===================================================================
%%% Hostile input (PropEr)
%%%===================================================================

-define(HOSTILE_CASES, 2000).

prop_random_terms_every_function(_Config) ->
    run_prop(?FORALL({A, B}, {hostile_term(), hostile_term()}, every_function_answers(A, B)),
             ?HOSTILE_CASES).

prop_mutated_inputs_every_function(_Config) ->
    Gen = ?LET({Which, Muts}, {oneof([node_info, events, opts]),
                               ?LET(N, range(1, 4), vector(N, mutation()))},
               {Which, apply_mutations(valid_input(Which), Muts)}),
    run_prop(?FORALL({Which, Term}, Gen,
                     case Which of
                         node_info -> every_function_answers(Term, valid_input(opts));
                         events -> every_function_answers(Term, valid_input(opts));
                         opts -> every_function_answers(valid_input(events), Term)
                     end),
             ?HOSTILE_CASES).

vm_and_engine_still_up(_Config) ->
    ?assertEqual(none, ?NIF:load_error()),
    ?assertMatch({ok, [_ | _]}, ?NIF:build_report(#{})),
    [R] = send_and_wait(pool_events(1), opts(closed_url(), #{max_retries => 0}), 10000),
    ?assertMatch(#{result := {error, connect_error}}, R).

%% Every engine function on (A, B): an answer, never an exception, never a new atom.
every_function_answers(A, B) ->
    Url = case get(closed_url) of
              undefined -> U = closed_url(), put(closed_url, U), U;
              U -> U
          end,
    Opts = case B of
               #{} -> B#{url => Url};   % a send never goes anywhere else
               _ -> B
           end,
    Calls = [{build_report, [A]}, {encode_json, [A]}, {plan_requests, [A, B]},
             {send_report, [A, Opts]}, {build_and_send, [A, Opts]}, {cancel, [A]},
             {configure, [A]}, {cancel_all, []}],
    Bad = [{F, R} || {F, Args} <- Calls, R <- [checked_call(F, Args)], R =/= ok],
    flush(),
    _ = ?NIF:configure(#{max_in_flight => 64}),
    ?WHENFAIL(ct:log("failed: ~p~non ~P~nand ~P", [Bad, A, 30, B, 30]), Bad =:= []).

checked_call(F, Args) ->
    case atoms_grow(F, Args) of
        {answer, _, 0} -> ok;
        {answer, _, _} ->
            %% Another process may have made an atom meanwhile: grows twice is the engine.
            case atoms_grow(F, Args) of
                {answer, _, 0} -> ok;
                {answer, R, N} -> {atoms_created, N, R};
                Bad -> Bad
            end;
        Bad -> Bad
    end.

atoms_grow(F, Args) ->
    Before = erlang:system_info(atom_count),
    R = try apply(?NIF, F, Args) catch C:E -> {raised, C, E} end,
    After = erlang:system_info(atom_count),
    case answer_ok(F, R) of
        true -> {answer, R, After - Before};
        false -> {bad_answer, R}
    end.

answer_ok(F, ok) when F =:= cancel; F =:= configure; F =:= cancel_all -> true;
answer_ok(build_and_send, {ok, Events, Ref}) -> is_list(Events) andalso is_reference(Ref);
answer_ok(_, {ok, _}) -> true;
answer_ok(_, {error, _}) -> true;
answer_ok(_, _) -> false.

%% Generators

hostile_term() ->
    frequency([{8, nested_term(3)}, {1, deep_term()}, {1, huge_term()}]).

nested_term(0) ->
    hostile_leaf();
nested_term(D) ->
    Sub = ?LAZY(nested_term(D - 1)),
    frequency([{4, hostile_leaf()},
               {2, short_list(Sub)},
               {2, ?LET(L, short_list({oneof([schema_atom(), hostile_leaf()]), Sub}),
                        maps:from_list(L))},
               {1, ?LET({L, T}, {short_list(Sub), Sub}, improper(L, T))},
               {1, ?LET(L, short_list(Sub), list_to_tuple(L))}]).

short_list(G) ->
    ?LET(N, range(0, 6), vector(N, G)).

improper([], T) -> [T | T];
improper(L, T) -> lists:foldr(fun(X, Acc) -> [X | Acc] end, T, L).

hostile_leaf() ->
    oneof([schema_atom(), existing_atom(), integer(), largeint(),
           exactly(1 bsl 64), exactly(-(1 bsl 63) - 1), float(),
           binary(), non_utf8_binary(), bitstring(), utf8_string(),
           exactly(self()), exactly(fun() -> ok end), ?LET(_, integer(), make_ref()),
           exactly(hd(erlang:ports())), exactly(<<>>), exactly([])]).

schema_atom() ->
    elements([version, uptime_seconds, node_count, component_count, config_type,
              host_type_count, domain_count, modules, http_handlers, c2s_listeners,
              outgoing_pools, stanza_counts, previous_stanza_counts, module, opts, backend,
              proto, tls, mode, name, params, client_id, tracking_ids, id, secret, url,
              timeout_ms, max_retries, cacertfile, notify, max_in_flight, toml, mod_mam,
              xmppMessageSent, collect, validate, true, false, undefined]).

existing_atom() ->
    elements([ok, error, badarg, erlang, lists, self, node, infinity, '', 'é', 'a b']).

non_utf8_binary() ->
    ?LET(B, binary(), <<255, 254, B/binary, 192>>).

utf8_string() ->
    ?LET(S, list(range(0, 16#10FFFF - 16#800)), [C || C <- S, C < 16#D800 orelse C > 16#DFFF]).

deep_term() ->
    ?LET({D, Kind}, {range(1, 5000), elements([list, map, modules])},
         nest(D, Kind, x)).

nest(0, _, T) -> T;
nest(N, list, T) -> nest(N - 1, list, [T]);
nest(N, map, T) -> nest(N - 1, map, #{opts => T});
nest(N, modules, T) -> nest(N - 1, modules, #{modules => [#{module => mod_mam, opts => T}]}).

huge_term() ->
    oneof([?LET(N, range(9990, 10010), lists:duplicate(N, #{module => mod_acme})),
           ?LET(N, range(9990, 10010), #{outgoing_pools => lists:duplicate(N, rdbms)}),
           ?LET(N, range(250, 300), #{version => binary:copy(<<"6">>, N)}),
           exactly(#{version => binary:copy(<<"x">>, 1 bsl 20)}),
           ?LET(N, range(9990, 10010), maps:from_list([{I, I} || I <- lists:seq(1, N)])),
           ?LET(N, range(20, 30), [#{name => <<"outgoing_pool">>,
                                      params => #{<<"value">> => <<"rdbms">>}}
                                    || _ <- lists:seq(1, N)])]).

%% Mutations of valid inputs: a path into the term (as choices) and what to do there.
mutation() ->
    {list(range(0, 20)), frequency([{6, {replace, nested_term(2)}}, {3, delete},
                                    {3, {add_key, hostile_leaf()}}, {2, wrap},
                                    {1, {replace, deep_term()}}, {1, {replace, huge_term()}}])}.

apply_mutations(Term, Muts) ->
    lists:foldl(fun({Path, Op}, T) -> mutate(T, Path, Op) end, Term, Muts).

mutate(T, [], Op) -> mutate_here(T, Op);
mutate(T, [I | Rest], Op) when is_map(T), map_size(T) > 0 ->
    Keys = lists:sort(maps:keys(T)),
    K = lists:nth(I rem length(Keys) + 1, Keys),
    case Rest of
        [] when Op =:= delete -> maps:remove(K, T);
        _ -> T#{K => mutate(maps:get(K, T), Rest, Op)}
    end;
mutate(T, [I | Rest], Op) when is_list(T), T =/= [] ->
    try length(T) of
        Len ->
            N = I rem Len + 1,
            case Rest of
                [] when Op =:= delete -> lists:sublist(T, N - 1) ++ lists:nthtail(N, T);
                _ -> lists:sublist(T, N - 1) ++ [mutate(lists:nth(N, T), Rest, Op)]
                         ++ lists:nthtail(N, T)
            end
    catch error:badarg -> mutate_here(T, Op)
    end;
mutate(T, _, Op) ->
    mutate_here(T, Op).

mutate_here(_, {replace, New}) -> New;
mutate_here(T, delete) when is_map(T) -> maps:remove(hd(lists:sort(maps:keys(T)) ++ [x]), T);
mutate_here(_, delete) -> undefined;
mutate_here(T, {add_key, K}) when is_map(T) -> T#{K => K};
mutate_here(T, {add_key, K}) -> [K | T];
mutate_here(T, wrap) -> [T].

valid_input(node_info) ->
    #{version => <<"6.4.0-12-gabc1234">>, uptime_seconds => 3661, node_count => 2,
      component_count => 1, config_type => toml, host_type_count => 2, domain_count => 3,
      modules => [#{module => mod_mam, opts => #{backend => rdbms}},
                  #{module => mod_muc, opts => #{backend => mnesia, online_backend => cets}},
                  #{module => mod_event_pusher, opts => #{backend => [sns, push]}},
                  #{module => mod_acme}],
      http_handlers => [mongoose_bosh_handler, acme_handler],
      c2s_listeners => [#{proto => tcp, tls => #{mode => starttls, module => just_tls}},
                        #{proto => tcp}],
      outgoing_pools => [rdbms, http],
      stanza_counts => #{xmppMessageSent => 3, xmppIqSent => 1},
      previous_stanza_counts => #{xmppMessageSent => 2}};
valid_input(events) ->
    {ok, Events} = ?NIF:build_report(valid_input(node_info)),
    Events;
valid_input(opts) ->
    opts(closed_url(), #{max_retries => 0, timeout_ms => 1000, mode => collect}).
