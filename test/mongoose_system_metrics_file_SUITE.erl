%%% @doc mongoose_system_metrics_file: location, atomic and secret-free writes, failures
%%% returned (not raised). `mongoose_logs' is a test stand-in with MongooseIM's `dir/0'.
-module(mongoose_system_metrics_file_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

all() ->
    [location_from_env, location_from_mongooseim_log_dir, location_defaults_to_cwd,
     client_id_round_trip, bad_client_id_is_ignored, client_id_rule_is_the_engines,
     last_success_round_trip,
     writes_are_atomic_and_leave_no_temp_files, failures_are_returned,
     save_writes_pretty_json_of_events, save_failure_is_returned].

init_per_testcase(_, Config) ->
    application:unset_env(mongoose_system_metrics, report_dir),
    Config.

end_per_testcase(_, _Config) ->
    _ = logger:remove_handler(disk_log),
    application:unset_env(mongoose_system_metrics, report_dir).

location_from_env(Config) ->
    Dir = msm_test_helper:report_dir(Config),
    ?assertEqual(filename:join(Dir, "system_metrics_report.json"),
                 mongoose_system_metrics_file:location()).

location_from_mongooseim_log_dir(Config) ->
    LogDir = filename:join(?config(priv_dir, Config), "mim_log"),
    ok = filelib:ensure_dir(filename:join(LogDir, "x")),
    ok = logger:add_handler(disk_log, logger_disk_log_h,
                            #{config => #{file => filename:join(LogDir, "mongooseim.log")},
                              level => emergency}),
    ?assertEqual(filename:join(LogDir, "system_metrics_report.json"),
                 mongoose_system_metrics_file:location()).

location_defaults_to_cwd(_) ->
    {ok, Cwd} = file:get_cwd(),
    ?assertEqual(filename:join(Cwd, "system_metrics_report.json"),
                 mongoose_system_metrics_file:location()).

client_id_round_trip(Config) ->
    msm_test_helper:report_dir(Config),
    error = mongoose_system_metrics_file:read_client_id(),
    ok = mongoose_system_metrics_file:write_client_id(<<"0f1e2d3c-aaaa-4bbb-8ccc-123456789abc">>),
    {ok, <<"0f1e2d3c-aaaa-4bbb-8ccc-123456789abc">>} = mongoose_system_metrics_file:read_client_id().

bad_client_id_is_ignored(Config) ->
    Dir = msm_test_helper:report_dir(Config),
    ok = file:write_file(filename:join(Dir, "system_metrics_client_id"), <<"not valid!\n">>),
    error = mongoose_system_metrics_file:read_client_id().

%% A persisted id is read back exactly when the engine would take it as a client id.
client_id_rule_is_the_engines(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            Dir = msm_test_helper:report_dir(Config),
            Tids = [#{id => <<"G-1">>, secret => <<"s">>}],
            Ids = [<<"0f1e2d3c-aaaa-4bbb-8ccc-123456789abc">>, <<"node:1.a_b-C">>, <<"a">>,
                   binary:copy(<<"a">>, 128), binary:copy(<<"a">>, 129), <<"a b">>,
                   <<"a/b">>, <<"a!">>, <<"caf", 233/utf8>>, <<"a+b">>],
            [?assertEqual({Id, mongoose_system_metrics_nif:plan_requests(
                                 [], #{client_id => Id, tracking_ids => Tids}) =:= {ok, []}},
                          {Id, begin
                                   ok = file:write_file(filename:join(Dir, "system_metrics_client_id"),
                                                        [Id, $\n]),
                                   mongoose_system_metrics_file:read_client_id() =:= {ok, Id}
                               end})
             || Id <- Ids];
        Skip ->
            Skip
    end.

last_success_round_trip(Config) ->
    Dir = msm_test_helper:report_dir(Config),
    error = mongoose_system_metrics_file:read_last_success(),
    ok = mongoose_system_metrics_file:write_last_success(1700000000123),
    {ok, 1700000000123} = mongoose_system_metrics_file:read_last_success(),
    ok = file:write_file(filename:join(Dir, "system_metrics_last_success"), <<"garbage">>),
    error = mongoose_system_metrics_file:read_last_success().

%% Readers racing five writers only ever read a whole value that was written (the file
%% exists from the start, so an empty or partial read would be `error' or another number),
%% and the last value is one of the writers' last ones. (An in-VM reader rarely catches a
%% non-atomic write; reliability_lifecycle_SUITE's reader in another OS process does.)
writes_are_atomic_and_leave_no_temp_files(Config) ->
    Dir = msm_test_helper:report_dir(Config),
    ok = mongoose_system_metrics_file:write_last_success(1),
    Written = [N * 1000 + I || N <- lists:seq(1, 5), I <- lists:seq(1, 50)],
    Writers = [spawn_link(fun() ->
                                  [ok = mongoose_system_metrics_file:write_last_success(N * 1000 + I)
                                   || I <- lists:seq(1, 50)]
                          end) || N <- lists:seq(1, 5)],
    Reads = [mongoose_system_metrics_file:read_last_success() || _ <- lists:seq(1, 300)],
    ?assertEqual([], [R || R <- Reads, not lists:member(R, [{ok, V} || V <- [1 | Written]])]),
    ok = msm_test_helper:wait_until(
           fun() -> not lists:any(fun erlang:is_process_alive/1, Writers) end, 60000),
    {ok, Last} = mongoose_system_metrics_file:read_last_success(),
    ?assert(lists:member(Last, [N * 1000 + 50 || N <- lists:seq(1, 5)])),
    {ok, Files} = file:list_dir(Dir),
    ?assertEqual(["system_metrics_last_success"], Files).

failures_are_returned(Config) ->
    Blocker = filename:join(?config(priv_dir, Config), "a_file"),
    ok = file:write_file(Blocker, <<>>),
    application:set_env(mongoose_system_metrics, report_dir, filename:join(Blocker, "sub")),
    {error, _} = mongoose_system_metrics_file:write_client_id(<<"abc">>),
    {error, _} = mongoose_system_metrics_file:write_last_success(1).

save_writes_pretty_json_of_events(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            Dir = msm_test_helper:report_dir(Config),
            Events = [#{name => <<"host_count">>, params => #{<<"value">> => 2}},
                      #{name => <<"outgoing_pool">>, params => #{<<"value">> => <<"rdbms">>}}],
            ok = mongoose_system_metrics_file:save(Events),
            {ok, Bin} = file:read_file(mongoose_system_metrics_file:location()),
            ?assertEqual([#{<<"name">> => <<"host_count">>, <<"params">> => #{<<"value">> => 2}},
                          #{<<"name">> => <<"outgoing_pool">>,
                            <<"params">> => #{<<"value">> => <<"rdbms">>}}],
                         jiffy:decode(Bin, [return_maps])),
            ?assertNotEqual(nomatch, binary:match(Bin, <<"\n">>)),
            {ok, ["system_metrics_report.json"]} = file:list_dir(Dir);
        Skip -> Skip
    end.

save_failure_is_returned(Config) ->
    Blocker = filename:join(?config(priv_dir, Config), "b_file"),
    ok = file:write_file(Blocker, <<>>),
    application:set_env(mongoose_system_metrics, report_dir, filename:join(Blocker, "sub")),
    %% Without the NIF, encoding fails; with it, writing does: both are returned.
    {error, _} = mongoose_system_metrics_file:save([#{name => <<"host_count">>,
                                                      params => #{<<"value">> => 1}}]).
