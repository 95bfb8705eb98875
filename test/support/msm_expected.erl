%%% @doc Expected values written by hand, for the suites' oracles: the report that the node
%%% of `msm_test_helper:sample_config/0' sends, event by event, as the README ("What is
%%% sent") describes it, independently of the code under test.
%%%
%%% The sample node: host types `localhost' (mod_vcard rdbms, mod_last mnesia, mod_muc rdbms
%%% with online_backend cets, mod_event_pusher with the push and http pushers,
%%% mod_push_service_mongoosepush v3, and the custom mod_acme_secret_feature) and
%%% `anonymous' (mod_vcard ldap); two dynamic domains; HTTP handlers bosh, websocket,
%%% graphql and a private one; c2s listeners (starttls with fast_tls, tls without a module,
%%% plain); pools rdbms and http; one component on this node; a TOML configuration.
-module(msm_expected).

-include_lib("stdlib/include/assert.hrl").

-export([sample_events/1, sample_module_events/0, assert_sample_report/2, decode_events/1]).

-type event() :: #{name := binary(), params := #{binary() => binary() | integer()}}.
%% `version': the `mongooseim' application's version as sent, or `none' (no such
%% application: no `version' param); `stanza_counts': `{Total, Increment}' per stanza type
%% (default `{0, 0}'); `uptime': the value sent (`assert_sample_report/2' takes it from the
%% report after checking its form).
-type opts() :: #{version => binary() | none,
                  stanza_counts => #{binary() => {integer(), integer()}},
                  uptime => binary()}.
-export_type([event/0, opts/0]).

-define(STANZA_TYPES, [<<"xmppMessageSent">>, <<"xmppMessageReceived">>, <<"xmppIqSent">>,
                       <<"xmppIqReceived">>, <<"xmppPresenceSent">>,
                       <<"xmppPresenceReceived">>]).

%% @doc The module events of the sample node: for each host type in order (localhost, then
%% anonymous), one event for each metrics module loaded on any host type, sorted by name,
%% bare where the module has no options on that host type; mod_event_pusher's last pusher
%% (maps iterate keys in order: http, push) is the one kept; the custom module is not named.
-spec sample_module_events() -> [event()].
sample_module_events() ->
    M = fun(Params) -> #{name => <<"module_with_opt">>, params => Params} end,
    [M(#{<<"module">> => <<"mod_event_pusher">>, <<"backend">> => <<"push">>}),
     M(#{<<"module">> => <<"mod_last">>, <<"backend">> => <<"mnesia">>}),
     M(#{<<"module">> => <<"mod_muc">>, <<"backend">> => <<"rdbms">>,
         <<"online_backend">> => <<"cets">>}),
     M(#{<<"module">> => <<"mod_push_service_mongoosepush">>, <<"api_version">> => <<"v3">>}),
     M(#{<<"module">> => <<"mod_vcard">>, <<"backend">> => <<"rdbms">>}),
     M(#{<<"module">> => <<"mod_event_pusher">>}),
     M(#{<<"module">> => <<"mod_last">>}),
     M(#{<<"module">> => <<"mod_muc">>}),
     M(#{<<"module">> => <<"mod_push_service_mongoosepush">>}),
     M(#{<<"module">> => <<"mod_vcard">>, <<"backend">> => <<"ldap">>})].

%% @doc Every event of one report of the sample node, in order.
-spec sample_events(opts()) -> [event()].
sample_events(Opts) ->
    E = fun(Name, Params) -> #{name => Name, params => Params} end,
    Version = case maps:get(version, Opts, none) of
                  none -> #{};
                  V -> #{<<"version">> => V}
              end,
    Counts = maps:get(stanza_counts, Opts, #{}),
    [E(<<"host_count">>, #{<<"value">> => 2}),
     E(<<"domain_count">>, #{<<"value">> => 3})]
        ++ sample_module_events()
        ++ [E(<<"custom_module_count">>, #{<<"value">> => 1}),
            E(<<"cluster">>, Version#{<<"uptime">> => maps:get(uptime, Opts, <<"0000-00:00:00">>),
                                      <<"component">> => 1, <<"node_number">> => 1,
                                      <<"config_type">> => <<"toml">>}),
            E(<<"http_api">>, #{<<"mongoose_bosh_handler">> => <<"enabled">>,
                                <<"mongoose_graphql_handler">> => <<"enabled">>,
                                <<"mongoose_websocket_handler">> => <<"enabled">>}),
            E(<<"transport_mechanism">>, #{<<"mongoose_bosh_handler">> => <<"enabled">>,
                                           <<"mongoose_websocket_handler">> => <<"enabled">>,
                                           <<"tcp">> => <<"enabled">>}),
            E(<<"tls_option">>, #{<<"mode">> => <<"starttls">>, <<"module">> => <<"fast_tls">>}),
            E(<<"outgoing_pool">>, #{<<"value">> => <<"rdbms">>}),
            E(<<"outgoing_pool">>, #{<<"value">> => <<"http">>})]
        ++ [begin
                {Total, Inc} = maps:get(T, Counts, {0, 0}),
                E(<<"xmpp_stanza_count">>, #{<<"stanza_type">> => T, <<"total">> => Total,
                                             <<"increment">> => Inc})
            end || T <- ?STANZA_TYPES].

%% @doc Asserts that `Events' (name and params maps, binaries) are exactly the sample
%% node's report; the uptime, which depends on the VM's age, only has to have its form.
-spec assert_sample_report([event()], opts()) -> ok.
assert_sample_report(Events, Opts) ->
    Uptimes = [U || #{name := <<"cluster">>, params := #{<<"uptime">> := U}} <- Events],
    ?assertMatch([_], Uptimes),
    [Uptime] = Uptimes,
    ?assertMatch({match, _}, re:run(Uptime, "^\\d{4,}-\\d{2}:\\d{2}:\\d{2}$")),
    ?assertEqual(sample_events(Opts#{uptime => Uptime}), Events),
    ok.

%% @doc The events of a JSON document holding a list of events (the report file) or a
%% request body (`events' of an object), as `#{name, params}' maps.
-spec decode_events(binary()) -> [event()].
decode_events(Json) ->
    List = case jiffy:decode(Json, [return_maps]) of
               #{<<"events">> := L} -> L;
               L when is_list(L) -> L
           end,
    [#{name => N, params => maps:get(<<"params">>, E, #{})} || #{<<"name">> := N} = E <- List].
