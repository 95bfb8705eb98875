%%% @doc `make mongooseim-e2e' after the builds: boots real MongooseIM 6.2.1 releases in turn
%%% and checks this project as a plugin of the real thing. scripts/mongooseim-e2e.sh builds
%%% the releases and starts this hidden node (cookie `mongooseim') with:
%%% <ul>
%%% <li>`MSM_E2E_ROOT': this checkout; `MSM_E2E_TOML': the configuration template;
%%%     `MSM_E2E_RESULTS': where the events each node sent are written;</li>
%%% <li>`MSM_E2E_VANILLA', `MSM_E2E_ADOPTED', `MSM_E2E_NO_NIF': the release directories
%%%     (MongooseIM as built, adopted with this project, adopted without the `.so');</li>
%%% <li>`MSM_E2E_BUILD_VANILLA', `MSM_E2E_BUILD_ADOPTED': `ok:Detail' or `fail:Detail'.</li>
%%% </ul>
%%% One loopback GA4-compatible collector (test/support/ga4_stub_server.erl) receives every
%%% report. Prints one line per check and `N passed, N failed'; halts with 0 only when
%%% every check passed.
-module(msm_e2e).

-export([main/0]).

-spec main() -> no_return().
main() ->
    Status = try run()
             catch Class:Reason:Stack ->
                     msm_e2e_check:record("the run itself",
                                          {fail, io_lib:format("~p:~0p ~0p",
                                                               [Class, Reason, Stack])}),
                     msm_e2e_check:summary()
             end,
    erlang:halt(Status).

run() ->
    {ok, _} = application:ensure_all_started(jiffy),
    Vanilla = build_check("MongooseIM 6.2.1 as released", "MSM_E2E_BUILD_VANILLA",
                          "MSM_E2E_VANILLA"),
    Adopted = build_check("MongooseIM 6.2.1 adopted with this checkout",
                          "MSM_E2E_BUILD_ADOPTED", "MSM_E2E_ADOPTED"),
    NoNif = case Adopted of
                undefined -> undefined;
                _ -> os:getenv("MSM_E2E_NO_NIF")
            end,
    Alone = msm_e2e_check:check("no other node named mongooseim is running",
                                fun() -> not msm_e2e_node:is_registered() end),
    {ok, Collector} = ga4_stub_server:start(),
    Url = ga4_stub_server:url(Collector),
    io:format("---- loopback GA4-compatible collector: ~s~n", [Url]),
    Ctx = #{collector => Collector, url => Url, toml => template(),
            results => os:getenv("MSM_E2E_RESULTS"), vsn => app_vsn()},
    case Alone of
        true -> runs(Ctx, Vanilla, Adopted, NoNif);
        false -> msm_e2e_check:skip("the releases' runs", "port and node name taken")
    end,
    ga4_stub_server:stop(Collector),
    case os:getenv("MSM_E2E_STARTED") of
        false -> ok;
        T0 -> io:format("total time: ~b s~n", [erlang:system_time(second) - list_to_integer(T0)])
    end,
    msm_e2e_check:summary().

runs(Ctx, Vanilla, Adopted, NoNif) ->
    Theirs = run_if(Vanilla, fun(Rel) -> msm_e2e_runs:reporting(Ctx, mongooseim, Rel) end),
    %% The error lines of MongooseIM's own run (its own, at stop) are the reference for the
    %% adopted release's runs.
    Ctx1 = case Theirs of
               #{error_kinds := Kinds} -> Ctx#{reference_errors => Kinds};
               _ -> Ctx
           end,
    Ours = run_if(Adopted, fun(Rel) -> msm_e2e_runs:reporting(Ctx1, plugin, Rel) end),
    compare(Ctx, Theirs, Ours),
    run_if(Adopted, fun(Rel) -> msm_e2e_runs:report_false(Ctx1, Rel) end),
    run_if(NoNif, fun(Rel) -> msm_e2e_runs:without_nif(Ctx1, Rel) end),
    ok.

run_if(undefined, _) -> undefined;
run_if(Rel, Fun) -> Fun(Rel).

%% A build's outcome, as the shell script found it; the release directory when it passed.
build_check(Name, OutcomeVar, RelVar) ->
    {Passed, Detail} = case os:getenv(OutcomeVar, "fail:not built") of
                           "ok:" ++ D -> {true, D};
                           "fail:" ++ D -> {false, D};
                           Other -> {false, Other}
                       end,
    Outcome = case Passed of
                  true -> {ok, Detail};
                  false -> {fail, Detail}
              end,
    case msm_e2e_check:record(["builds: ", Name], Outcome) of
        true -> os:getenv(RelVar);
        false -> undefined
    end.

compare(#{results := Results}, #{events := Theirs}, #{events := Ours}) ->
    io:format("---- MongooseIM's service and this project's, on the same configuration~n"),
    msm_e2e_check:check(
      "both nodes send the same events to the same tracking ids (uptime aside)",
      fun() ->
              case msm_e2e_compare:events(Theirs, Ours) of
                  {ok, Seen} ->
                      [io:format("     README difference \"~s\": ~ts~n",
                                 [D, case maps:get(D, Seen, []) of
                                         [] -> "not seen here";
                                         Is -> lists:join(", ", lists:usort(
                                                                  [unicode:characters_to_list(I)
                                                                   || I <- Is]))
                                     end]) || D <- msm_e2e_compare:differences()],
                      Ids = lists:usort([Id || #{measurement_id := Id} <- Ours]),
                      {ok, io_lib:format("~b events to each of ~ts; events of each node in ~ts",
                                         [length(Ours) div max(1, length(Ids)),
                                          lists:join(", ", Ids), Results])};
                  {fail, _} = Fail ->
                      Fail
              end
      end),
    msm_e2e_check:check(
      "both nodes send the same secret with each tracking id",
      fun() -> secrets(Theirs) =:= secrets(Ours) end);
compare(_, _, _) ->
    msm_e2e_check:skip("both nodes send the same events to the same tracking ids",
                       "a node did not report").

secrets(Events) ->
    lists:usort([{Id, crypto:hash(sha256, S)} || #{measurement_id := Id, api_secret := S}
                                                     <- Events]).

template() ->
    {ok, Bin} = file:read_file(os:getenv("MSM_E2E_TOML")),
    Bin.

%% This project's version, as its application resource file gives it.
app_vsn() ->
    File = filename:join([os:getenv("MSM_E2E_ROOT"), "src", "mongoose_system_metrics.app.src"]),
    {ok, [{application, mongoose_system_metrics, Props}]} = file:consult(File),
    proplists:get_value(vsn, Props).
