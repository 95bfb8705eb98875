%%% @doc The runs of `make mongooseim-e2e', one release booted at a time with the
%%% configuration template (e2e/mongooseim.toml) and its service section filled in:
%%% <ul>
%%% <li>`reporting/4': boot, the first report to the loopback collector, stop; for
%%%     MongooseIM as released and for the adopted release;</li>
%%% <li>`report_false/2': the adopted release with `report = false';</li>
%%% <li>`without_nif/2': the adopted release without its `.so'.</li>
%%% </ul>
-module(msm_e2e_runs).

-export([reporting/3, report_false/2, without_nif/2]).

-define(SERVICE, service_mongoose_system_metrics).
-define(APP, mongoose_system_metrics).
-define(LIB, "libmongoose_system_metrics_nif.so").
%% The first report a day away: nothing can be sent before the collector's URL is set.
-define(SECTION, ["  initial_report = 86_400_000\n",
                  "  periodic_report = 86_400_000\n",
                  "  tracking_id.id = \"G-E2E0TEST1\"\n",
                  "  tracking_id.secret = \"e2e-secret-not-real\"\n"]).

%% Every other option of this project's section (README, "Configuration"), with report = false.
-define(EVERY_OTHER_OPTION, ["  report = false\n",
                             "  url = \"http://127.0.0.1:9/mp/collect\"\n",
                             "  region = \"eu\"\n",
                             "  validate = true\n",
                             "  timeout = 4000\n",
                             "  max_retries = 1\n",
                             "  cacertfile = \"priv/ssl/cacert.pem\"\n",
                             "  cluster_report = true\n"]).
%% What the service is given for them: texts as the README's section types say.
-define(EVERY_OPTION_PARSED,
        #{initial_report => 86400000, periodic_report => 86400000,
          tracking_id => #{id => "G-E2E0TEST1", secret => "e2e-secret-not-real"},
          report => false, url => <<"http://127.0.0.1:9/mp/collect">>, region => eu,
          validate => true, timeout => 4000, max_retries => 1,
          cacertfile => "priv/ssl/cacert.pem", cluster_report => true}).

-type ctx() :: #{collector := pid(), url := string(), toml := binary(),
                 results := string(), vsn := string(), reference_errors => [binary()]}.
-type kind() :: msm_e2e_report:kind().

%% @doc Boots the release, checks it, has it send its first report to the collector, stops
%% it. Returns what the comparison needs: the events sent and the kinds of error lines
%% logged (MongooseIM's own are the reference for the adopted release's runs).
-spec reporting(ctx(), kind(), file:filename()) -> map() | undefined.
reporting(Ctx, Kind, Rel) ->
    L = label(Kind),
    boot(Ctx, L, Rel, ?SECTION,
         fun() -> during_report(Ctx, Kind, L, Rel) end,
         fun(Result, Lines) -> after_report(Kind, L, Result, Lines) end).

label(mongooseim) -> "MongooseIM as released";
label(plugin) -> "adopted".

