%%% @doc The service's TOML section through MongooseIM's own config parser, release by release.
%%%
%%% For every release in `../shared/mongooseim/' (6.1.0 to 6.8.0) this suite compiles that
%%% release's `mongoose_config_parser_toml' and `mongoose_config_validator', and its own
%%% `service_mongoose_system_metrics' (for MongooseIM's `config_spec/0'), each renamed per
%%% release so that all of them are loaded at once (test/support/msm_mim_sources.erl). Each section
%%% is given to the parser's `handle/3' as tomerl would give it (binary keys, integers,
%%% booleans, binaries for strings), once with MongooseIM's spec and once with ours.
%%%
%%% An outcome is `{ok, Value}', `{error, Kinds}' (the parser's own config errors: a value
%%% refused) or `{crash, Class, Reason}' (an exception out of the parser, or a failure that
%%% depends on the spec rather than on the value: see `spec_fault/3'). The expected outcome
%%% of every section is written down in the tables below, and the two specs are also
%%% compared with each other.
-module(mongooseim_config_SUITE).
-compile([export_all, nowarn_export_all]).
-include_lib("common_test/include/ct.hrl").
-include("mongoose_system_metrics_config_spec.hrl").

-define(S, service_mongoose_system_metrics).
%% The parser's paths run from the node up to the root.
-define(PATH, [<<"service_mongoose_system_metrics">>, <<"services">>]).
-define(SECTION_PATH, "services.service_mongoose_system_metrics").
%% The keys this project adds to MongooseIM's section.
-define(ADDED, [url, region, validate, timeout, max_retries, cacertfile, cluster_report]).
%% What our spec adds to every accepted section: the default of an added key.
-define(ADDED_DEFAULTS, #{cluster_report => false}).

all() ->
    [mongooseim_keys_as_mongooseim, added_keys, odd_values_never_crash,
     accepted_sections_pass_service_check].

init_per_suite(Config) ->
    case msm_mim_sources:require() of
        ok ->
            Releases = [load_release(R) || R <- msm_mim_sources:releases()],
            ct:pal("MongooseIM releases: ~p", [[R || #{release := R} <- Releases]]),
            [{releases, Releases} | Config];
        {skip, _} = Skip ->
            Skip
    end.

end_per_suite(_Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    Ca = filename:join(?config(priv_dir, Config), "ca.pem"),
    ok = file:write_file(Ca, <<"not checked by the parser">>),
    [{cacertfile, Ca} | Config].

end_per_testcase(_Case, _Config) ->
    %% The service's init/1 records a kill switch in force.
    application:unset_env(mongoose_system_metrics, kill_switch).

%% The release's parser and validator, and its service for its config_spec/0, renamed.
load_release(Release) ->
    Prefix = "mim_" ++ atom_to_list(msm_mim_sources:release_atom(Release)) ++ "_",
    Rename = fun(M) -> {M, list_to_atom(Prefix ++ atom_to_list(M))} end,
    ConfigRenames = [Rename(mongoose_config_parser_toml), Rename(mongoose_config_validator)],
    [Parser, _Validator] =
        msm_mim_sources:compile(Release, ["src/config/mongoose_config_parser_toml.erl",
                                          "src/config/mongoose_config_validator.erl"],
                                #{rename => ConfigRenames, export_all => true}),
    [Service] = msm_mim_sources:compile(
                  Release, ["src/system_metrics/service_mongoose_system_metrics.erl"],
                  #{rename => [Rename(service_mongoose_system_metrics)]}),
    #{release => Release, parser => Parser, mim_spec => Service:config_spec()}.

%%--------------------------------------------------------------------
%% Tables: {Name, Section, Expected}
%%--------------------------------------------------------------------

%% Sections with MongooseIM's keys only. Expected: MongooseIM's outcome; ours is the same
%% once the added keys (?ADDED_DEFAULTS) are removed.
mongooseim_sections() ->
    Tid = #{<<"id">> => <<"G-123456789">>, <<"secret">> => <<"Secret">>},
    [{empty, #{},
      {ok, #{initial_report => 300000, periodic_report => 10800000}}},
     {initial_report_0, #{<<"initial_report">> => 0},
      {ok, #{initial_report => 0, periodic_report => 10800000}}},
     {initial_report_1000, #{<<"initial_report">> => 1000},
      {ok, #{initial_report => 1000, periodic_report => 10800000}}},
     {periodic_report_0, #{<<"periodic_report">> => 0},
      {ok, #{initial_report => 300000, periodic_report => 0}}},
     {periodic_report_3h, #{<<"periodic_report">> => 10800000},
      {ok, #{initial_report => 300000, periodic_report => 10800000}}},
     {periodic_report_30h, #{<<"periodic_report">> => 108000000},
      {ok, #{initial_report => 300000, periodic_report => 108000000}}},
     {report_true, #{<<"report">> => true},
      {ok, #{initial_report => 300000, periodic_report => 10800000, report => true}}},
     {report_false, #{<<"report">> => false},
      {ok, #{initial_report => 300000, periodic_report => 10800000, report => false}}},
     {tracking_id, #{<<"tracking_id">> => Tid},
      {ok, #{initial_report => 300000, periodic_report => 10800000,
             tracking_id => #{id => "G-123456789", secret => "Secret"}}}},
     {full, #{<<"report">> => true, <<"initial_report">> => 1000,
              <<"periodic_report">> => 60000, <<"tracking_id">> => Tid},
      {ok, #{initial_report => 1000, periodic_report => 60000, report => true,
             tracking_id => #{id => "G-123456789", secret => "Secret"}}}},
     {full_report_false, #{<<"report">> => false, <<"initial_report">> => 0,
                           <<"periodic_report">> => 0, <<"tracking_id">> => Tid},
      {ok, #{initial_report => 0, periodic_report => 0, report => false,
             tracking_id => #{id => "G-123456789", secret => "Secret"}}}},
     {initial_report_negative, #{<<"initial_report">> => -1},
      {error, [{"initial_report", validate, function_clause}]}},
     {periodic_report_negative, #{<<"periodic_report">> => -5},
      {error, [{"periodic_report", validate, function_clause}]}},
     {initial_report_string, #{<<"initial_report">> => <<"5 minutes">>},
      {error, [{"initial_report", parse, function_clause}]}},
     {periodic_report_string, #{<<"periodic_report">> => <<"10800000">>},
      {error, [{"periodic_report", parse, function_clause}]}},
     {periodic_report_float, #{<<"periodic_report">> => 1.5},
      {error, [{"periodic_report", parse, function_clause}]}},
     {initial_report_table, #{<<"initial_report">> => #{<<"ms">> => 1}},
      {error, [{"initial_report", parse, case_clause}]}},
     {two_bad_values, #{<<"initial_report">> => -1, <<"periodic_report">> => <<"x">>},
      {error, [{"initial_report", validate, function_clause},
               {"periodic_report", parse, function_clause}]}},
     {report_yes, #{<<"report">> => <<"yes">>},
      {error, [{"report", parse, function_clause}]}},
     {report_1, #{<<"report">> => 1},
      {error, [{"report", parse, function_clause}]}},
     {tracking_id_missing_id, #{<<"tracking_id">> => maps:remove(<<"id">>, Tid)},
      {error, [{"tracking_id", parse, missing_mandatory_keys}]}},
     {tracking_id_missing_secret, #{<<"tracking_id">> => maps:remove(<<"secret">>, Tid)},
      {error, [{"tracking_id", parse, missing_mandatory_keys}]}},
     {tracking_id_empty_table, #{<<"tracking_id">> => #{}},
      {error, [{"tracking_id", parse, missing_mandatory_keys}]}},
     {tracking_id_empty_id, #{<<"tracking_id">> => Tid#{<<"id">> => <<>>}},
      {error, [{"tracking_id.id", validate, function_clause}]}},
     {tracking_id_empty_secret, #{<<"tracking_id">> => Tid#{<<"secret">> => <<>>}},
      {error, [{"tracking_id.secret", validate, function_clause}]}},
     {tracking_id_integer_id, #{<<"tracking_id">> => Tid#{<<"id">> => 5}},
      {error, [{"tracking_id.id", parse, badarg}]}},
     {tracking_id_extra_key, #{<<"tracking_id">> => Tid#{<<"other">> => 1}},
      {error, [{"tracking_id", parse, unexpected_key}]}},
     {tracking_id_string, #{<<"tracking_id">> => <<"G-123456789">>},
      {error, [{"tracking_id", parse, case_clause}]}},
     {unknown_key, #{<<"foo">> => 1},
      {error, [{"", parse, unexpected_key}]}},
     {unknown_key_beside_valid, #{<<"foo">> => 1, <<"report">> => true},
      {error, [{"", parse, unexpected_key}]}}].

%% Sections with the keys this project adds (our spec only); `Ca' is an existing file.
added_sections(Ca) ->
    Url = <<"https://example.com/mp/collect">>,
    [{url, #{<<"url">> => Url}, {ok, ours(#{url => Url})}},
     {region_eu, #{<<"region">> => <<"eu">>}, {ok, ours(#{region => eu})}},
     {region_global, #{<<"region">> => <<"global">>}, {ok, ours(#{region => global})}},
     {validate_true, #{<<"validate">> => true}, {ok, ours(#{validate => true})}},
     {validate_false, #{<<"validate">> => false}, {ok, ours(#{validate => false})}},
     {timeout_1, #{<<"timeout">> => 1}, {ok, ours(#{timeout => 1})}},
     {timeout_5000, #{<<"timeout">> => 5000}, {ok, ours(#{timeout => 5000})}},
     {max_retries_0, #{<<"max_retries">> => 0}, {ok, ours(#{max_retries => 0})}},
     {max_retries_3, #{<<"max_retries">> => 3}, {ok, ours(#{max_retries => 3})}},
     {cacertfile, #{<<"cacertfile">> => list_to_binary(Ca)}, {ok, ours(#{cacertfile => Ca})}},
     {cluster_report_true, #{<<"cluster_report">> => true},
      {ok, ours(#{cluster_report => true})}},
     {cluster_report_false, #{<<"cluster_report">> => false},
      {ok, ours(#{cluster_report => false})}},
     {full, #{<<"report">> => true, <<"initial_report">> => 1000,
              <<"periodic_report">> => 60000,
              <<"tracking_id">> => #{<<"id">> => <<"G-1">>, <<"secret">> => <<"s">>},
              <<"url">> => Url, <<"region">> => <<"eu">>, <<"validate">> => true,
              <<"timeout">> => 2000, <<"max_retries">> => 1,
              <<"cacertfile">> => list_to_binary(Ca), <<"cluster_report">> => true},
      {ok, #{report => true, initial_report => 1000, periodic_report => 60000,
             tracking_id => #{id => "G-1", secret => "s"}, url => Url, region => eu,
             validate => true, timeout => 2000, max_retries => 1, cacertfile => Ca,
             cluster_report => true}}},
     {url_empty, #{<<"url">> => <<>>}, {error, [{"url", validate, function_clause}]}},
     {url_integer, #{<<"url">> => 5}, {error, [{"url", parse, function_clause}]}},
     {region_mars, #{<<"region">> => <<"mars">>},
      {error, [{"region", validate, validate_enum_failed}]}},
     {region_integer, #{<<"region">> => 1}, {error, [{"region", parse, badarg}]}},
     {validate_yes, #{<<"validate">> => <<"yes">>},
      {error, [{"validate", parse, function_clause}]}},
     {timeout_0, #{<<"timeout">> => 0}, {error, [{"timeout", validate, function_clause}]}},
     {timeout_negative, #{<<"timeout">> => -1},
      {error, [{"timeout", validate, function_clause}]}},
     {timeout_string, #{<<"timeout">> => <<"5s">>},
      {error, [{"timeout", parse, function_clause}]}},
     {max_retries_negative, #{<<"max_retries">> => -1},
      {error, [{"max_retries", validate, function_clause}]}},
     {max_retries_float, #{<<"max_retries">> => 1.5},
      {error, [{"max_retries", parse, function_clause}]}},
     {cacertfile_missing, #{<<"cacertfile">> => <<"/nonexistent/ca.pem">>},
      {error, [{"cacertfile", validate, invalid_filename}]}},
     {cacertfile_empty, #{<<"cacertfile">> => <<>>},
      {error, [{"cacertfile", validate, invalid_filename}]}},
     {cacertfile_integer, #{<<"cacertfile">> => 1}, {error, [{"cacertfile", parse, badarg}]}},
     {cluster_report_string, #{<<"cluster_report">> => <<"true">>},
      {error, [{"cluster_report", parse, function_clause}]}},
     {added_and_mongooseim_bad, #{<<"timeout">> => 0, <<"initial_report">> => -1},
      {error, [{"initial_report", validate, function_clause},
               {"timeout", validate, function_clause}]}}].

%% Our value: MongooseIM's defaults, our added default, then the section's values.
ours(Values) ->
    maps:merge(#{initial_report => 300000, periodic_report => 10800000,
                 cluster_report => false}, Values).

%%--------------------------------------------------------------------
%% Cases
%%--------------------------------------------------------------------

%% MongooseIM's keys: both specs give the expected outcome, and the same one.
mongooseim_keys_as_mongooseim(Config) ->
    Rows = [{R, Name, Expected, outcome(Rel, mim_spec, Toml), outcome(Rel, ours, Toml)}
            || #{release := R} = Rel <- ?config(releases, Config),
               {Name, Toml, Expected} <- mongooseim_sections()],
    log_table(Rows),
    check([mismatches_mongooseim(Row) || Row <- Rows]).

mismatches_mongooseim({R, Name, Expected, Mim, Ours}) ->
    [{R, Name, mongooseim_spec, Mim, expected, Expected} || Mim =/= Expected]
        ++ [{R, Name, our_spec_crashed, Ours} || element(1, Ours) =:= crash]
        ++ [{R, Name, our_spec, Ours, expected, Expected} || without_added(Ours) =/= Expected]
        ++ [{R, Name, our_spec_vs_mongooseim, Ours, Mim} || without_added(Ours) =/= Mim]
        ++ [{R, Name, our_added_defaults, Ours} || not added_defaults_only(Ours)].

%% The added keys: the expected outcome with our spec, in every release's parser.
added_keys(Config) ->
    Sections = added_sections(?config(cacertfile, Config)),
    check([{R, Name, our_spec, Ours, expected, Expected}
           || #{release := R} = Rel <- ?config(releases, Config),
              {Name, Toml, Expected} <- Sections,
              Ours <- [outcome(Rel, ours, Toml)],
              Ours =/= Expected]).

%% Any value of any type for any key of our spec: accepted or refused, never a crash.
odd_values_never_crash(Config) ->
    Values = [0, -1, 1, 1.5, <<>>, <<"x">>, true, false, #{}, #{<<"a">> => 1}, [], [1]],
    Tid = #{<<"id">> => <<"G-1">>, <<"secret">> => <<"s">>},
    Sections = [#{K => V} || K <- our_keys(), V <- Values]
        ++ [#{<<"tracking_id">> => Tid#{K => V}} || K <- maps:keys(Tid), V <- Values],
    ct:pal("~p sections of odd values per release", [length(Sections)]),
    check([{R, Toml, our_spec_crashed, O}
           || #{release := R} = Rel <- ?config(releases, Config),
              Toml <- Sections,
              O <- [outcome(Rel, ours, Toml)],
              element(1, O) =:= crash]).

%% What our spec yields for every section it accepts passes the service's own option check
%% (service_mongoose_system_metrics:init/1, through start_link/1). `report => false' makes
%% init/1 stop right after that check, before anything is started; the control line shows
%% that the check does run on that path.
accepted_sections_pass_service_check(Config) ->
    %% start_link/1 links: a refused option would end this process too.
    process_flag(trap_exit, true),
    {error, {bad_option, periodic_report}} =
        ?S:start_link(#{report => false, periodic_report => -1}),
    Sections = mongooseim_sections() ++ added_sections(?config(cacertfile, Config)),
    Accepted = [{R, Name, V} || #{release := R} = Rel <- ?config(releases, Config),
                                {Name, Toml, _} <- Sections,
                                {ok, V} <- [outcome(Rel, ours, Toml)]],
    ct:pal("~p accepted sections checked by the service", [length(Accepted)]),
    true = length(Accepted) > 0,
    check([{R, Name, V, service_says, Res}
           || {R, Name, V} <- Accepted,
              Res <- [?S:start_link(V#{report => false})],
              Res =/= ignore]).

%%--------------------------------------------------------------------
%% Running a section through a release's parser
%%--------------------------------------------------------------------

our_keys() ->
    #section{items = Items} = ?S:config_spec(),
    maps:keys(Items).

outcome(#{parser := Parser} = Rel, Which, Toml) ->
    Spec = case Which of
               mim_spec -> maps:get(mim_spec, Rel);
               ours -> ?S:config_spec()
           end,
    try Parser:handle(?PATH, Toml, Spec) of
        Result -> classify(Parser:extract_errors(Result), Result)
    catch Class:Reason -> {crash, Class, Reason}
    end.

classify([], [{service_mongoose_system_metrics, Value}]) ->
    {ok, Value};
classify([], Other) ->
    {crash, error, {unexpected_result, Other}};
classify(Errors, _) ->
    Kinds = [error_kind(E) || E <- Errors],
    case [K || K <- Kinds, element(1, K) =:= spec_fault] of
        [] -> {error, lists:sort(Kinds)};
        Faults -> {crash, error, Faults}
    end.

%% {Path within the section, step, reason}; the parser's `text' names the step.
error_kind(#{what := toml_processing_failed, text := Text, toml_path := Path,
             reason := Reason} = E) ->
    Step = step(Text),
    Tag = if is_tuple(Reason) -> element(1, Reason);
             true -> Reason
          end,
    case spec_fault(Step, Tag, maps:get(stacktrace, E, [])) of
        true -> {spec_fault, Path, Step, Reason};
        false -> {relative_path(Path), Step, Tag}
    end;
error_kind(Other) ->
    {spec_fault, unknown_error, Other}.

step("TOML configuration error: Malformed node") -> parse;
step("TOML configuration error: Invalid node value") -> validate;
step("TOML configuration error: List or section has invalid key-value pairs") -> format_items;
step("TOML configuration error: Node could not be processed") -> process;
step("TOML configuration error: Node could not be wrapped in a config option") -> wrap;
step(Text) -> {unknown_step, Text}.

%% A failure that no value could avoid: the spec is at fault (a crash), not the value.
%% - format_items, process and wrap depend on the spec only (TOML keys are unique);
%% - `undef': a MongooseIM module this spec needs is missing;
%% - a validator without a clause for the option's type and validator refuses every value.
spec_fault(Step, _, _) when Step =:= format_items; Step =:= process; Step =:= wrap -> true;
spec_fault({unknown_step, _}, _, _) -> true;
spec_fault(_, undef, _) -> true;
spec_fault(validate, function_clause, [{Mod, validate, [_, _, _], _} | _]) ->
    lists:suffix("mongoose_config_validator", atom_to_list(Mod));
spec_fault(_, _, _) -> false.

relative_path(?SECTION_PATH) -> "";
relative_path(?SECTION_PATH "." ++ Rest) -> Rest;
relative_path(Other) -> {outside_section, Other}.

without_added({ok, V}) -> {ok, maps:without(?ADDED, V)};
without_added(Other) -> Other.

added_defaults_only({ok, V}) -> maps:with(?ADDED, V) =:= ?ADDED_DEFAULTS;
added_defaults_only(_) -> true.

check([]) ->
    ok;
check(Failures) ->
    Flat = lists:flatten(Failures),
    case Flat of
        [] -> ok;
        _ ->
            ct:pal("~p failures:~n~p", [length(Flat), Flat]),
            ct:fail({failures, length(Flat), lists:sublist(Flat, 10)})
    end.

%% One line per release: sections, MongooseIM's and our outcome classes, how many match.
log_table(Rows) ->
    Releases = lists:usort([R || {R, _, _, _, _} <- Rows]),
    [begin
         Mine = [Row || {R1, _, _, _, _} = Row <- Rows, R1 =:= R],
         Count = fun(Pred) -> length([x || Row <- Mine, Pred(Row)]) end,
         ct:pal("~s: ~p sections; MongooseIM spec ok/error/crash ~p/~p/~p; "
                "ours ok/error/crash ~p/~p/~p; matching ~p",
                [R, length(Mine),
                 Count(fun({_, _, _, M, _}) -> element(1, M) =:= ok end),
                 Count(fun({_, _, _, M, _}) -> element(1, M) =:= error end),
                 Count(fun({_, _, _, M, _}) -> element(1, M) =:= crash end),
                 Count(fun({_, _, _, _, O}) -> element(1, O) =:= ok end),
                 Count(fun({_, _, _, _, O}) -> element(1, O) =:= error end),
                 Count(fun({_, _, _, _, O}) -> element(1, O) =:= crash end),
                 Count(fun(Row) -> mismatches_mongooseim(Row) =:= [] end)])
     end || R <- Releases],
    ok.
