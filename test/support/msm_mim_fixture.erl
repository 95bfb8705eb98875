%%% @doc Nodes for the differential suite: MongooseIM modules as each release has them, and
%%% a rich node configuration per release, in the stand-ins' config (test/mongoose_config.erl).
%%%
%%% MongooseIM's own modules (mod_muc, mod_inbox, ...) cannot be compiled here (they need
%%% all of MongooseIM), so each is stood in for by a module generated from what that
%%% release's source declares: its `-behaviour' attributes (`gen_mod',
%%% `mongoose_module_metrics') and what its `config_metrics/1' reports (the option keys it
%%% passes to `mongoose_module_metrics:opts_for_module/3', or mod_event_pusher's one
%%% `backend' per pusher). A module absent from a release's sources is not loaded there.
-module(msm_mim_fixture).

-export([load_modules/2, load_declared/3, restore_modules/1, node_config/2, release_modules/1,
         metrics_modules/1, reported_options/1]).

-type release() :: msm_mim_sources:release().

%% Modules a fixture node loads, by host type (per release: only those in its sources).
-define(FIXTURE_MODULES,
        [mod_vcard, mod_last, mod_muc, mod_event_pusher, mod_event_pusher_push,
         mod_push_service_mongoosepush, mod_inbox, mod_disco, mod_caps, mod_bosh,
         mod_pubsub, mod_pubsub_old, mod_mam, mod_broadcast]).

%% @doc The fixture's MongooseIM modules that `Release' has, generated from its sources and
%% loaded (replacing the test stand-ins of the same names). Returns the modules loaded.
-spec load_modules(release(), [module()]) -> [module()].
load_modules(Release, Modules) ->
    Dir = msm_mim_sources:src_dir(Release),
    [load_standin(M, Spec) || M <- Modules, {ok, Spec} <- [module_spec(Dir, M)]].

%% @doc Generates and loads one module stand-in from what it declares: its behaviours
%% (`gen_mod', `mongoose_module_metrics') and what its `config_metrics/1' reports (`none',
%% `{keys, Keys}' or `pushers', as above). Used where no release's sources are read (the
%% preview's node configuration, `make demo').
-spec load_declared(module(), [gen_mod | mongoose_module_metrics],
                    none | {keys, [atom()]} | pushers) -> module().
load_declared(Module, Behaviours, Metrics) ->
    load_standin(Module, #{behaviours => Behaviours, config_metrics => Metrics}).

%% @doc Puts back what the code path has for these modules (the test stand-ins), or removes
%% them.
-spec restore_modules([module()]) -> ok.
restore_modules(Modules) ->
    [begin
         _ = code:purge(M),
         _ = code:delete(M),
         _ = code:purge(M),
         _ = code:load_file(M)
     end || M <- Modules],
    ok.

%% @doc The modules of the fixture that `Release' has in its sources.
-spec release_modules(release()) -> [module()].
release_modules(Release) ->
    cached({release_modules, Release},
           fun() ->
                   Dir = msm_mim_sources:src_dir(Release),
                   [M || M <- ?FIXTURE_MODULES, source_file(Dir, M) =/= none]
           end).

%% @doc Every module that declares `-behaviour(mongoose_module_metrics)' in `Release''s
%% sources (what that release reports by name).
-spec metrics_modules(release()) -> [module()].
metrics_modules(Release) ->
    cached({metrics_modules, Release},
           fun() ->
                   Dir = msm_mim_sources:src_dir(Release),
                   Files = filelib:wildcard(filename:join([Dir, "src", "**", "*.erl"])),
                   lists:usort([list_to_atom(filename:basename(F, ".erl"))
                                || F <- Files, declares(F, mongoose_module_metrics)])
           end).

%% What the sources say does not change during a run: read once.
cached(Key, Fun) ->
    case persistent_term:get({?MODULE, Key}, undefined) of
        undefined ->
            Value = Fun(),
            persistent_term:put({?MODULE, Key}, Value),
            Value;
        Value -> Value
    end.

%% @doc What each of `Release''s reporting modules reports: `{Module, Keys}' for those whose
%% `config_metrics/1' passes option keys to `opts_for_module/3', `{Module, pushers}' for
%% mod_event_pusher (one `backend' per configured pusher).
-spec reported_options(release()) -> [{module(), [atom()] | pushers}].
reported_options(Release) ->
    Dir = msm_mim_sources:src_dir(Release),
    [{M, case Metrics of {keys, Keys} -> Keys; pushers -> pushers end}
     || M <- metrics_modules(Release),
        {ok, #{config_metrics := Metrics}} <- [module_spec(Dir, M)], Metrics =/= none].

declares(File, Behaviour) ->
    {ok, Text} = file:read_file(File),
    lists:member(Behaviour, behaviours(Text)).

module_spec(Dir, Module) ->
    case source_file(Dir, Module) of
        none -> none;
        File ->
            {ok, Text} = file:read_file(File),
            {ok, #{behaviours => [B || B <- behaviours(Text),
                                       lists:member(B, [gen_mod, mongoose_module_metrics])],
                   config_metrics => config_metrics(Module, Text)}}
    end.

source_file(Dir, Module) ->
    case filelib:wildcard(filename:join([Dir, "src", "**", atom_to_list(Module) ++ ".erl"])) of
        [File | _] -> File;
        [] -> none
    end.

behaviours(Text) ->
    case re:run(Text, "^-behaviou?r\\(\\s*([a-z_]+)\\s*\\)", [global, multiline,
                                                            {capture, all_but_first, list}]) of
        {match, Found} -> [list_to_atom(B) || [B] <- Found];
        nomatch -> []
    end.

config_metrics(Module, Text) ->
    Keys = "^config_metrics\\(\\w+\\)\\s*->\\s*mongoose_module_metrics:opts_for_module\\("
           "\\s*\\w+\\s*,\\s*\\?MODULE\\s*,\\s*\\[([a-z_,\\s]*)\\]\\s*\\)",
    case re:run(Text, Keys, [multiline, {capture, all_but_first, list}]) of
        {match, [List]} ->
            {keys, [list_to_atom(string:trim(K)) || K <- string:lexemes(List, ",")]};
        nomatch ->
            case re:run(Text, "^config_metrics\\(", [multiline]) of
                nomatch -> none;
                {match, _} when Module =:= mod_event_pusher -> pushers;
                {match, _} -> error({unknown_config_metrics_form, Module})
            end
    end.

load_standin(Module, #{behaviours := Behaviours, config_metrics := Metrics}) ->
    Attrs = [io_lib:format("-behaviour(~p).~n", [B]) || B <- Behaviours],
    {Exports, Body} = case Metrics of
                          none -> {"", ""};
                          {keys, Keys} ->
                              {", config_metrics/1",
                               io_lib:format("config_metrics(HostType) ->~n"
                                             "    mongoose_module_metrics:opts_for_module("
                                             "HostType, ~p, ~p).~n", [Module, Keys])};
                          pushers ->
                              {", config_metrics/1",
                               "config_metrics(HostType) ->\n"
                               "    case gen_mod:get_module_opts(HostType, mod_event_pusher) of\n"
                               "        Opts when map_size(Opts) =:= 0 -> [{none, none}];\n"
                               "        Opts -> [{backend, P} || P <- maps:keys(Opts)]\n"
                               "    end.\n"}
                      end,
    Src = lists:flatten(
            [io_lib:format("-module(~p).~n", [Module]), Attrs,
             "-export([start/2, stop/1", Exports, "]).\n",
             "start(_HostType, _Opts) -> ok.\n",
             "stop(_HostType) -> ok.\n", Body]),
    {ok, Module, Bin} = compile:forms(forms(Src), [binary, nowarn_undefined_behaviour]),
    _ = code:purge(Module),
    {module, Module} = code:load_binary(Module, "generated:" ++ atom_to_list(Module), Bin),
    Module.

forms(Src) ->
    {ok, Tokens, _} = erl_scan:string(Src),
    split_forms(Tokens, [], []).

split_forms([], [], Acc) -> lists:reverse(Acc);
split_forms([{dot, _} = Dot | Rest], Cur, Acc) ->
    {ok, Form} = erl_parse:parse_form(lists:reverse([Dot | Cur])),
    split_forms(Rest, [], [Form | Acc]);
split_forms([T | Rest], Cur, Acc) ->
    split_forms(Rest, [T | Cur], Acc).

%% @doc The node's configuration (the stand-ins' `mongoose_config' options) for a release,
%% in MongooseIM's parsed form, with every module option a real parsed config would hold.
%% Variants: `exometer' (the main node), `prometheus', `no_instrumentation'.
-spec node_config(release(), exometer | prometheus | no_instrumentation) -> map().
node_config(Release, Instrumentation) ->
    Minor = minor(Release),
    Here = release_modules(Release),
    Has = fun(M) -> lists:member(M, Here) end,
    Pick = fun(Mods) -> maps:filter(fun(M, _) -> Has(M) end, Mods) end,
    MucOpts = fun(Backend, Online) when Minor >= 2 -> #{backend => Backend, online_backend => Online};
                 (Backend, _) -> #{backend => Backend}
              end,
    Localhost = Pick(#{mod_vcard => #{backend => rdbms},
                       mod_last => #{backend => mnesia},
                       mod_muc => MucOpts(rdbms, cets),
                       mod_event_pusher => #{http => #{}, push => #{}, rabbit => #{}},
                       mod_event_pusher_push => #{backend => rdbms},
                       mod_push_service_mongoosepush => #{api_version => <<"v3">>},
                       mod_inbox => #{backend => rdbms_async},
                       mod_disco => #{},
                       mod_bosh => #{backend => case Minor of 1 -> mnesia; _ -> cets end},
                       mod_pubsub => #{backend => rdbms},
                       mod_pubsub_old => #{backend => rdbms},
                       mod_broadcast => #{}}),
    Anonymous = Pick(#{mod_vcard => #{backend => ldap},
                       mod_muc => MucOpts(mnesia, mnesia),
                       mod_caps => #{}}),
    Premium = Pick(#{mod_mam => #{backend => cassandra},
                     mod_last => #{backend => rdbms},
                     mod_event_pusher => #{sns => #{}}}),
    #{hosts => [<<"localhost">>],
      host_types => [<<"anonymous">>, <<"premium">>],
      dynamic_domains => [<<"dyn1.example">>, <<"dyn2.example">>],
      %% Custom modules, with and without mongoose_module_metrics, are in no release.
      {modules, <<"localhost">>} => Localhost#{mod_acme_secret_feature => #{},
                                              mod_acme_metrics => #{backend => acme_store}},
      {modules, <<"anonymous">>} => Anonymous#{mod_acme_secret_feature => #{}},
      {modules, <<"premium">>} => Premium,
      listen => listeners(Minor),
      outgoing_pools => pools(Minor),
      instrumentation => case Instrumentation of
                             exometer -> #{exometer => #{}};
                             prometheus -> #{prometheus => #{}};
                             no_instrumentation -> #{log => #{}}
                         end,
      components => [{<<"comp1.localhost">>, node()}, {<<"comp2.localhost">>, node()}],
      services => #{service_mongoose_system_metrics => #{}}}.

%% c2s listeners with and without TLS (a TLS `module' only up to 6.3), and an HTTP listener
%% with the handlers of that release (BOSH, WebSockets, REST, GraphQL, and one more).
listeners(Minor) ->
    Tls = fun(Mode, Module) when Minor =< 3 -> #{mode => Mode, module => Module};
             (Mode, _) -> #{mode => Mode, verify_mode => none}
          end,
    Handlers = case Minor =< 5 of
                   true -> [mod_bosh, mod_websockets, mongoose_client_api, mongoose_admin_api,
                            mongoose_graphql_handler, mongoose_prometheus_handler];
                   false -> [mongoose_bosh_handler, mongoose_websocket_handler,
                             mongoose_client_api, mongoose_admin_api,
                             mongoose_graphql_handler, mongoose_prometheus_handler]
               end,
    [#{module => mongoose_c2s_listener, port => 5222, proto => tcp,
       tls => Tls(starttls, fast_tls)},
     #{module => mongoose_c2s_listener, port => 5223, proto => tcp,
       tls => Tls(tls, just_tls)},
     #{module => mongoose_c2s_listener, port => 5224, proto => tcp,
       tls => Tls(starttls_required, just_tls)},
     #{module => mongoose_c2s_listener, port => 5225, proto => tcp},
     #{module => ejabberd_cowboy, port => 5280, proto => tcp,
       handlers => [#{module => H, host => '_', path => "/" ++ atom_to_list(H)}
                    || H <- Handlers]},
     #{module => ejabberd_cowboy, port => 8088, proto => tcp,
       handlers => [#{module => mongoose_graphql_handler, host => '_', path => "/api"}]},
     #{module => mongoose_s2s_listener, port => 5269, proto => tcp}].

pools(Minor) ->
    [#{type => rdbms, scope => global, tag => default},
     #{type => http, scope => host_type, tag => acme_pool},
     #{type => redis, scope => global, tag => default},
     #{type => cassandra, scope => global, tag => default}]
        ++ [#{type => riak, scope => global, tag => default} || Minor =:= 1].

minor(Release) ->
    [_, Minor | _] = string:lexemes(Release, "."),
    list_to_integer(Minor).