during_report(#{collector := C, url := Url} = Ctx, Kind, L, Rel) ->
    Node = msm_e2e_node:node_name(),
    Kind =:= plugin andalso plugin_checks(Ctx, L, Node, Rel),
    Quiet = msm_e2e_check:check([L, ": no report due before the collector's URL is set"],
                                fun() -> msm_e2e_report:quiet(Kind, Node, Rel) end),
    UrlSet = Quiet andalso msm_e2e_check:check(
                             [L, ": google_analytics_url set to the collector on the node"],
                             fun() -> msm_e2e_report:set_url(Node, Url) end),
    Sent = UrlSet andalso msm_e2e_check:check(
                            [L, ": the first report reaches the collector"],
                            fun() -> first_report(Kind, Node, Rel, C) end),
    case Sent of
        true ->
            Events = ga4_stub_server:events(C),
            write_events(Ctx, Kind, Events),
            {ok, ClusterId} = msm_e2e_node:rpc(Node, mongoose_cluster_id,
                                                get_cached_cluster_id, []),
            msm_e2e_check:check([L, ": client_id is the node's cluster id"],
                                fun() -> lists:usort([Id || #{client_id := Id} <- Events])
                                             =:= [ClusterId] end),
            msm_e2e_check:check([L, ": the report file is written"],
                                fun() -> report_file(Kind, Rel, Events) end),
            #{events => Events};
        false ->
            #{}
    end.

%% This project's service runs in the node, from the release's own copy of this project.
plugin_checks(#{vsn := Vsn}, L, Node, Rel) ->
    AppDir = filename:join([Rel, "lib", "mongoose_system_metrics-" ++ Vsn]),
    msm_e2e_check:check(
      [L, ": this project's service runs (status/0 answers)"],
      fun() ->
              Status = msm_e2e_node:rpc(Node, ?SERVICE, status, []),
              Which = msm_e2e_node:rpc(Node, code, which, [?SERVICE]),
              Sender = msm_e2e_node:rpc(Node, code, which, [mongoose_system_metrics_sender]),
              Beam = filename:join([AppDir, "ebin", "service_mongoose_system_metrics.beam"]),
              VsnBin = list_to_binary(Vsn),
              case {Status, Which, Sender} of
                  {#{running := true, version := VsnBin}, Beam, non_existing} ->
                      {ok, io_lib:format("version ~s, from ~ts", [Vsn, Beam])};
                  _ ->
                      {fail, io_lib:format("status ~0p, service from ~0p, "
                                           "MongooseIM's sender ~0p", [Status, Which, Sender])}
              end
      end),
    msm_e2e_check:check(
      [L, ": the NIF is loaded from the release's own lib/"],
      fun() ->
              So = filename:join([AppDir, "priv", ?LIB]),
              OsPid = msm_e2e_node:rpc(Node, os, getpid, []),
              {ok, Maps} = file:read_file("/proc/" ++ OsPid ++ "/maps"),
              LoadError = msm_e2e_node:rpc(Node, mongoose_system_metrics_nif, load_error, []),
              case {LoadError, binary:match(Maps, list_to_binary(So))} of
                  {none, {_, _}} -> {ok, So};
                  Other -> {fail, io_lib:format("~0p", [Other])}
              end
      end).

first_report(Kind, Node, Rel, Collector) ->
    case msm_e2e_report:trigger(Kind, Node) of
        ok ->
            case msm_e2e_report:wait_done(Kind, Node, Rel) of
                ok -> received(Kind, Node, Collector);
                Fail -> Fail
            end;
        Fail ->
            Fail
    end.

received(Kind, Node, Collector) ->
    Requests = ga4_stub_server:requests(Collector),
    Paths = lists:usort([P || #{path := P} <- Requests]),
    Violations = ga4_stub_server:violations(Collector),
    Status = case Kind of
                 plugin -> msm_e2e_node:rpc(Node, ?SERVICE, status, []);
                 mongooseim -> #{}
             end,
    if Requests =:= [] -> {fail, "no request"};
       Paths =/= [<<"/mp/collect">>] -> {fail, io_lib:format("paths ~0p", [Paths])};
       Kind =:= plugin, Violations =/= [] ->
           {fail, io_lib:format("GA4 rules broken: ~0p", [Violations])};
       Kind =:= plugin, not is_integer(map_get(last_success, Status)) ->
           {fail, io_lib:format("status/0: ~0p", [Status])};
       true ->
           Ids = lists:usort([Id || #{query := #{<<"measurement_id">> := Id}} <- Requests]),
           {ok, io_lib:format("~b requests to ~ts", [length(Requests), lists:join(", ", Ids)])}
    end.

%% The file exists; this project's holds exactly the events sent (to each tracking id) and
%% no secret.
report_file(Kind, Rel, Events) ->
    {ok, Bin} = file:read_file(msm_e2e_node:report_file(Rel)),
    InFile = lists:sort([{N, P} || #{<<"name">> := N, <<"params">> := P}
                                       <- jiffy:decode(Bin, [return_maps])]),
    [Id | _] = lists:usort([Id || #{measurement_id := Id} <- Events]),
    Sent = lists:sort([{N, P} || #{name := N, params := P, measurement_id := I} <- Events,
                                 I =:= Id]),
    Secrets = lists:usort([S || #{api_secret := S} <- Events]),
    Leaks = [S || S <- Secrets, binary:match(Bin, S) =/= nomatch],
    case Kind of
        mongooseim -> {ok, io_lib:format("~b events", [length(InFile)])};
        plugin when InFile =/= Sent -> {fail, "its events are not the events sent"};
        plugin when Leaks =/= [] -> {fail, "it holds an api_secret"};
        plugin -> {ok, io_lib:format("the ~b events sent, no secret", [length(InFile)])}
    end.

after_report(Kind, L, Result, Lines) ->
    msm_e2e_check:check([L, ": the consent notice is logged once"],
                        fun() -> count(Lines, <<"what=report_transparency">>) =:= 1 end),
    Kind =:= plugin andalso msm_e2e_check:check(
                              [L, ": no api_secret in the node's log"],
                              fun() -> no_secret(Lines, maps:get(events, Result, [])) end),
    Result.

no_secret(Lines, Events) ->
    Secrets = lists:usort([S || #{api_secret := S} <- Events]),
    Secrets =/= [] andalso [] =:= [S || S <- Secrets, count(Lines, S) > 0].

%% Error lines that name the system metrics, and for the adopted release's runs, error lines
%% of a kind that MongooseIM's own run (the reference) did not log.
own_errors(Ctx, Lines) ->
    Named = [L || L <- Lines, is_error(L), binary:match(L, <<"system_metrics">>) =/= nomatch],
    RefKinds = maps:get(reference_errors, Ctx, error_kinds(Lines)),
    Named ++ [K || K <- error_kinds(Lines), not lists:member(K, RefKinds)].

%% @doc The adopted release with `report = false', and every other option this project's
%% section has: MongooseIM's parser reads them all, the service is configured and never
%% started, and nothing is sent or logged.
-spec report_false(ctx(), file:filename()) -> map() | undefined.
report_false(#{collector := C, url := Url} = Ctx, Rel) ->
    L = "adopted, report = false",
    Node = msm_e2e_node:node_name(),
    boot(Ctx, L, Rel, ?SECTION ++ ?EVERY_OTHER_OPTION,
         fun() ->
                 ok = msm_e2e_report:set_url(Node, Url),
                 msm_e2e_check:check(
                   [L, ": MongooseIM's parser reads every option of the section"],
                   fun() ->
                           Opts = msm_e2e_node:rpc(Node, mongoose_config, get_opt,
                                                   [[services, ?SERVICE]]),
                           case Opts =:= ?EVERY_OPTION_PARSED of
                               true -> {ok, io_lib:format("~b options", [map_size(Opts)])};
                               false -> {fail, io_lib:format("~0p", [Opts])}
                           end
                   end),
                 msm_e2e_check:check([L, ": the service is configured and not started"],
                                     fun() -> idle(Node, report_false) end),
                 #{}
         end,
         fun(Result, Lines) ->
                 msm_e2e_check:check(
                   [L, ": sends and logs nothing"],
                   fun() -> nothing(C, Rel, Lines, 0) end),
                 Result
         end).

%% @doc The adopted release without its `.so': it boots, the service stays idle, and one
%% log line says why.
-spec without_nif(ctx(), file:filename()) -> map() | undefined.
without_nif(#{collector := C, url := Url} = Ctx, Rel) ->
    L = "adopted, .so removed",
    Node = msm_e2e_node:node_name(),
    msm_e2e_check:check([L, ": the release has no .so"],
                        fun() -> [] =:= filelib:wildcard(filename:join(
                                                           [Rel, "lib", "mongoose_system_metrics-*",
                                                            "priv", "*.so"])) end),
    boot(Ctx, L, Rel, ?SECTION,
         fun() ->
                 ok = msm_e2e_report:set_url(Node, Url),
                 msm_e2e_check:check([L, ": the engine is reported unavailable, the service idle"],
                                     fun() -> idle(Node, nif_missing) end),
                 #{}
         end,
         fun(Result, Lines) ->
                 msm_e2e_check:check(
                   [L, ": one log line (system_metrics_engine_unavailable), nothing sent"],
                   fun() ->
                           case count(Lines, <<"what=system_metrics_engine_unavailable">>) of
                               1 -> nothing(C, Rel, Lines, 1);
                               N -> {fail, io_lib:format("~b such lines", [N])}
                           end
                   end),
                 Result
         end).

idle(Node, Why) ->
    Loaded = msm_e2e_node:rpc(Node, mongoose_service, is_loaded, [?SERVICE]),
    Pid = msm_e2e_node:rpc(Node, erlang, whereis, [?SERVICE]),
    Status = msm_e2e_node:rpc(Node, ?SERVICE, status, []),
    LoadError = msm_e2e_node:rpc(Node, mongoose_system_metrics_nif, load_error, []),
    Expected = case {Why, Status, LoadError} of
                   {report_false, #{running := false, kill_switch := report_false}, none} -> true;
                   {nif_missing, #{running := false}, {_, _}} -> true;
                   _ -> false
               end,
    case {Loaded, Pid, Expected} of
        {true, undefined, true} -> {ok, io_lib:format("load_error/0: ~0p", [LoadError])};
        _ -> {fail, io_lib:format("configured ~0p, process ~0p, status ~0p, load_error ~0p",
                                  [Loaded, Pid, Status, LoadError])}
    end.

%% No request, no report file, and exactly N log lines naming system_metrics.
nothing(Collector, Rel, Lines, N) ->
    Requests = ga4_stub_server:requests(Collector),
    File = filelib:is_regular(msm_e2e_node:report_file(Rel)),
    Named = [L || L <- Lines, binary:match(L, <<"system_metrics">>) =/= nomatch],
    case {Requests, File, length(Named)} of
        {[], false, N} -> ok;
        _ -> {fail, io_lib:format("~b requests, report file ~p, log lines ~0p",
                                  [length(Requests), File, Named])}
    end.

%% Boots the release with the section, runs During while it runs, stops it (a check), then
%% After with the whole log. Returns After's result, or undefined when it did not boot.
boot(#{collector := C, toml := Template} = Ctx, L, Rel, Section, During, After) ->
    io:format("---- ~s: ~ts~n", [L, Rel]),
    ok = ga4_stub_server:reset(C),
    ok = msm_e2e_node:prepare(Rel, render(Template, Section)),
    case msm_e2e_node:start(Rel) of
        {ok, OsPid} ->
            {0, Status} = msm_e2e_node:ctl_status(Rel),
            msm_e2e_check:record([L, ": boots; mongooseimctl status answers"],
                                 {ok, version_line(Status)}),
            Result = try During()
                     catch Class:Reason:Stack ->
                             msm_e2e_check:record([L, ": run"], {fail, io_lib:format(
                                                                        "~p:~0p ~0p",
                                                                        [Class, Reason, Stack])}),
                             #{}
                     end,
            Stop = msm_e2e_node:stop(Rel, OsPid),
            Lines = msm_e2e_node:log_lines(Rel),
            Final = After(Result, Lines),
            msm_e2e_check:record([L, ": stop is clean"],
                                 stop_outcome(Stop, own_errors(Ctx, Lines))),
            Final#{error_kinds => error_kinds(Lines)};
        {error, Why} ->
            msm_e2e_node:kill(Rel),
            msm_e2e_check:record([L, ": boots; mongooseimctl status answers"], {fail, Why}),
            undefined
    end.

stop_outcome(ok, []) -> {ok, "bin/mongooseim stop exits 0, the VM is gone, no crash dump"};
stop_outcome(ok, Errors) -> {fail, io_lib:format("error lines of its own: ~0p", [Errors])};
stop_outcome(Fail, _) -> Fail.

version_line(Status) ->
    case [string:trim(S) || S <- string:split(Status, "\n", all),
                            string:find(S, "version:") =/= nomatch] of
        [V | _] -> V;
        [] -> "status answered"
    end.

render(Template, Section) ->
    [Before, After] = binary:split(Template, <<"@SERVICE@\n">>),
    [Before, Section, After].

count(Lines, Pattern) ->
    length([L || L <- Lines, binary:match(L, Pattern) =/= nomatch]).

is_error(Line) ->
    lists:any(fun(Lvl) -> binary:match(Line, Lvl) =/= nomatch end,
              [<<"level=error">>, <<"level=critical">>, <<"level=alert">>,
               <<"level=emergency">>]).

%% Each error line by its `what=' (or, without one, its `at='): what MongooseIM's own run
%% logged is the reference for the adopted node's.
error_kinds(Lines) ->
    lists:usort([kind(L) || L <- Lines, is_error(L)]).

kind(Line) ->
    case re:run(Line, <<" what=([^ ]+)">>, [{capture, all_but_first, binary}]) of
        {match, [W]} -> <<"what=", W/binary>>;
        nomatch ->
            case re:run(Line, <<" at=([^ ]+)">>, [{capture, all_but_first, binary}]) of
                {match, [A]} -> <<"at=", A/binary>>;
                nomatch -> Line
            end
    end.

write_events(#{results := Dir}, Kind, Events) ->
    File = filename:join(Dir, atom_to_list(Kind) ++ "-events.json"),
    ok = filelib:ensure_dir(File),
    Plain = [#{measurement_id => Id, name => N, params => P}
             || #{measurement_id := Id, name := N, params := P} <- Events],
    ok = file:write_file(File, jiffy:encode(Plain, [pretty])).
