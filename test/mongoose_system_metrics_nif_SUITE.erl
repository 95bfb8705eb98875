%%% @doc The engine API on the real NIF in a real VM: every NodeInfo field, every error path,
%%% input limits, and real sends to a GA4 stand-in HTTP server on 127.0.0.1
%%% (ga4_stub_server, started by the suite), including a hanging endpoint, cancel,
%%% overload, and the module answering when the native library is absent.
-module(mongoose_system_metrics_nif_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

-define(NIF, mongoose_system_metrics_nif).
-define(SECRET, "nif-suite-very-secret").
%% Only guards against a case hanging: every wait ends with the message it waits for.
-define(WAIT, 60000).

all() ->
    [{group, build}, {group, plan}, {group, send}, module_answers_without_library].

groups() ->
    [{build, [], [library_loaded, full_node_info, empty_node_info, custom_modules_counted_once,
                  list_option_is_sent_as_custom, version_sanitised, stanza_increment,
                  error_paths, unknown_key_error_creates_no_atom, hostile_sizes,
                  hostile_terms_answer, encode_json_round_trip, encode_json_rejects_foreign,
                  new_client_ids_are_uuids, release_rules_of_any_term,
                  non_latin1_module_is_a_custom_module, non_latin1_atoms_elsewhere_answer,
                  unaligned_huge_binaries_answer_everywhere]},
     {plan, [], [plan_batches_and_masks, plan_validate_mode, plan_error_paths,
                 plan_rejects_what_build_could_not_produce, unknown_params_refused_whatever_the_value]},
     {send, [], [send_two_tracking_ids_60_events, invalid_tracking_ids_stand_alone,
                long_tracking_ids_stand_alone,
                validate_mode_returns_messages,
                 hanging_endpoint_times_out, cancel_stops_send, cancel_all_stops_sends,
                 overload_rejects_at_once, notify_other_pid, connection_refused,
                 configure_errors, build_and_send_sends_what_it_built,
                 build_and_send_error_paths, built_report_sent_as_built, built_report_new_options,
                 altered_built_report_rechecked, send_refuses_unknown_params_whatever_the_value,
                 large_node_builds_and_sends, largest_node_is_reported_whole, many_distinct_atoms,
                 large_inputs_answer]}].

init_per_suite(Config) ->
    {ok, _} = application:ensure_all_started(jiffy),
    Config.

end_per_suite(_Config) ->
    ok.

init_per_group(send, Config) ->
    {ok, Server} = ga4_stub_server:start(),
    [{server, Server} | Config];
init_per_group(_, Config) ->
    Config.

end_per_group(send, Config) ->
    ga4_stub_server:stop(?config(server, Config));
end_per_group(_, _Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    case ?config(server, Config) of
        undefined -> ok;
        Server ->
            ga4_stub_server:reset(Server),
            ga4_stub_server:set_response(Server, #{status => 204, delay => 0, body => <<>>,
                                                   headers => []})
    end,
    Config.

end_per_testcase(_Case, _Config) ->
    ?NIF:cancel_all(),
    ok = ?NIF:configure(#{max_in_flight => 64}),
    flush(),
    ok.

%%% Fixtures

node_info() ->
    #{version => <<"6.8.0-12-gabc1234">>,
      uptime_seconds => 2 * 86400 + 3661,
      node_count => 3,
      component_count => 1,
      config_type => toml,
      host_type_count => 2,
      domain_count => 4,
      modules => [#{module => mod_mam, opts => #{backend => rdbms}},
                  #{module => mod_mam, opts => #{backend => cassandra}},
                  #{module => mod_muc, opts => #{backend => mnesia, online_backend => cets}},
                  #{module => mod_push_service_mongoosepush, opts => #{api_version => v3}},
                  #{module => mod_vcard, opts => #{backend => <<"ldap">>}},
                  #{module => mod_disco},
                  #{module => mod_ping},
                  #{module => mod_acme_internal, opts => #{backend => rdbms}}],
      http_handlers => [mongoose_bosh_handler, mongoose_websocket_handler,
                        mongoose_graphql_handler, acme_api_handler],
      c2s_listeners => [#{proto => tcp, tls => #{mode => starttls, module => just_tls}},
                        #{proto => tcp, tls => #{mode => tls, module => fast_tls}},
                        #{proto => tcp}],
      outgoing_pools => [rdbms, http, acme_pool],
      stanza_counts => #{xmppMessageSent => 12, xmppMessageReceived => 7,
                         xmppIqSent => 3, xmppIqReceived => 3,
                         xmppPresenceSent => 1, xmppPresenceReceived => 0},
      previous_stanza_counts => #{xmppMessageSent => 11, xmppIqSent => 5}}.

%% The report of node_info(), written by hand from the README's rules: mod_mam twice (one
%% event per module entry), mod_ping not a release's module and mod_acme_internal custom
%% (both counted), the private handler and pool left out, the TLS pairs distinct, sorted;
%% increments since the previous counts, the total where a counter went down or is new.
node_info_events() ->
    E = fun(Name, Params) -> #{name => Name, params => Params} end,
    M = fun(Params) -> E(<<"module_with_opt">>, Params) end,
    S = fun(Type, Total, Inc) -> E(<<"xmpp_stanza_count">>, #{<<"stanza_type">> => Type,
                                                              <<"total">> => Total,
                                                              <<"increment">> => Inc}) end,
    [E(<<"host_count">>, #{<<"value">> => 2}),
     E(<<"domain_count">>, #{<<"value">> => 4}),
     M(#{<<"module">> => <<"mod_mam">>, <<"backend">> => <<"rdbms">>}),
     M(#{<<"module">> => <<"mod_mam">>, <<"backend">> => <<"cassandra">>}),
     M(#{<<"module">> => <<"mod_muc">>, <<"backend">> => <<"mnesia">>,
         <<"online_backend">> => <<"cets">>}),
     M(#{<<"module">> => <<"mod_push_service_mongoosepush">>, <<"api_version">> => <<"v3">>}),
     M(#{<<"module">> => <<"mod_vcard">>, <<"backend">> => <<"ldap">>}),
     M(#{<<"module">> => <<"mod_disco">>}),
     E(<<"custom_module_count">>, #{<<"value">> => 2}),
     E(<<"cluster">>, #{<<"uptime">> => <<"0002-01:01:01">>, <<"version">> => <<"6.8.0-12-gabc1234">>,
                        <<"component">> => 1, <<"node_number">> => 3,
                        <<"config_type">> => <<"toml">>}),
     E(<<"http_api">>, #{<<"mongoose_bosh_handler">> => <<"enabled">>,
                         <<"mongoose_websocket_handler">> => <<"enabled">>,
                         <<"mongoose_graphql_handler">> => <<"enabled">>}),
     E(<<"transport_mechanism">>, #{<<"mongoose_bosh_handler">> => <<"enabled">>,
                                    <<"mongoose_websocket_handler">> => <<"enabled">>,
                                    <<"tcp">> => <<"enabled">>}),
     E(<<"tls_option">>, #{<<"mode">> => <<"tls">>, <<"module">> => <<"fast_tls">>}),
     E(<<"tls_option">>, #{<<"mode">> => <<"starttls">>, <<"module">> => <<"just_tls">>}),
     E(<<"outgoing_pool">>, #{<<"value">> => <<"rdbms">>}),
     E(<<"outgoing_pool">>, #{<<"value">> => <<"http">>}),
     S(<<"xmppMessageSent">>, 12, 1),
     S(<<"xmppMessageReceived">>, 7, 7),
     S(<<"xmppIqSent">>, 3, 3),
     S(<<"xmppIqReceived">>, 3, 3),
     S(<<"xmppPresenceSent">>, 1, 1),
     S(<<"xmppPresenceReceived">>, 0, 0)].

%% A request body as the stand-in received it: its client id and events.
decoded_body(Body) ->
    #{<<"client_id">> := C} = jiffy:decode(Body, [return_maps]),
    {C, msm_expected:decode_events(Body)}.

names(Events) -> [N || #{name := N} <- Events].

%% The events node_info() gives, in order.
node_info_event_names() ->
    [<<"host_count">>, <<"domain_count">>,
     <<"module_with_opt">>, <<"module_with_opt">>, <<"module_with_opt">>,
     <<"module_with_opt">>, <<"module_with_opt">>, <<"module_with_opt">>,
     <<"custom_module_count">>, <<"cluster">>, <<"http_api">>,
     <<"transport_mechanism">>, <<"tls_option">>, <<"tls_option">>,
     <<"outgoing_pool">>, <<"outgoing_pool">>,
     <<"xmpp_stanza_count">>, <<"xmpp_stanza_count">>, <<"xmpp_stanza_count">>,
     <<"xmpp_stanza_count">>, <<"xmpp_stanza_count">>, <<"xmpp_stanza_count">>].

by_name(Name, Events) -> [P || #{name := N, params := P} <- Events, N =:= Name].

opts(Server) ->
    opts(Server, #{}).

opts(Server, Extra) ->
    maps:merge(#{client_id => <<"suite-client-id">>,
                 tracking_ids => [#{id => "G-NIFSUITE1", secret => ?SECRET}],
                 url => ga4_stub_server:url(Server),
                 timeout_ms => 2000,
                 max_retries => 0}, Extra).

pool_events(N) ->
    [#{name => <<"outgoing_pool">>, params => #{<<"value">> => <<"rdbms">>}}
     || _ <- lists:seq(1, N)].

wait_result(Ref) ->
    wait_result(Ref, ?WAIT).

wait_result(Ref, Timeout) ->
    msm_reliability:wait_result(Ref, Timeout).

flush() ->
    msm_reliability:flush().

assert_no_secret(Term) ->
    Text = lists:flatten(io_lib:format("~p", [Term])),
    ?assertEqual(nomatch, string:find(Text, ?SECRET)).

%%% build group

library_loaded(_Config) ->
    ?assertEqual(none, ?NIF:load_error()).

full_node_info(_Config) ->
    {ok, Events} = ?NIF:build_report(node_info()),
    ?assertEqual(node_info_event_names(), names(Events)),
    ?assertEqual([#{<<"value">> => 2}], by_name(<<"host_count">>, Events)),
    ?assertEqual([#{<<"value">> => 4}], by_name(<<"domain_count">>, Events)),
    ?assertEqual([#{<<"module">> => <<"mod_mam">>, <<"backend">> => <<"rdbms">>},
                  #{<<"module">> => <<"mod_mam">>, <<"backend">> => <<"cassandra">>},
                  #{<<"module">> => <<"mod_muc">>, <<"backend">> => <<"mnesia">>,
                    <<"online_backend">> => <<"cets">>},
                  #{<<"module">> => <<"mod_push_service_mongoosepush">>,
                    <<"api_version">> => <<"v3">>},
                  #{<<"module">> => <<"mod_vcard">>, <<"backend">> => <<"ldap">>},
                  #{<<"module">> => <<"mod_disco">>}],
                 by_name(<<"module_with_opt">>, Events)),
    ?assertEqual([#{<<"value">> => 2}], by_name(<<"custom_module_count">>, Events)),
    ?assertEqual([#{<<"uptime">> => <<"0002-01:01:01">>, <<"version">> => <<"6.8.0-12-gabc1234">>,
                    <<"component">> => 1, <<"node_number">> => 3,
                    <<"config_type">> => <<"toml">>}],
                 by_name(<<"cluster">>, Events)),
    ?assertEqual([#{<<"mongoose_bosh_handler">> => <<"enabled">>,
                    <<"mongoose_websocket_handler">> => <<"enabled">>,
                    <<"mongoose_graphql_handler">> => <<"enabled">>}],
                 by_name(<<"http_api">>, Events)),
    ?assertEqual([#{<<"mongoose_bosh_handler">> => <<"enabled">>,
                    <<"mongoose_websocket_handler">> => <<"enabled">>,
                    <<"tcp">> => <<"enabled">>}],
                 by_name(<<"transport_mechanism">>, Events)),
    ?assertEqual([#{<<"mode">> => <<"tls">>, <<"module">> => <<"fast_tls">>},
                  #{<<"mode">> => <<"starttls">>, <<"module">> => <<"just_tls">>}],
                 by_name(<<"tls_option">>, Events)),
    ?assertEqual([#{<<"value">> => <<"rdbms">>}, #{<<"value">> => <<"http">>}],
                 by_name(<<"outgoing_pool">>, Events)),
    Stanzas = by_name(<<"xmpp_stanza_count">>, Events),
    ?assertEqual([<<"xmppMessageSent">>, <<"xmppMessageReceived">>, <<"xmppIqSent">>,
                  <<"xmppIqReceived">>, <<"xmppPresenceSent">>, <<"xmppPresenceReceived">>],
                 [T || #{<<"stanza_type">> := T} <- Stanzas]),
    %% The whole report, event by event.
    ?assertEqual(node_info_events(), Events),
    %% Deterministic.
    ?assertEqual({ok, Events}, ?NIF:build_report(node_info())).

empty_node_info(_Config) ->
    {ok, Events} = ?NIF:build_report(#{}),
    ?assertEqual([<<"custom_module_count">>, <<"cluster">>, <<"http_api">>,
                  <<"transport_mechanism">>], names(Events)),
    ?assertEqual([#{}], by_name(<<"http_api">>, Events)),
    ?assertEqual([#{}], by_name(<<"transport_mechanism">>, Events)).

custom_modules_counted_once(_Config) ->
    Mods = [#{module => M} || M <- [mod_acme, mod_acme, mod_other, mod_mam, mod_acme]],
    {ok, Events} = ?NIF:build_report(#{modules => Mods}),
    ?assertEqual([#{<<"value">> => 2}], by_name(<<"custom_module_count">>, Events)),
    ?assertEqual([#{<<"module">> => <<"mod_mam">>}], by_name(<<"module_with_opt">>, Events)),
    assert_absent(<<"acme">>, Events).

%% One event per module entry, as MongooseIM's; a list is no value GA4 takes.
list_option_is_sent_as_custom(_Config) ->
    Mods = [#{module => mod_event_pusher, opts => #{backend => [sns, push, http, rabbit]}}],
    {ok, Events} = ?NIF:build_report(#{modules => Mods}),
    ?assertEqual([#{<<"module">> => <<"mod_event_pusher">>, <<"backend">> => <<"custom">>}],
                 by_name(<<"module_with_opt">>, Events)).

version_sanitised(_Config) ->
    Check = fun(Given, Sent) ->
                    {ok, Events} = ?NIF:build_report(#{version => Given}),
                    ?assertEqual([#{<<"version">> => Sent}], by_name(<<"cluster">>, Events))
            end,
    Check(<<"6.4.0-acme-prod">>, <<"6.4.0">>),
    Check(<<"6.4.0-12-gabc1234">>, <<"6.4.0-12-gabc1234">>),
    Check(<<"6.3">>, <<"6.3">>),
    Check(<<"acme-build">>, <<"unknown">>).

stanza_increment(_Config) ->
    Info = #{stanza_counts => #{xmppMessageSent => 5, xmppIqSent => 2},
             previous_stanza_counts => #{xmppMessageSent => 4, xmppIqSent => 9}},
    {ok, Events} = ?NIF:build_report(Info),
    ?assertEqual([#{<<"stanza_type">> => <<"xmppMessageSent">>, <<"total">> => 5,
                    <<"increment">> => 1},
                  #{<<"stanza_type">> => <<"xmppIqSent">>, <<"total">> => 2,
                    <<"increment">> => 2}],
                 by_name(<<"xmpp_stanza_count">>, Events)).

error_paths(_Config) ->
    Cases = [{not_a_map, []},
             {#{bogus => 1}, [bogus]},
             {#{version => "6.4.0"}, [version]},
             {#{uptime_seconds => -1}, [uptime_seconds]},
             {#{node_count => 0}, [node_count]},
             {#{component_count => 1.5}, [component_count]},
             {#{config_type => yaml}, [config_type]},
             {#{host_type_count => <<"2">>}, [host_type_count]},
             {#{domain_count => self()}, [domain_count]},
             {#{modules => #{}}, [modules]},
             {#{modules => [#{module => a}, #{module => b}, #{opts => #{}}]}, [modules, 3]},
             {#{modules => [#{module => a}, #{module => b},
                            #{module => c, opts => #{backend => {tuple}}}]},
              [modules, 3, opts, backend]},
             {#{modules => [#{module => <<"mod_mam">>}]}, [modules, 1, module]},
             {#{modules => [#{module => a, opts => #{backend => [1]}}]},
              [modules, 1, opts, backend, 1]},
             {#{modules => [#{module => a, opts => [backend]}]}, [modules, 1, opts]},
             {#{http_handlers => [a, "b"]}, [http_handlers, 2]},
             {#{c2s_listeners => [#{proto => tcp, tls => #{mode => tls}}]},
              [c2s_listeners, 1, tls]},
             {#{c2s_listeners => [#{tls => #{mode => tls, module => just_tls}}]},
              [c2s_listeners, 1]},
             {#{outgoing_pools => [rdbms | redis]}, [outgoing_pools]},
             {#{stanza_counts => #{xmppIqSent => -5}}, [stanza_counts, xmppIqSent]},
             {#{previous_stanza_counts => #{<<"x">> => 1}}, [previous_stanza_counts]},
             {#{version => <<255, 254>>}, [version]}],
    lists:foreach(
      fun({Input, Path}) ->
              case ?NIF:build_report(Input) of
                  {error, {invalid_input, Path, Reason}} when is_binary(Reason), Reason =/= <<>> ->
                      ok;
                  Other ->
                      ct:fail({unexpected, Input, Path, Other})
              end
      end, Cases).

unknown_key_error_creates_no_atom(_Config) ->
    %% A binary key never becomes an atom, in the answer or anywhere else.
    Key = <<"surely_not_an_existing_atom_", (integer_to_binary(erlang:unique_integer([positive])))/binary>>,
    Before = erlang:system_info(atom_count),
    Result = ?NIF:encode_json([#{name => <<"host_count">>, params => #{Key => {x}}}]),
    After = erlang:system_info(atom_count),
    ?assertMatch({error, {invalid_input, [1, params, Key], _}}, Result),
    ?assertEqual(Before, After).

hostile_sizes(_Config) ->
    ?assertMatch({error, {invalid_input, [modules], _}},
                 ?NIF:build_report(#{modules => lists:duplicate(10001, #{module => a})})),
    %% 10,000 in total, across lists.
    ?assertMatch({error, {invalid_input, [_], <<"more than 10000 list items in total">>}},
                 ?NIF:build_report(#{outgoing_pools => lists:duplicate(6000, rdbms),
                                     http_handlers => lists:duplicate(6000, x)})),
    ?assertMatch({ok, _},
                 ?NIF:build_report(#{outgoing_pools => lists:duplicate(9000, rdbms)})),
    ?assertMatch({error, {invalid_input, [version], _}},
                 ?NIF:build_report(#{version => binary:copy(<<"1">>, 257)})),
    ?assertMatch({error, {invalid_input, [modules, 1, opts, backend, 1], _}},
                 ?NIF:build_report(#{modules => [#{module => a,
                                                   opts => #{backend => [[deep]]}}]})),
    Deep = lists:foldl(fun(_, Acc) -> [Acc] end, x, lists:seq(1, 100000)),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:build_report(#{modules => Deep})),
    ?assertMatch({error, {invalid_input, [], <<"more than 20000 list items in total">>}},
                 ?NIF:encode_json(lists:duplicate(20001, #{}))),
    %% Map entries have a limit of their own: 100,000 in all.
    Wide = maps:from_list([{I, x} || I <- lists:seq(1, 100001)]),
    ?assertMatch({error, {invalid_input, [], <<"more than 100000 map entries in total">>}},
                 ?NIF:build_report(Wide)).

hostile_terms_answer(_Config) ->
    Terms = [self(), make_ref(), fun() -> ok end, {a, b}, 1.5, <<1:3>>, [a | b],
             1 bsl 100, -1, #{1 => 2}, hd(erlang:ports())],
    Before = erlang:system_info(atom_count),
    [begin
         ?assertMatch({error, {invalid_input, _, _}}, ?NIF:build_report(T)),
         ?assertMatch({error, {invalid_input, _, _}}, ?NIF:build_report(#{version => T})),
         ?assertMatch({error, _}, ?NIF:encode_json(T)),
         ?assertMatch({error, {invalid_input, _, _}}, ?NIF:plan_requests([], T)),
         ?assertMatch({error, {invalid_input, _, _}}, ?NIF:send_report(T, T))
     end || T <- Terms],
    ?assertEqual(Before, erlang:system_info(atom_count)).

encode_json_round_trip(_Config) ->
    {ok, Events} = ?NIF:build_report(node_info()),
    {ok, Json} = ?NIF:encode_json(Events),
    ?assertMatch(<<"[\n  {\n", _/binary>>, Json),
    ?assertEqual(node_info_events(), msm_expected:decode_events(Json)).

encode_json_rejects_foreign(_Config) ->
    ?assertMatch({error, {invalid_input, [2], _}},
                 ?NIF:encode_json([#{name => <<"host_count">>, params => #{<<"value">> => 1}},
                                   #{name => <<"page_view">>, params => #{}}])),
    ?assertMatch({error, {invalid_input, [1], _}},
                 ?NIF:encode_json([#{name => <<"module_with_opt">>,
                                     params => #{<<"module">> => <<"mod_acme">>}}])).

%% A random version 4 UUID each time, as lowercase hyphenated text.
new_client_ids_are_uuids(_Config) ->
    Ids = [?NIF:new_client_id() || _ <- lists:seq(1, 100)],
    ?assertEqual(100, length(lists:usort(Ids))),
    [?assertMatch({match, _},
                  re:run(Id, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"))
     || Id <- Ids].

%% Anything that is not a release's version gets the latest line's rules, never an error.
release_rules_of_any_term(_Config) ->
    {ok, Latest} = ?NIF:release_rules(undefined),
    ?assertMatch(#{release := <<"6.", _/binary>>}, Latest),
    [?assertEqual({ok, Latest}, ?NIF:release_rules(T))
     || T <- [<<>>, <<"7.0">>, binary:copy(<<"6.1">>, 100), "6.1.0", {6, 1}, self()]],
    ?assertMatch({ok, #{release := <<"6.1">>, components := ejabberd_router}},
                 ?NIF:release_rules(<<"6.1.0">>)).

%%% plan group

plan_batches_and_masks(_Config) ->
    Opts = #{client_id => "c-1",
             tracking_ids => [#{id => <<"G-ONE">>, secret => <<?SECRET>>},
                              #{id => "UA-EXTRA-TRACKING-ID", secret => ?SECRET},
                              #{id => <<"G-ONE">>, secret => <<"dup">>}],
             url => <<"http://127.0.0.1:1/mp/collect">>},
    {ok, Requests} = ?NIF:plan_requests(pool_events(60), Opts),
    ?assertEqual([<<"G-ONE">>, <<"G-ONE">>, <<"G-ONE">>, <<"UA-EXTRA-TRACKING-ID">>,
                  <<"UA-EXTRA-TRACKING-ID">>, <<"UA-EXTRA-TRACKING-ID">>],
                 [T || #{tracking_id := T} <- Requests]),
    [#{url := Url} | _] = Requests,
    ?assertEqual(<<"http://127.0.0.1:1/mp/collect?measurement_id=G-ONE&api_secret=***">>, Url),
    Counts = [length(maps:get(<<"events">>, jiffy:decode(B, [return_maps])))
              || #{body := B} <- Requests],
    ?assertEqual([25, 25, 10, 25, 25, 10], Counts),
    assert_no_secret(Requests),
    %% Default endpoint is GA4's; nothing is sent by planning.
    {ok, [#{url := DefaultUrl}]} =
        ?NIF:plan_requests(pool_events(1), maps:remove(url, Opts#{tracking_ids =>
                                                                      [#{id => "G-X", secret => "s"}]})),
    ?assertMatch(<<"https://www.google-analytics.com/mp/collect?", _/binary>>, DefaultUrl).

plan_validate_mode(_Config) ->
    {ok, [#{url := Url, body := Body}]} =
        ?NIF:plan_requests(pool_events(2), #{client_id => <<"c">>, mode => validate,
                                             tracking_ids => [#{id => "G-V", secret => "s"}],
                                             url => "http://127.0.0.1:1/mp/collect"}),
    ?assertMatch(<<"http://127.0.0.1:1/debug/mp/collect?", _/binary>>, Url),
    ?assertMatch(#{<<"validation_behavior">> := <<"ENFORCE_RECOMMENDATIONS">>},
                 jiffy:decode(Body, [return_maps])).

plan_error_paths(_Config) ->
    Good = #{client_id => <<"c">>, tracking_ids => [#{id => "G-1", secret => ?SECRET}]},
    Cases = [{maps:remove(client_id, Good), [opts]},
             {Good#{client_id => <<"has space">>}, [opts, client_id]},
             {Good#{tracking_ids => []}, [opts, tracking_ids]},
             {Good#{tracking_ids => [#{id => "G-1", secret => "s"}, #{id => "G-2"}]},
              [opts, tracking_ids, 2]},
             {Good#{tracking_ids => [#{id => "G-" ++ integer_to_list(I), secret => "s"}
                                     || I <- lists:seq(1, 17)]},
              [opts, tracking_ids]},
             {Good#{url => "gopher://127.0.0.1/"}, [opts, url]},
             {Good#{mode => debug}, [opts, mode]},
             {Good#{timeout_ms => 0}, [opts, timeout_ms]},
             {Good#{max_retries => -1}, [opts, max_retries]},
             {Good#{cacertfile => <<>>}, [opts, cacertfile]},
             {Good#{notify => not_a_pid}, [opts, notify]},
             {Good#{extra => 1}, [opts, extra]}],
    lists:foreach(
      fun({Opts, Path}) ->
              R1 = ?NIF:plan_requests(pool_events(1), Opts),
              R2 = ?NIF:send_report(pool_events(1), Opts),
              ?assertMatch({error, {invalid_input, Path, _}}, R1),
              ?assertMatch({error, {invalid_input, Path, _}}, R2),
              assert_no_secret({R1, R2})
      end, Cases),
    %% A binary key shows as an atom in the path only when that atom already exists.
    ?assertMatch({error, {invalid_input, [events, 1, params, value], _}},
                 ?NIF:plan_requests([#{name => <<"host_count">>,
                                       params => #{<<"value">> => 1.5}}], Good)).

%% The send-time check refuses any param name the README does not list for the event,
%% whatever its value: `custom' (what an option value off its list is sent as) included, and
%% an option of another module; each answer names the event.
unknown_params_refused_whatever_the_value(_Config) ->
    Good = #{client_id => <<"c">>, tracking_ids => [#{id => "G-1", secret => "s"}]},
    Module = fun(Params) -> #{name => <<"module_with_opt">>,
                              params => Params#{<<"module">> => <<"mod_mam">>}} end,
    Foreign = [Module(#{<<"host">> => <<"custom">>}),
               Module(#{<<"acme_option">> => <<"custom">>}),
               Module(#{<<"online_backend">> => <<"custom">>}),
               Module(#{<<"api_version">> => <<"custom">>}),
               Module(#{<<"backend">> => <<"custom">>, <<"bogus">> => <<"custom">>}),
               Module(#{<<"module_name">> => <<"custom">>}),
               #{name => <<"module_with_opt">>,
                 params => #{<<"module">> => <<"mod_adhoc">>, <<"backend">> => <<"custom">>}},
               #{name => <<"host_count">>, params => #{<<"value">> => 1, <<"x">> => <<"custom">>}},
               #{name => <<"cluster">>, params => #{<<"host">> => <<"custom">>}},
               #{name => <<"tls_option">>, params => #{<<"mode">> => <<"tls">>,
                                                        <<"module">> => <<"just_tls">>,
                                                        <<"cert">> => <<"custom">>}},
               #{name => <<"outgoing_pool">>, params => #{<<"value">> => <<"custom">>}},
               #{name => <<"http_api">>, params => #{<<"acme_handler">> => <<"custom">>}}],
    [?assertMatch({error, {invalid_input, [events, 1], _}}, ?NIF:plan_requests([E], Good))
     || E <- Foreign],
    %% The same events with their params on the README's lists are taken.
    Taken = [Module(#{<<"backend">> => <<"custom">>}),
             #{name => <<"module_with_opt">>,
               params => #{<<"module">> => <<"mod_muc">>, <<"online_backend">> => <<"custom">>}},
             #{name => <<"module_with_opt">>,
               params => #{<<"module">> => <<"mod_push_service_mongoosepush">>,
                           <<"api_version">> => <<"custom">>}}],
    ?assertMatch({ok, [_]}, ?NIF:plan_requests(Taken, Good)).

plan_rejects_what_build_could_not_produce(_Config) ->
    Good = #{client_id => <<"c">>, tracking_ids => [#{id => "G-1", secret => "s"}]},
    Foreign = [#{name => <<"cluster">>, params => #{<<"version">> => <<"6.4.0-acme">>}},
               #{name => <<"module_with_opt">>, params => #{<<"module">> => <<"mod_acme">>}},
               #{name => <<"module_with_opt">>,
                 params => #{<<"module">> => <<"mod_mam">>, <<"host">> => <<"x.com">>}},
               #{name => <<"outgoing_pool">>, params => #{<<"value">> => <<"acme">>}},
               #{name => <<"custom_event">>, params => #{}}],
    [?assertMatch({error, {invalid_input, [events, 1], _}}, ?NIF:plan_requests([E], Good))
     || E <- Foreign].

%%% send group

send_two_tracking_ids_60_events(Config) ->
    Server = ?config(server, Config),
    {ok, Events} = ?NIF:build_report(node_info()),
    Sixty = lists:sublist(Events ++ pool_events(60), 60),
    Opts = opts(Server, #{tracking_ids => [#{id => "G-NIFSUITE1", secret => ?SECRET},
                                           #{id => <<"UA-EXTRA-TRACKING-ID">>,
                                             secret => <<"second-secret">>}]}),
    {ok, Ref} = ?NIF:send_report(Sixty, Opts),
    Results = wait_result(Ref),
    ?assertEqual(lists:sort([#{tracking_id => <<"G-NIFSUITE1">>, result => ok, batches => 3,
                               requests => 3, events => 60},
                             #{tracking_id => <<"UA-EXTRA-TRACKING-ID">>, result => ok,
                               batches => 3, requests => 3, events => 60}]),
                 lists:sort(Results)),
    assert_no_secret(Results),
    Requests = ga4_stub_server:requests(Server),
    ?assertEqual(6, length(Requests)),
    ?assertEqual([], ga4_stub_server:violations(Server)),
    Received = ga4_stub_server:events(Server),
    ?assertEqual(120, length(Received)),
    ?assertEqual([<<"suite-client-id">>], lists:usort([C || #{client_id := C} <- Received])),
    ?assertEqual(lists:sort([<<?SECRET>>, <<"second-secret">>]),
                 lists:usort([S || #{api_secret := S} <- Received])).

%% A typo in one id, or an empty secret, does not stop the other ids (contract).
invalid_tracking_ids_stand_alone(Config) ->
    Server = ?config(server, Config),
    Opts = opts(Server, #{tracking_ids => [#{id => "G-TYPO ", secret => "typo-secret"},
                                           #{id => "G-GOOD", secret => ?SECRET},
                                           #{id => "G-EMPTY", secret => ""}]}),
    {ok, Ref} = ?NIF:send_report(pool_events(3), Opts),
    Results = wait_result(Ref),
    ?assertEqual([#{tracking_id => <<"G-TYPO ">>, result => {error, invalid_tracking_id},
                    batches => 0, requests => 0, events => 0},
                  #{tracking_id => <<"G-GOOD">>, result => ok, batches => 1, requests => 1,
                    events => 3},
                  #{tracking_id => <<"G-EMPTY">>, result => {error, invalid_tracking_id},
                    batches => 0, requests => 0, events => 0}], Results),
    ?assertEqual(nomatch, string:find(io_lib:format("~p", [Results]), "typo-secret")),
    ?assertEqual([<<"G-GOOD">>], lists:usort([maps:get(<<"measurement_id">>, Q)
                                            || #{query := Q} <- ga4_stub_server:requests(Server)])).

%% A tracking id longer than a NodeInfo binary may be stands alone too, and a long secret is
%% sent as given (MongooseIM sends what it is configured with); only an options binary over
%% 4,096 bytes refuses the send, by its path and without quoting it.
long_tracking_ids_stand_alone(Config) ->
    Server = ?config(server, Config),
    LongId = binary:copy(<<"G">>, 300),
    LongSecret = binary:copy(<<"s">>, 300),
    Opts = opts(Server, #{tracking_ids => [#{id => LongId, secret => <<"x">>},
                                           #{id => <<"G-LONGSECRET">>, secret => LongSecret}]}),
    {ok, Ref} = ?NIF:send_report(pool_events(2), Opts),
    ?assertEqual([#{tracking_id => LongId, result => {error, invalid_tracking_id},
                    batches => 0, requests => 0, events => 0},
                  #{tracking_id => <<"G-LONGSECRET">>, result => ok, batches => 1,
                    requests => 1, events => 2}], wait_result(Ref)),
    ?assertEqual([{<<"G-LONGSECRET">>, LongSecret}],
                 [{maps:get(<<"measurement_id">>, Q), maps:get(<<"api_secret">>, Q)}
                  || #{query := Q} <- ga4_stub_server:requests(Server)]),
    Huge = binary:copy(<<"h">>, 4097),
    Refused = ?NIF:send_report(pool_events(1),
                               opts(Server, #{tracking_ids => [#{id => <<"G-A">>,
                                                                 secret => Huge}]})),
    ?assertMatch({error, {invalid_input, [opts, tracking_ids, 1, secret],
                          <<"binary longer than 4096 bytes">>}}, Refused),
    ?assertMatch({error, {invalid_input, [opts, cacertfile], _}},
                 ?NIF:send_report(pool_events(1), opts(Server, #{cacertfile => Huge}))).

validate_mode_returns_messages(Config) ->
    Server = ?config(server, Config),
    Msg = #{<<"fieldPath">> => <<"events">>, <<"description">> => <<"Event name is invalid">>,
            <<"validationCode">> => <<"NAME_INVALID">>},
    ga4_stub_server:set_response(Server, #{status => 200, delay => 0, headers => [],
                                           body => jiffy:encode(#{<<"validationMessages">> => [Msg]})}),
    {ok, Ref} = ?NIF:send_report(pool_events(30), opts(Server, #{mode => validate})),
    [Result] = wait_result(Ref),
    ?assertMatch(#{result := ok, batches := 2, requests := 2, events := 30}, Result),
    ?assertEqual([Msg, Msg], maps:get(validation_messages, Result)),
    Paths = [P || #{path := P} <- ga4_stub_server:requests(Server)],
    ?assertEqual([<<"/debug/mp/collect">>, <<"/debug/mp/collect">>], Paths),
    %% The stand-in's own strict check: a valid report yields no messages.
    ga4_stub_server:set_response(Server, #{status => 200, delay => 0, headers => [], body => <<>>}),
    {ok, Events} = ?NIF:build_report(node_info()),
    {ok, Ref2} = ?NIF:send_report(Events, opts(Server, #{mode => validate})),
    ?assertMatch([#{result := ok, validation_messages := []}], wait_result(Ref2)).

hanging_endpoint_times_out(Config) ->
    Server = ?config(server, Config),
    ga4_stub_server:set_response(Server, #{status => 204, delay => 3000, body => <<>>,
                                           headers => []}),
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(Server, #{timeout_ms => 300,
                                                                 max_retries => 1})),
    %% The call returned while the endpoint is still holding the request.
    receive {mongoose_system_metrics_sent, Ref, _} -> ct:fail(answered_too_early)
    after 0 -> ok
    end,
    [Result] = wait_result(Ref),
    ?assertMatch(#{result := {error, timeout}, batches := 1, requests := 2, events := 0},
                 Result).

cancel_stops_send(Config) ->
    Server = ?config(server, Config),
    ga4_stub_server:set_response(Server, #{status => 204, delay => 120000, body => <<>>,
                                           headers => []}),
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(Server, #{timeout_ms => 300000})),
    ok = ga4_stub_server:wait_for_requests(Server, 1, ?WAIT),
    ok = ?NIF:cancel(Ref),
    [Result] = wait_result(Ref, ?WAIT),
    ?assertMatch(#{result := {error, cancelled}, events := 0}, Result),
    ?assertEqual(ok, ?NIF:cancel(Ref)),
    ?assertMatch({error, {invalid_input, [], _}}, ?NIF:cancel(not_a_ref)).

cancel_all_stops_sends(Config) ->
    Server = ?config(server, Config),
    ga4_stub_server:set_response(Server, #{status => 204, delay => 120000, body => <<>>,
                                           headers => []}),
    Refs = [begin {ok, R} = ?NIF:send_report(pool_events(1), opts(Server, #{timeout_ms => 300000})), R end
            || _ <- lists:seq(1, 5)],
    ok = ga4_stub_server:wait_for_requests(Server, 5, ?WAIT),
    ok = ?NIF:cancel_all(),
    [?assertMatch([#{result := {error, cancelled}}], wait_result(R, ?WAIT)) || R <- Refs].

overload_rejects_at_once(Config) ->
    Server = ?config(server, Config),
    ga4_stub_server:set_response(Server, #{status => 204, delay => 120000, body => <<>>,
                                           headers => []}),
    ok = ?NIF:configure(#{max_in_flight => 2}),
    {ok, R1} = ?NIF:send_report(pool_events(1), opts(Server, #{timeout_ms => 300000})),
    {ok, R2} = ?NIF:send_report(pool_events(1), opts(Server, #{timeout_ms => 300000})),
    ?assertEqual({error, overloaded},
                 ?NIF:send_report(pool_events(1), opts(Server, #{timeout_ms => 300000}))),
    ok = ?NIF:cancel(R1),
    ?assertMatch([#{result := {error, cancelled}}], wait_result(R1, ?WAIT)),
    {ok, R3} = ?NIF:send_report(pool_events(1), opts(Server, #{timeout_ms => 300000})),
    ok = ?NIF:cancel_all(),
    [?assertMatch([#{result := {error, cancelled}}], wait_result(R, ?WAIT)) || R <- [R2, R3]].

notify_other_pid(Config) ->
    Server = ?config(server, Config),
    Self = self(),
    Listener = spawn_link(fun() ->
                                  receive {mongoose_system_metrics_sent, R, Res} ->
                                          Self ! {listener_got, R, Res}
                                  end
                          end),
    {ok, Ref} = ?NIF:send_report(pool_events(1), opts(Server, #{notify => Listener})),
    receive {listener_got, Ref, [#{result := ok}]} -> ok
    after ?WAIT -> ct:fail(listener_not_notified)
    end,
    %% A later send to the caller answers after the first one's answer went out: by then a
    %% message of the first send to the caller would be here already.
    {ok, Ref2} = ?NIF:send_report(pool_events(1), opts(Server)),
    [#{result := ok}] = wait_result(Ref2),
    receive {mongoose_system_metrics_sent, Ref, _} -> ct:fail(caller_notified)
    after 0 -> ok
    end.

connection_refused(_Config) ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    gen_tcp:close(L),
    Url = "http://127.0.0.1:" ++ integer_to_list(Port) ++ "/mp/collect",
    {ok, Ref} = ?NIF:send_report(pool_events(1), #{client_id => <<"c">>, url => Url,
                                                  tracking_ids => [#{id => "G-R", secret => ?SECRET}],
                                                  max_retries => 0}),
    [Result] = wait_result(Ref),
    ?assertMatch(#{result := {error, connect_error}, requests := 1, events := 0}, Result),
    assert_no_secret(Result).

configure_errors(_Config) ->
    ?assertMatch({error, {invalid_input, [max_in_flight], _}},
                 ?NIF:configure(#{max_in_flight => 0})),
    ?assertMatch({error, {invalid_input, [], _}}, ?NIF:configure(#{other => 1})),
    ?assertMatch({error, {invalid_input, [], _}}, ?NIF:configure(not_a_map)),
    ?assertEqual(ok, ?NIF:configure(#{max_in_flight => 64})).

%%% Without the library

module_answers_without_library(Config) ->
    %% A copy of the application without priv/*.so, in a fresh VM.
    Root = filename:join(?config(priv_dir, Config), "lib/mongoose_system_metrics-0.0.0"),
    Ebin = filename:join(Root, "ebin"),
    ok = filelib:ensure_dir(filename:join(Ebin, "x")),
    ok = filelib:ensure_dir(filename:join([Root, "priv", "x"])),
    SrcEbin = filename:dirname(code:which(?NIF)),
    %% Files only: the test directory also holds sub-directories (test/host).
    [{ok, _} = file:copy(F, filename:join(Ebin, filename:basename(F)))
     || F <- filelib:wildcard(filename:join(SrcEbin, "*")), filelib:is_regular(F)],
    {ok, Peer, _Node} = peer:start_link(#{connection => standard_io,
                                          args => ["-pa", Ebin]}),
    try
        ?assertEqual(Ebin, filename:dirname(peer:call(Peer, code, which, [?NIF]))),
        ?assertMatch({error, {nif_not_loaded, _}}, peer:call(Peer, ?NIF, build_report, [#{}])),
        ?assertMatch({error, {nif_not_loaded, _}}, peer:call(Peer, ?NIF, send_report, [[], #{}])),
        ?assertMatch({error, {nif_not_loaded, _}}, peer:call(Peer, ?NIF, cancel_all, [])),
        ?assertMatch({error, {nif_not_loaded, _}}, peer:call(Peer, ?NIF, new_client_id, [])),
        ?assertMatch({error, {nif_not_loaded, _}},
                     peer:call(Peer, ?NIF, release_rules, [<<"6.1.0">>])),
        ?assertNotEqual(none, peer:call(Peer, ?NIF, load_error, []))
    after
        peer:stop(Peer)
    end.

%% build_and_send/2 (the service's path) answers the events build_report/1 gives and sends
%% exactly those: the collector receives the 22 events of node_info(), in order, for the
%% configured client and tracking id.
build_and_send_sends_what_it_built(Config) ->
    Server = ?config(server, Config),
    {ok, Events, Ref} = ?NIF:build_and_send(node_info(), opts(Server)),
    ?assertEqual(node_info_events(), Events),
    ?assertMatch([#{tracking_id := <<"G-NIFSUITE1">>, result := ok, events := 22,
                    batches := 1, requests := 1}], wait_result(Ref)),
    Received = ga4_stub_server:events(Server),
    ?assertEqual(node_info_event_names(), [N || #{name := N} <- Received]),
    ?assertEqual([{<<"suite-client-id">>, <<"G-NIFSUITE1">>, <<?SECRET>>}],
                 lists:usort([{C, M, S} || #{client_id := C, measurement_id := M,
                                             api_secret := S} <- Received])),
    ?assertEqual([], ga4_stub_server:violations(Server)).

%% Errors name the argument first, and nothing is sent; a full engine says overloaded.
build_and_send_error_paths(Config) ->
    Server = ?config(server, Config),
    ?assertMatch({error, {invalid_input, [node_info, modules], _}},
                 ?NIF:build_and_send(#{modules => oops}, opts(Server))),
    ?assertMatch({error, {invalid_input, [node_info], _}},
                 ?NIF:build_and_send(not_a_map, opts(Server))),
    ?assertMatch({error, {invalid_input, [opts, client_id], _}},
                 ?NIF:build_and_send(node_info(), opts(Server, #{client_id => <<"bad id!">>}))),
    ?assertMatch({error, {invalid_input, [opts, notify], _}},
                 ?NIF:build_and_send(node_info(), opts(Server, #{notify => self_please}))),
    ?assertEqual([], ga4_stub_server:requests(Server)),
    ga4_stub_server:set_response(Server, #{status => 204, delay => 10000, body => <<>>,
                                           headers => []}),
    ok = ?NIF:configure(#{max_in_flight => 1}),
    {ok, _, R1} = ?NIF:build_and_send(node_info(), opts(Server, #{timeout_ms => 60000})),
    ?assertEqual({error, overloaded},
                 ?NIF:build_and_send(node_info(), opts(Server, #{timeout_ms => 60000}))),
    ok = ?NIF:cancel_all(),
    ?assertMatch([#{result := {error, cancelled}}], wait_result(R1)).

%% A built report is sent as built: the requests are byte for byte the ones planned for it,
%% whether the events are the built term itself, a copy of it, or spelled differently where
%% the check accepts it (an atom for a binary name).
built_report_sent_as_built(Config) ->
    Server = ?config(server, Config),
    {ok, Events} = ?NIF:build_report(node_info()),
    Opts = opts(Server),
    Copy = binary_to_term(term_to_binary(Events)),
    [First = #{name := Name} | Others] = Events,
    AtomName = [First#{name := binary_to_atom(Name)} | Others],
    [begin
         {ok, Ref} = ?NIF:send_report(E, Opts),
         ?assertMatch([#{result := ok, requests := 1, events := 22}], wait_result(Ref))
     end || E <- [Events, Copy, AtomName]],
    %% Each send: one request (22 events) carrying the report written down by hand.
    Expected = {<<"suite-client-id">>, node_info_events()},
    ?assertEqual([Expected, Expected, Expected],
                 [decoded_body(B) || #{body := B} <- ga4_stub_server:requests(Server)]),
    ?assertEqual([], ga4_stub_server:violations(Server)).

%% Sends of one built report with other options use those options, not the previous ones.
built_report_new_options(Config) ->
    Server = ?config(server, Config),
    {ok, Events} = ?NIF:build_report(node_info()),
    Send = fun(Opts) ->
                   {ok, Ref} = ?NIF:send_report(Events, Opts),
                   ?assertMatch([#{result := ok}], wait_result(Ref))
           end,
    Send(opts(Server)),
    Send(opts(Server, #{client_id => <<"other-client">>,
                        tracking_ids => [#{id => <<"G-OTHER">>, secret => <<"other-secret">>}]})),
    Send(opts(Server)),
    Received = ga4_stub_server:events(Server),
    N = length(Events),
    ?assertEqual(3 * N, length(Received)),
    {First, Rest} = lists:split(N, Received),
    {Second, Third} = lists:split(N, Rest),
    Ids = fun(Es) -> lists:usort([{C, M, S} || #{client_id := C, measurement_id := M,
                                                  api_secret := S} <- Es]) end,
    ?assertEqual([{<<"suite-client-id">>, <<"G-NIFSUITE1">>, <<?SECRET>>}], Ids(First)),
    ?assertEqual([{<<"other-client">>, <<"G-OTHER">>, <<"other-secret">>}], Ids(Second)),
    ?assertEqual(Ids(First), Ids(Third)),
    %% Bad options of a built report are errors with their path.
    ?assertMatch({error, {invalid_input, [opts, client_id], _}},
                 ?NIF:send_report(Events, opts(Server, #{client_id => <<"bad id!">>}))).

%% A built report altered in any way is checked again and refused: a changed module, an
%% added param, a float where an integer was; before and after sends of the unaltered one.
altered_built_report_rechecked(Config) ->
    Server = ?config(server, Config),
    {ok, Events} = ?NIF:build_report(node_info()),
    Opts = opts(Server),
    I = index_of(<<"module_with_opt">>, Events),
    #{params := P} = lists:nth(I, Events),
    Alter = fun(F) -> lists:sublist(Events, I - 1) ++ [F(lists:nth(I, Events))]
                          ++ lists:nthtail(I, Events) end,
    Custom = Alter(fun(E) -> E#{params := P#{<<"module">> := <<"mod_acme_internal">>}} end),
    Extra = Alter(fun(E) -> E#{params := P#{<<"host">> => <<"secret.example.com">>}} end),
    J = index_of(<<"host_count">>, Events),
    #{params := #{<<"value">> := V}} = lists:nth(J, Events),
    Float = lists:sublist(Events, J - 1)
        ++ [#{name => <<"host_count">>, params => #{<<"value">> => float(V)}}]
        ++ lists:nthtail(J, Events),
    ?assert(Float == Events),
    Bad = [{Custom, I}, {Extra, I}, {Float, J}],
    Refused = fun() ->
                      [?assertMatch({error, {invalid_input, [events, At | _], _}},
                                    ?NIF:send_report(B, Opts))
                       || {B, At} <- Bad]
              end,
    Sent = fun() ->
                   {ok, Ref} = ?NIF:send_report(Events, Opts),
                   ?assertMatch([#{result := ok}], wait_result(Ref))
           end,
    Refused(),
    Sent(),
    Refused(),
    Sent(),
    Refused(),
    %% Only the two unaltered sends reached the endpoint, one request each.
    ?assertEqual([{<<"suite-client-id">>, node_info_events()},
                  {<<"suite-client-id">>, node_info_events()}],
                 [decoded_body(B) || #{body := B} <- ga4_stub_server:requests(Server)]).

%% A send carrying any param the README does not list for its event (value `custom'
%% included) is refused before anything is sent, with the path of the event.
send_refuses_unknown_params_whatever_the_value(Config) ->
    Server = ?config(server, Config),
    Opts = opts(Server),
    Pool = hd(pool_events(1)),
    Bad = [#{name => <<"module_with_opt">>,
             params => #{<<"module">> => <<"mod_mam">>, <<"host">> => <<"custom">>}},
           #{name => <<"module_with_opt">>,
             params => #{<<"module">> => <<"mod_vcard">>, <<"online_backend">> => <<"custom">>}},
           #{name => <<"cluster">>, params => #{<<"build">> => <<"custom">>}}],
    [?assertMatch({error, {invalid_input, [events, 2 | _], _}},
                  ?NIF:send_report([Pool, B], Opts)) || B <- Bad],
    {ok, Ref} = ?NIF:send_report([Pool], Opts),
    ?assertMatch([#{result := ok}], wait_result(Ref)),
    ?assertEqual([{<<"suite-client-id">>, [Pool]}],
                 [decoded_body(B) || #{body := B} <- ga4_stub_server:requests(Server)]).

%% A node far larger than a real one builds, with equal events shared in the answer, and its
%% report is sent in full.
large_node_builds_and_sends(Config) ->
    Server = ?config(server, Config),
    Big = (node_info())#{modules => [#{module => mod_mam, opts => #{backend => rdbms}}
                                     || _ <- lists:seq(1, 1000)]},
    {ok, Events} = ?NIF:build_report(Big),
    ?assertEqual({ok, Events}, ?NIF:build_report(Big)),
    %% The 1,000 equal module entries give equal events, returned as one shared term:
    %% erts_debug:size/1 counts a shared term once, flat_size/1 every time.
    ?assert(erts_debug:size(Events) * 10 < erts_debug:flat_size(Events)),
    ?assertEqual(Events, binary_to_term(term_to_binary(Events))),
    {ok, Ref} = ?NIF:send_report(Events, opts(Server)),
    N = length(Events),
    ?assertMatch([#{result := ok, events := N}], wait_result(Ref)),
    ?assertEqual(N, length(ga4_stub_server:events(Server))),
    BadBig = Big#{modules => [#{module => <<"mod_mam">>} | maps:get(modules, Big)]},
    ?assertMatch({error, {invalid_input, [modules, 1, module], _}}, ?NIF:build_report(BadBig)).

%% A node of 200 host types with 50 modules each (10,000 module entries, the most list items
%% a NodeInfo may hold) is built, sent and written whole, as MongooseIM reports it: 10,004
%% events (one per module entry, then custom_module_count, cluster, http_api and
%% transport_mechanism), 401 requests of at most 25 events. One entry more is refused.
largest_node_is_reported_whole(Config) ->
    Server = ?config(server, Config),
    PerHostType = [#{module => mod_mam, opts => #{backend => rdbms}} || _ <- lists:seq(1, 25)]
        ++ [#{module => mod_disco} || _ <- lists:seq(1, 25)],
    Modules = lists:append(lists:duplicate(200, PerHostType)),
    ?assertEqual(10000, length(Modules)),
    {ok, Events, Ref} = ?NIF:build_and_send(#{modules => Modules}, opts(Server)),
    ?assertEqual(10004, length(Events)),
    ?assertEqual(10000, length(by_name(<<"module_with_opt">>, Events))),
    ?assertMatch([#{result := ok, events := 10004, requests := 401}], wait_result(Ref, 120000)),
    ?assertEqual(10004, length(ga4_stub_server:events(Server))),
    {ok, Json} = ?NIF:encode_json(Events),
    ?assertEqual(10004, length(jiffy:decode(Json, [return_maps]))),
    ?assertMatch({error, {invalid_input, [node_info, modules], _}},
                 ?NIF:build_and_send(#{modules => [#{module => mod_ping} | Modules]},
                                     opts(Server))).

%% Custom modules are counted by name, however many distinct names there are.
many_distinct_atoms(_Config) ->
    Names = [list_to_atom("mod_custom_" ++ integer_to_list(I)) || I <- lists:seq(1, 1500)],
    Info = #{modules => [#{module => N, opts => #{N => N}} || N <- Names]
                 ++ [#{module => N} || N <- lists:sublist(Names, 500)],
             outgoing_pools => [rdbms | lists:sublist(Names, 100)]},
    {ok, Events} = ?NIF:build_report(Info),
    ?assertEqual([#{<<"value">> => 1500}], by_name(<<"custom_module_count">>, Events)),
    ?assertEqual([#{<<"value">> => <<"rdbms">>}], by_name(<<"outgoing_pool">>, Events)),
    ?assertEqual({ok, Events}, ?NIF:build_report(Info)).

%% Large inputs answer, wherever the size is (one module with many options, a long list one
%% level down, a long list, long events, long options): built when within the limits,
%% refused with the path of the list when past them, and nothing is sent for a refused send.
large_inputs_answer(Config) ->
    Server = ?config(server, Config),
    Opts = opts(Server),
    ManyOpts = maps:from_list([{list_to_atom("opt_" ++ integer_to_list(I)), rdbms}
                               || I <- lists:seq(1, 2000)]),
    Deep = #{modules => [#{module => mod_mam, opts => ManyOpts#{backend => rdbms}}]},
    {ok, DeepEvents} = ?NIF:build_report(Deep),
    ?assertEqual([#{<<"module">> => <<"mod_mam">>, <<"backend">> => <<"rdbms">>}],
                 by_name(<<"module_with_opt">>, DeepEvents)),
    Wide = maps:from_list([{I, x} || I <- lists:seq(1, 100001)]),
    ?assertMatch({error, {invalid_input, [], _}}, ?NIF:build_report(Wide)),
    LongOpt = #{modules => [#{module => mod_acme, opts => #{backend => lists:duplicate(9990, x)}}]},
    {ok, LongOptEvents} = ?NIF:build_report(LongOpt),
    ?assertEqual([#{<<"value">> => 1}], by_name(<<"custom_module_count">>, LongOptEvents)),
    Long = #{outgoing_pools => lists:duplicate(200000, rdbms)},
    ?assertMatch({error, {invalid_input, [outgoing_pools], _}}, ?NIF:build_report(Long)),
    LongEvents = lists:duplicate(200000, hd(pool_events(1))),
    ?assertMatch({error, {invalid_input, [events], _}}, ?NIF:send_report(LongEvents, Opts)),
    {ok, Events} = ?NIF:build_report(node_info()),
    LongId = Opts#{client_id => lists:duplicate(9000, $a)},
    ?assertMatch({error, {invalid_input, [opts, client_id], _}},
                 ?NIF:send_report(Events, LongId)),
    ?assertEqual([], ga4_stub_server:requests(Server)).

index_of(Name, Events) ->
    length(lists:takewhile(fun(#{name := N}) -> N =/= Name end, Events)) + 1.

assert_absent(Needle, Events) ->
    {ok, Json} = ?NIF:encode_json(Events),
    ?assertEqual(nomatch, binary:match(Json, Needle)).

%%%===================================================================
%%% Issue 14, points 5 and 1
%%%===================================================================

%% A custom module whose name is not Latin-1 is counted like any other custom module; it
%% never makes the whole report fail, and its name is never sent.
non_latin1_module_is_a_custom_module(_Config) ->
    Mods = [#{module => '模块'}, #{module => mod_acme}, #{module => '模块'},
            #{module => 'мой_модуль', opts => #{backend => rdbms}}, #{module => mod_mam}],
    {ok, Events} = ?NIF:build_report(#{modules => Mods}),
    ?assertEqual([#{<<"value">> => 3}], by_name(<<"custom_module_count">>, Events)),
    ?assertEqual([#{<<"module">> => <<"mod_mam">>}], by_name(<<"module_with_opt">>, Events)),
    Text = iolist_to_binary(io_lib:format("~tp", [Events])),
    ?assertEqual(nomatch, binary:match(Text, [<<"模块"/utf8>>, <<"мой"/utf8>>])).

%% Other non-Latin-1 atoms: dropped as unknown, or a clear error with its path; never a
%% crash, never an atom created.
non_latin1_atoms_elsewhere_answer(_Config) ->
    Before = erlang:system_info(atom_count),
    {ok, Events} = ?NIF:build_report(
                     #{modules => [#{module => mod_mam, opts => #{'后端' => rdbms,
                                                                  backend => '后端'}}],
                       http_handlers => ['处理器', mod_bosh],
                       outgoing_pools => ['池'],
                       c2s_listeners => [#{proto => '协议', tls => #{mode => '模式',
                                                                    module => '模块'}}]}),
    Text = iolist_to_binary(io_lib:format("~tp", [Events])),
    ?assertEqual(nomatch, binary:match(Text, [<<"后端"/utf8>>, <<"处理器"/utf8>>,
                                              <<"池"/utf8>>, <<"协议"/utf8>>])),
    ?assertMatch({error, {invalid_input, [config_type], _}},
                 ?NIF:build_report(#{config_type => '模块'})),
    ?assertMatch({error, {invalid_input, [_], _}}, ?NIF:build_report(#{'键' => 1})),
    ?assertMatch({error, {invalid_input, _, _}},
                 ?NIF:plan_requests([], #{client_id => <<"c">>, '键' => 1,
                                          tracking_ids => [#{id => <<"G-1">>, secret => <<"s">>}]})),
    ?assertEqual(Before, erlang:system_info(atom_count)).

%% An unaligned sub-binary is copied whole by the VM when a NIF inspects it: every function
%% is handed one (16 MB) in every place a binary can go and answers (the NIFs run on a dirty
%% CPU scheduler: native/nif/tests/schedulers.rs checks that structure).
unaligned_huge_binaries_answer_everywhere(_Config) ->
    <<_:1, U/binary>> = <<0:1, (binary:copy(<<"a">>, 16 * 1024 * 1024))/binary>>,
    ?assert(byte_size(U) > 256),
    Tid = #{id => <<"G-1">>, secret => <<"s">>},
    Opts = #{client_id => <<"c">>, tracking_ids => [Tid]},
    ?assertMatch({error, {invalid_input, [version], _}}, ?NIF:build_report(#{version => U})),
    ?assertMatch({error, {invalid_input, _, _}},
                 ?NIF:build_report(#{modules => [#{module => mod_mam, opts => #{backend => U}}]})),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:build_report(#{modules => U})),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:build_report(U)),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:encode_json(U)),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:plan_requests([], Opts#{url => U})),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:send_report([], Opts#{url => U})),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:send_report([], Opts#{client_id => U})),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:cancel(U)),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:configure(U)),
    ?assertMatch({error, {invalid_input, _, _}}, ?NIF:configure(#{max_in_flight => U})),
    {ok, Latest} = ?NIF:release_rules(undefined),
    ?assertEqual({ok, Latest}, ?NIF:release_rules(U)).
