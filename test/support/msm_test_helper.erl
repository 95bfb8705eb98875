%%% @doc Test helper shared by the system-metrics suites: a sample MongooseIM configuration
%%% in the stand-in modules (see the stand-ins' docs: mongoose_config, gen_mod, ...),
%%% polling, the report directory, and whether the NIF is loaded.
-module(msm_test_helper).
-export([set_mim_config/0, set_mim_config/1, clear_mim_config/0, sample_config/0,
         wait_until/2, wait_until/3, report_dir/1, nif_loaded/0, require_nif/0,
         stop_service/0, clear_env/0, start_service/1, run_cmd/4,
         set_mim_version/1]).

-define(SERVICE, service_mongoose_system_metrics).

%% A node with two host types, known and custom modules, HTTP handlers, c2s listeners,
%% outgoing pools and prometheus instrumentation.
sample_config() ->
    #{hosts => [<<"localhost">>],
      host_types => [<<"anonymous">>],
      dynamic_domains => [<<"dyn1.example">>, <<"dyn2.example">>],
      {modules, <<"localhost">>} =>
          #{mod_vcard => #{backend => rdbms},
            mod_last => #{backend => mnesia},
            mod_muc => #{backend => rdbms, online_backend => cets},
            mod_event_pusher => #{push => #{}, http => #{}},
            mod_push_service_mongoosepush => #{api_version => <<"v3">>},
            mod_acme_secret_feature => #{}},
      {modules, <<"anonymous">>} => #{mod_vcard => #{backend => ldap}},
      listen => [#{module => ejabberd_cowboy, port => 5280,
                   handlers => [#{module => mongoose_bosh_handler},
                                #{module => mongoose_websocket_handler},
                                #{module => mongoose_graphql_handler},
                                #{module => acme_private_handler}]},
                 #{module => mongoose_c2s_listener, port => 5222, proto => tcp,
                   tls => #{mode => starttls, module => fast_tls}},
                 #{module => mongoose_c2s_listener, port => 5223, proto => tcp,
                   tls => #{mode => tls}},
                 #{module => mongoose_c2s_listener, port => 5224, proto => tcp}],
      outgoing_pools => [#{type => rdbms, scope => global, tag => default},
                         #{type => http, scope => host_type, tag => acme_pool}],
      instrumentation => #{prometheus => #{}, exometer => #{}},
      components => [{<<"comp1.localhost">>, node()}],
      services => #{}}.

set_mim_config() -> set_mim_config(#{}).
set_mim_config(Extra) ->
    mongoose_config:set_opts(maps:merge(sample_config(), Extra)),
    mongoose_config:set_config_path("/etc/mongooseim/mongooseim.toml").

clear_mim_config() ->
    mongoose_config:erase_opts(),
    mongoose_cluster_id:clean_cache(),
    prometheus_counter:reset(),
    exometer:reset().

%% The node's MongooseIM release: a started `mongooseim' application of that version, which
%% is where MongooseIM (and its collector) reads it; `undefined' removes it.
set_mim_version(Version) ->
    _ = application:stop(mongooseim),
    _ = application:unload(mongooseim),
    case Version of
        undefined -> ok;
        _ ->
            ok = application:load({application, mongooseim,
                                   [{description, "MongooseIM stand-in"}, {vsn, Version},
                                    {modules, []}, {registered, []},
                                    {applications, [kernel, stdlib]}]}),
            ok = application:start(mongooseim)
    end.

wait_until(Fun, Timeout) -> wait_until(Fun, Timeout, 20).
wait_until(Fun, Timeout, Sleep) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait_loop(Fun, Deadline, Sleep).
wait_loop(Fun, Deadline, Sleep) ->
    case catch Fun() of
        true -> ok;
        {true, Value} -> {ok, Value};
        Other ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> erlang:error({wait_until_timeout, Other});
                false -> timer:sleep(Sleep), wait_loop(Fun, Deadline, Sleep)
            end
    end.

%% A fresh report directory under the case's priv_dir, set as the app's `report_dir'.
report_dir(Config) ->
    Dir = filename:join(proplists:get_value(priv_dir, Config),
                        "report_" ++ integer_to_list(erlang:unique_integer([positive]))),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    application:set_env(mongoose_system_metrics, report_dir, Dir),
    Dir.

nif_loaded() -> mongoose_system_metrics_nif:load_error() =:= none.

require_nif() ->
    case nif_loaded() of
        true -> ok;
        false -> {skip, {nif_not_loaded, mongoose_system_metrics_nif:load_error()}}
    end.

start_service(Opts) ->
    service_mongoose_system_metrics:start(Opts).

stop_service() ->
    service_mongoose_system_metrics:stop(),
    case whereis(?SERVICE) of
        undefined -> ok;
        Pid -> exit(Pid, kill), ok
    end.

clear_env() ->
    os:unsetenv("MONGOOSEIM_SYSTEM_METRICS"),
    os:unsetenv("DO_NOT_TRACK"),
    application:unset_env(mongoose_system_metrics, predefined_tracking_id),
    application:unset_env(mongoose_system_metrics, kill_switch).

%% Runs a shell command in Dir with extra environment Env ([{Name, Value | false}]);
%% returns {ExitStatus, Output} (stdout and stderr), or fails the case after Timeout ms.
run_cmd(Dir, Cmd, Env, Timeout) ->
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", Cmd]}, {cd, Dir}, {env, Env}, exit_status, binary,
                      stderr_to_stdout]),
    collect_output(Port, [], erlang:monotonic_time(millisecond) + Timeout).

collect_output(Port, Acc, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Port, {data, D}} -> collect_output(Port, [D | Acc], Deadline);
        {Port, {exit_status, S}} -> {S, iolist_to_binary(lists:reverse(Acc))}
    after Left ->
        catch port_close(Port),
        ct:fail({command_timeout, iolist_to_binary(lists:reverse(Acc))})
    end.
