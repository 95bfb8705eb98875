%%% @doc One version everywhere: the `.app.src' `vsn', the Rust crates' version (the
%%% workspace's, which both crates take), the HTTP User-Agent of the reports, `status/0',
%%% and a CHANGELOG.md heading for it; and the README's dependency snippet names a ref that
%%% exists in the repository.
-module(version_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

all() ->
    [app_and_crates_agree, status_says_the_version, user_agent_says_the_version,
     changelog_has_the_version, readme_snippet_names_an_existing_ref].

init_per_suite(Config) ->
    Root = msm_mim_sources:project_root(),
    [{root, Root}, {version, app_src_version(Root)} | Config].

end_per_suite(_Config) ->
    ok.

app_and_crates_agree(Config) ->
    Version = ?config(version, Config),
    ?assertMatch({match, _}, re:run(Version, "^\\d+\\.\\d+\\.\\d+$")),
    {ok, Cargo} = file:read_file(filename:join(?config(root, Config), "Cargo.toml")),
    {match, [Workspace]} = re:run(Cargo, "\\[workspace\\.package\\][^\\[]*?\\nversion = \"([^\"]+)\"",
                                  [{capture, all_but_first, list}, dotall]),
    ?assertEqual(Version, Workspace),
    %% Every crate takes the workspace's version.
    [begin
         {ok, Crate} = file:read_file(filename:join([?config(root, Config), "native", C,
                                                     "Cargo.toml"])),
         ?assertMatch({match, _}, re:run(Crate, "^version\\.workspace = true$", [multiline]))
     end || C <- ["engine", "nif", "preview"]].

status_says_the_version(Config) ->
    ?assertMatch(#{version := _}, service_mongoose_system_metrics:status()),
    #{version := Running} = service_mongoose_system_metrics:status(),
    ?assertEqual(list_to_binary(?config(version, Config)), Running).

%% The reports' HTTP User-Agent, as the loopback GA4 stand-in receives it.
user_agent_says_the_version(Config) ->
    case msm_test_helper:require_nif() of
        ok ->
            {ok, Server} = ga4_stub_server:start(),
            try
                Events = [#{name => <<"host_count">>, params => #{<<"value">> => 1}}],
                Opts = #{client_id => <<"c">>, url => list_to_binary(ga4_stub_server:url(Server)),
                         tracking_ids => [#{id => <<"G-VERSION1">>, secret => <<"s">>}]},
                {ok, Ref} = mongoose_system_metrics_nif:send_report(Events, Opts),
                receive {mongoose_system_metrics_sent, Ref, _} -> ok
                after 10000 -> ct:fail(no_result)
                end,
                [#{headers := Headers}] = ga4_stub_server:requests(Server),
                Agent = [V || {K, V} <- Headers, string:lowercase(K) =:= <<"user-agent">>],
                ?assertEqual([iolist_to_binary(["mongoose_system_metrics/",
                                                ?config(version, Config)])], Agent)
            after
                ga4_stub_server:stop(Server)
            end;
        Skip -> Skip
    end.

changelog_has_the_version(Config) ->
    {ok, Log} = file:read_file(filename:join(?config(root, Config), "CHANGELOG.md")),
    Heading = "^## \\[" ++ re_quote(?config(version, Config)) ++ "\\] - \\d{4}-\\d{2}-\\d{2}$",
    ?assertMatch({match, _}, re:run(Log, Heading, [multiline])).

%% The snippet's `{branch, B}', `{tag, T}' or `{ref, R}' exists in this repository.
readme_snippet_names_an_existing_ref(Config) ->
    Root = ?config(root, Config),
    {ok, Readme} = file:read_file(filename:join(Root, "README.md")),
    {match, [Kind, Name]} =
        re:run(Readme, "\\{mongoose_system_metrics, \\{git, \"[^\"]*\", \\{([a-z]+), \"([^\"]+)\"\\}\\}\\}",
               [{capture, all_but_first, list}]),
    Rev = case Kind of
              "branch" -> "refs/heads/" ++ Name;
              "tag" -> "refs/tags/" ++ Name;
              "ref" -> Name
          end,
    Out = os:cmd("git -C '" ++ Root ++ "' rev-parse --verify --quiet '" ++ Rev ++ "^{commit}'"),
    ?assertMatch({match, _}, re:run(Out, "^[0-9a-f]{40}$", [multiline])).

app_src_version(Root) ->
    {ok, [{application, mongoose_system_metrics, Props}]} =
        file:consult(filename:join([Root, "src", "mongoose_system_metrics.app.src"])),
    proplists:get_value(vsn, Props).

re_quote(S) ->
    re:replace(S, "[.^$*+?()\\[\\]{}|\\\\]", "\\\\&", [global, {return, list}]).
