%%% @doc mongoose_system_metrics_collector against stand-ins for MongooseIM's modules
%%% (test/mim_standins: mongoose_config.erl, gen_mod.erl, mongoose_domain_core.erl, mongoose_router.erl,
%%% mongoose_component.erl, prometheus_counter.erl, exometer.erl and stand-in gen_mod
%%% modules), with MongooseIM 6.x's names and signatures: MongooseIM itself cannot be
%%% built here.
-module(mongoose_system_metrics_collector_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

all() ->
    [node_info_has_every_fact, one_module_entry_per_host_type_and_module,
     config_metrics_become_opts, repeated_key_keeps_its_last_value, custom_module_has_no_opts,
     modules_without_gen_mod_are_left_out, crashing_config_metrics_loses_one_entry,
     stanza_counts_as_each_release_reads_them,
     components_as_each_release_finds_them,
     http_handlers_are_listed, c2s_listeners_with_tls, outgoing_pool_types,
     config_type_from_path, stanza_counts_from_prometheus, stanza_counts_from_exometer,
     no_stanza_counts_without_instrumentation, previous_counts_are_passed,
     crashing_fact_is_reported_and_left_out, outside_mongooseim_facts_are_left_out,
     engine_accepts_collected_facts].

init_per_testcase(_, Config) ->
    msm_test_helper:set_mim_config(),
    Config.

end_per_testcase(_, _Config) ->
    msm_test_helper:set_mim_version(undefined),
    msm_test_helper:clear_mim_config().

collect() ->
    {Info, []} = mongoose_system_metrics_collector:collect(undefined),
    Info.

node_info_has_every_fact(_) ->
    Info = collect(),
    %% No `version': the stand-in node runs no `mongooseim' application.
    ?assertEqual(lists:sort([uptime_seconds, node_count, component_count, config_type,
                                 host_type_count, domain_count, modules, http_handlers,
                             c2s_listeners, outgoing_pools, stanza_counts]),
                 lists:sort(maps:keys(Info))),
    #{node_count := 1, host_type_count := 2, domain_count := 3, component_count := 1} = Info,
    true = is_integer(maps:get(uptime_seconds, Info)).

%% As MongooseIM's collector: for each host type, every module loaded on any host type.
%% localhost loads 6 modules, anonymous 1 of them (sample_config/0).
one_module_entry_per_host_type_and_module(_) ->
    #{modules := Mods} = collect(),
    Names = [M || #{module := M} <- Mods],
    ?assertEqual(12, length(Mods)),
    ?assertEqual(2, length([x || mod_vcard <- Names])),
    ?assertEqual(2, length([x || mod_acme_secret_feature <- Names])),
    ?assertEqual([mod_acme_secret_feature, mod_event_pusher, mod_last, mod_muc,
                  mod_push_service_mongoosepush, mod_vcard], lists:sublist(Names, 6)).

config_metrics_become_opts(_) ->
    #{modules := Mods} = collect(),
    ?assert(lists:member(#{module => mod_vcard, opts => #{backend => rdbms}}, Mods)),
    ?assert(lists:member(#{module => mod_vcard, opts => #{backend => ldap}}, Mods)),
    ?assert(lists:member(#{module => mod_muc, opts => #{backend => rdbms, online_backend => cets}}, Mods)),
    ?assert(lists:member(#{module => mod_push_service_mongoosepush,
                           opts => #{api_version => <<"v3">>}}, Mods)),
    %% Not loaded on anonymous: asked anyway, it has no options there.
    ?assertEqual([#{module => mod_last, opts => #{backend => mnesia}}, #{module => mod_last}],
                 [E || #{module := mod_last} = E <- Mods]).

%% mod_event_pusher gives one `backend' per pusher (http, push); MongooseIM puts them into
%% one map, so the last one stays.
repeated_key_keeps_its_last_value(_) ->
    #{modules := Mods} = collect(),
    ?assertEqual([#{module => mod_event_pusher, opts => #{backend => push}},
                  #{module => mod_event_pusher}],
                 [E || #{module := mod_event_pusher} = E <- Mods]).

custom_module_has_no_opts(_) ->
    #{modules := Mods} = collect(),
    ?assertEqual([#{module => mod_acme_secret_feature}, #{module => mod_acme_secret_feature}],
                 [E || #{module := mod_acme_secret_feature} = E <- Mods]).

%% A loaded module that declares neither gen_mod nor mongoose_module_metrics is not a
%% module MongooseIM counts (here: a library module of OTP).
modules_without_gen_mod_are_left_out(_) ->
    mongoose_config:set_opt({modules, <<"anonymous">>}, #{mod_vcard => #{backend => ldap},
                                                           lists => #{}}),
    #{modules := Mods} = collect(),
    ?assertEqual([], [E || #{module := lists} = E <- Mods]).

http_handlers_are_listed(_) ->
    #{http_handlers := H} = collect(),
    ?assertEqual([acme_private_handler, mongoose_bosh_handler, mongoose_graphql_handler,
                  mongoose_websocket_handler], H).

c2s_listeners_with_tls(_) ->
    #{c2s_listeners := L} = collect(),
    %% The second listener's TLS has no `module' (as in 6.4+): MongooseIM reports no TLS
    %% option for it.
    ?assertEqual([#{proto => tcp, tls => #{mode => starttls, module => fast_tls}},
                  #{proto => tcp},
                  #{proto => tcp}], L).

outgoing_pool_types(_) ->
    ?assertMatch(#{outgoing_pools := [rdbms, http]}, collect()).

config_type_from_path(_) ->
    [begin
         mongoose_config:set_config_path(Path),
         ?assertMatch(#{config_type := Type}, collect())
     end || {Path, Type} <- [{"/etc/mim.toml", toml}, {"/etc/mim.cfg", cfg},
                             {"/etc/mim.yaml", unknown_config_type}]].

stanza_counts_from_prometheus(_) ->
    prometheus_counter:set("xmpp_element_in_message_count", [<<"localhost">>], 3),
    prometheus_counter:set("xmpp_element_in_message_count", [<<"anonymous">>], 4),
    prometheus_counter:set("xmpp_element_out_iq_count", [<<"localhost">>], 2),
    exometer:set([<<"localhost">>, xmpp_element_in, c2s, message_count], 100),
    #{stanza_counts := C} = collect(),
    ?assertEqual(#{xmppMessageSent => 7, xmppMessageReceived => 0, xmppIqSent => 0,
                   xmppIqReceived => 2, xmppPresenceSent => 0, xmppPresenceReceived => 0}, C).

stanza_counts_from_exometer(_) ->
    mongoose_config:set_opt(instrumentation, #{exometer => #{}}),
    exometer:set([<<"localhost">>, xmpp_element_in, c2s, message_count], 5),
    exometer:set([<<"anonymous">>, xmpp_element_in, c2s, message_count], 6),
    exometer:set([<<"localhost">>, xmpp_element_out, c2s, presence_count], 1),
    #{stanza_counts := C} = collect(),
    ?assertMatch(#{xmppMessageSent := 11, xmppPresenceReceived := 1, xmppIqSent := 0}, C).

%% A config_metrics/1 that crashes on one host type: that entry has no options and the crash
%% is a failure; every other module is still reported.
crashing_config_metrics_loses_one_entry(_) ->
    mongoose_config:set_opt({modules, <<"localhost">>},
                            maps:put(mod_acme_crashing_metrics, #{backend => rdbms},
                                     mongoose_config:get_opt({modules, <<"localhost">>}))),
    {#{modules := Mods}, Failures} = mongoose_system_metrics_collector:collect(undefined),
    ?assertEqual([#{module => mod_acme_crashing_metrics, opts => #{backend => rdbms}},
                  #{module => mod_acme_crashing_metrics}],
                 [E || #{module := mod_acme_crashing_metrics} = E <- Mods]),
    ?assertMatch([{modules, {mod_acme_crashing_metrics, config_metrics, {error, _}}}], Failures),
    ?assertEqual(14, length(Mods)).

%% Every release's counters at once, with distinct values: which one a release reads, and
%% when, follows its collector (src/system_metrics/mongoose_system_metrics_collector.erl and
%% the service's instrumentation check, release by release).
stanza_counts_as_each_release_reads_them(_) ->
    exometer:set([<<"localhost">>, xmppMessageSent], 1),
    exometer:set([<<"localhost">>, c2s_element_in, message_count], 10),
    exometer:set([<<"localhost">>, xmpp_element_in, c2s, message_count], 100),
    prometheus_counter:set("xmpp_element_in_message_count", [<<"localhost">>], 1000),
    Expected = [{"6.1.0", exometer, 1}, {"6.2.1", prometheus, 1}, {"6.2.1", none, 1},
                {"6.3.3", exometer, 10}, {"6.3.3", none, 10},
                {"6.4.0", exometer, 100}, {"6.5.0", prometheus, absent}, {"6.5.0", none, absent},
                {"6.6.0", exometer, 100}, {"6.7.0", prometheus, 1000}, {"6.8.0", none, absent},
                {"6.8.0-12-gabc1234", prometheus, 1000}],
    [begin
         msm_test_helper:set_mim_version(Version),
         mongoose_config:set_opt(instrumentation, case Instr of
                                                      none -> #{log => #{}};
                                                      _ -> #{Instr => #{}}
                                                  end),
         Got = case collect() of
                   #{stanza_counts := #{xmppMessageSent := N}} -> N;
                   #{} -> absent
               end,
         ?assertEqual({Version, Instr, Want}, {Version, Instr, Got})
     end || {Version, Instr, Want} <- Expected].

components_as_each_release_finds_them(_) ->
    [begin
         msm_test_helper:set_mim_version(Version),
         ?assertMatch({_, #{component_count := 1}}, {Version, collect()})
     end || Version <- ["6.1.0", "6.2.1", "6.8.0"]].

no_stanza_counts_without_instrumentation(_) ->
    mongoose_config:set_opt(instrumentation, #{log => #{}}),
    Info = collect(),
    ?assertNot(maps:is_key(stanza_counts, Info)),
    {Info2, []} = mongoose_system_metrics_collector:collect(#{xmppIqSent => 1}),
    ?assertNot(maps:is_key(previous_stanza_counts, Info2)).

previous_counts_are_passed(_) ->
    Prev = #{xmppMessageSent => 1},
    {Info, []} = mongoose_system_metrics_collector:collect(Prev),
    ?assertEqual(Prev, maps:get(previous_stanza_counts, Info)).

crashing_fact_is_reported_and_left_out(_) ->
    mongoose_config:set_opt(outgoing_pools, not_a_list_but_crashes_nothing),
    mongoose_config:unset_opt(dynamic_domains),
    mongoose_config:set_opt(listen, [#{module => ejabberd_cowboy, handlers => [#{module => x}]}]),
    mongoose_config:set_opt(components, crash),
    {Info, Failures} = mongoose_system_metrics_collector:collect(undefined),
    ?assertNot(maps:is_key(component_count, Info)),
    ?assertMatch([{component_count, {error, _}}], Failures),
    ?assertNot(maps:is_key(outgoing_pools, Info)).

outside_mongooseim_facts_are_left_out(_) ->
    msm_test_helper:clear_mim_config(),
    {Info, Failures} = mongoose_system_metrics_collector:collect(undefined),
    ct:pal("~p ~p", [Info, Failures]),
    ?assert(maps:is_key(uptime_seconds, Info)),
    ?assertNot(maps:is_key(modules, Info)).

engine_accepts_collected_facts(_) ->
    case msm_test_helper:require_nif() of
        ok ->
            prometheus_counter:set("xmpp_element_in_message_count", [<<"localhost">>], 3),
            {Info, []} = mongoose_system_metrics_collector:collect(#{xmppMessageSent => 1}),
            {ok, Events} = mongoose_system_metrics_nif:build_report(Info),
            Names = [N || #{name := N} <- Events],
            ?assert(lists:member(<<"module_with_opt">>, Names)),
            Text = iolist_to_binary(io_lib:format("~p", [Events])),
            nomatch = binary:match(Text, <<"acme">>),
            [#{params := #{<<"increment">> := 2, <<"total">> := 3}}] =
                [E || #{name := <<"xmpp_stanza_count">>,
                        params := #{<<"stanza_type">> := <<"xmppMessageSent">>}} = E <- Events];
        Skip -> Skip
    end.
