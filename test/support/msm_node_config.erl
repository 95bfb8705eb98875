%%% @doc A stand-in MongooseIM node running a configuration file, set up in one of two ways:
%%% - `apply/2', from what `msm-preview --node-config' read from the file (host types, the
%%%   modules started on each with their options, listeners, pools, instrumentation), each
%%%   module generated from what the preview says it declares
%%%   (`msm_mim_fixture:load_declared/3'): the preview's own facts, for `make demo' and the
%%%   preview suite's facts-to-events check;
%%% - `apply_mongooseim/3', from what MongooseIM's own code made of the file (the options of
%%%   msm_mim_config:process/3), each module generated from its source in that release
%%%   (`msm_mim_fixture:load_modules/2'): independent of the preview.
%%% Either way the `mongooseim' application runs the configuration's release, and the
%%% node's own collector then gathers the facts.
-module(msm_node_config).

-export([apply/2, apply_mongooseim/3, restore/1]).

%% @doc Sets up the node from `--node-config' JSON, with `ConfigPath' as the configuration
%% file's path. Returns the modules generated (for `restore/1').
-spec apply(binary(), string()) -> [module()].
apply(Json, ConfigPath) ->
    Doc = jiffy:decode(Json, [return_maps]),
    #{<<"version">> := Version, <<"hosts">> := Hosts, <<"host_types">> := HostTypes,
      <<"modules">> := ModulesByHostType, <<"module_specs">> := Specs,
      <<"listen">> := Listen, <<"outgoing_pools">> := Pools,
      <<"instrumentation">> := Instrumentation} = Doc,
    Generated = [load_declared(binary_to_atom(M), Spec) || {M, Spec} <- maps:to_list(Specs)],
    Modules = maps:from_list([{{modules, HT}, module_opts(Mods)}
                              || {HT, Mods} <- maps:to_list(ModulesByHostType)]),
    Opts = Modules#{hosts => Hosts,
                    host_types => HostTypes,
                    dynamic_domains => [],
                    listen => [listener(L) || L <- Listen],
                    outgoing_pools => [#{type => binary_to_atom(T), scope => global,
                                         tag => binary_to_atom(Tag)}
                                       || #{<<"type">> := T, <<"tag">> := Tag} <- Pools],
                    instrumentation => maps:from_list([{binary_to_atom(H), #{}}
                                                       || H <- Instrumentation]),
                    components => [],
                    services => #{}},
    mongoose_config:set_opts(Opts),
    mongoose_config:set_config_path(ConfigPath),
    msm_test_helper:set_mim_version(binary_to_list(Version)),
    Generated.

%% @doc Sets up the node from the options MongooseIM `Release' holds after reading the file
%% at `ConfigPath' (`[{Key, Value}]'). The modules started on any host type are generated
%% from their sources in `Release'; one that is not there is the operator's own (a
%% `gen_mod' declaring nothing else). Returns the modules generated (for `restore/1').
-spec apply_mongooseim(msm_mim_sources:release(), [{term(), term()}], string()) -> [module()].
apply_mongooseim(Release, MimOpts, ConfigPath) ->
    Started = lists:usort(lists:append([maps:keys(Mods) || {{modules, _}, Mods} <- MimOpts])),
    FromSources = msm_mim_fixture:load_modules(Release, Started),
    Operators = [msm_mim_fixture:load_declared(M, [gen_mod], none)
                 || M <- Started -- FromSources],
    %% Nothing added at run time yet; the service is started by the caller.
    mongoose_config:set_opts((maps:from_list(MimOpts))#{dynamic_domains => [],
                                                        components => [],
                                                        services => #{}}),
    mongoose_config:set_config_path(ConfigPath),
    msm_test_helper:set_mim_version(Release),
    FromSources ++ Operators.

%% @doc Puts back the stand-ins of the generated modules and clears the configuration.
-spec restore([module()]) -> ok.
restore(Generated) ->
    msm_mim_fixture:restore_modules(Generated),
    msm_test_helper:clear_mim_config(),
    msm_test_helper:set_mim_version(undefined),
    ok.

load_declared(Module, #{<<"behaviours">> := Behaviours, <<"config_metrics">> := Metrics}) ->
    msm_mim_fixture:load_declared(Module, [binary_to_atom(B) || B <- Behaviours],
                                  case Metrics of
                                      null -> none;
                                      <<"pushers">> -> pushers;
                                      Keys -> {keys, [binary_to_atom(K) || K <- Keys]}
                                  end).

module_opts(Mods) ->
    maps:from_list([{binary_to_atom(M), maps:from_list([{binary_to_atom(K), value(V)}
                                                        || {K, V} <- maps:to_list(Opts)])}
                    || {M, Opts} <- maps:to_list(Mods)]).

value(#{<<"atom">> := A}) -> binary_to_atom(A);
value(#{<<"binary">> := B}) -> B;
value(#{<<"integer">> := I}) -> I;
value(#{<<"map">> := M}) -> M.

listener(#{<<"module">> := Module} = L) ->
    Base = #{module => binary_to_atom(Module), proto => binary_to_atom(maps:get(<<"proto">>, L))},
    WithTls = case L of
                  #{<<"tls">> := #{<<"mode">> := Mode, <<"module">> := TlsModule}} ->
                      Base#{tls => #{mode => binary_to_atom(Mode),
                                     module => binary_to_atom(TlsModule)}};
                  _ -> Base
              end,
    case L of
        #{<<"handlers">> := Handlers} ->
            WithTls#{handlers => [#{module => binary_to_atom(H)} || H <- Handlers]};
        _ -> WithTls
    end.
