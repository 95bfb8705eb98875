%%% @doc The service's documentation page (doc/service_mongoose_system_metrics.md) against
%%% the service's `config_spec/0': every option has its row in the options table and its own
%%% section, in MongooseIM's style (syntax, default, example); the page lists no option the
%%% service does not have; each example is of the option's type; each default that the spec
%%% gives is the page's.
-module(doc_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include("mongoose_system_metrics_config_spec.hrl").

-compile([export_all, nowarn_export_all]).

-define(PREFIX, "services.service_mongoose_system_metrics.").

all() ->
    [every_option_is_documented, no_other_option_is_documented, examples_have_the_option_s_type,
     defaults_are_the_spec_s, preview_exit_status_is_described_as_it_is].

init_per_suite(Config) ->
    File = filename:join([msm_mim_sources:project_root(), "doc",
                          "service_mongoose_system_metrics.md"]),
    {ok, Page} = file:read_file(File),
    [{page, Page} | Config].

end_per_suite(_Config) ->
    ok.

%% Every option of config_spec/0, dotted for those in a subsection, with its #option{}.
options() ->
    #section{items = Items} = mongoose_system_metrics_options:config_spec(),
    lists:sort(flatten(<<>>, Items)).

flatten(Prefix, Items) ->
    lists:append([case Spec of
                      #section{items = Sub} -> flatten(<<Prefix/binary, Key/binary, ".">>, Sub);
                      #option{} -> [{<<Prefix/binary, Key/binary>>, Spec}]
                  end || {Key, Spec} <- maps:to_list(Items)]).

%% The lines under an option's heading, up to the next heading.
option_block(Page, Name) ->
    Heading = <<"### `", ?PREFIX, Name/binary, "`\n">>,
    case binary:split(Page, Heading) of
        [_, Rest] -> hd(binary:split(Rest, <<"\n#">>));
        [_] -> ct:fail({no_section_for, Name})
    end.

bullet(Block, Label) ->
    case re:run(Block, ["^\\* \\*\\*", Label, ":\\*\\* (.*)$"],
                [multiline, {capture, all_but_first, binary}]) of
        {match, [Text]} -> Text;
        nomatch -> ct:fail({no_bullet, Label, Block})
    end.

every_option_is_documented(Config) ->
    Page = ?config(page, Config),
    Options = options(),
    ?assertEqual(12, length(Options)),
    [begin
         ?assert(binary:match(Page, <<"\n| `", Name/binary, "` |">>) =/= nomatch),
         Block = option_block(Page, Name),
         [bullet(Block, L) || L <- ["Syntax", "Default", "Example"]]
     end || {Name, _} <- Options].

no_other_option_is_documented(Config) ->
    Page = ?config(page, Config),
    {match, Headings} = re:run(Page, "^### `" ?PREFIX "([a-z_.]+)`$",
                               [multiline, global, {capture, all_but_first, binary}]),
    [_, AfterOptions] = binary:split(Page, <<"\n## Options\n">>),
    [Table | _] = binary:split(AfterOptions, <<"\n### ">>),
    {match, Rows} = re:run(Table, "^\\| `([a-z_.]+)` \\|", [multiline, global,
                                                          {capture, all_but_first, binary}]),
    Names = [N || {N, _} <- options()],
    ?assertEqual(Names, lists:sort([H || [H] <- Headings])),
    ?assertEqual(Names, lists:sort([R || [R] <- Rows])).

examples_have_the_option_s_type(Config) ->
    Page = ?config(page, Config),
    [begin
         Example = bullet(option_block(Page, Name), "Example"),
         {match, [Key, Value]} = re:run(Example, "^`([a-z_.]+) = (.+)`$",
                                        [{capture, all_but_first, binary}]),
         ?assertEqual({Name, Name}, {Name, Key}),
         ?assertEqual({Name, true}, {Name, of_type(Type, Validate, Value)})
     end || {Name, #option{type = Type, validate = Validate}} <- options()].

of_type(integer, Validate, Value) ->
    case re:run(Value, "^[0-9][0-9_]*$") of
        {match, _} ->
            N = binary_to_integer(binary:replace(Value, <<"_">>, <<>>, [global])),
            case Validate of
                positive -> N > 0;
                non_negative -> N >= 0
            end;
        nomatch -> false
    end;
of_type(boolean, _, Value) ->
    lists:member(Value, [<<"true">>, <<"false">>]);
of_type(atom, {enum, Allowed}, <<"\"", _/binary>> = Value) ->
    lists:member(binary_to_atom(string:trim(Value, both, "\"")), Allowed);
of_type(Text, _, <<"\"", _/binary>> = Value) when Text =:= binary; Text =:= string ->
    byte_size(string:trim(Value, both, "\"")) > 0;
of_type(_, _, _) ->
    false.

defaults_are_the_spec_s(Config) ->
    Page = ?config(page, Config),
    #section{defaults = Defaults} = mongoose_system_metrics_options:config_spec(),
    ?assertNotEqual(#{}, Defaults),
    [begin
         Doc = bullet(option_block(Page, Name), "Default"),
         {match, [Shown]} = re:run(Doc, "^`([^`]+)`", [{capture, all_but_first, binary}]),
         Expected = case Default of
                        N when is_integer(N) -> integer_to_binary(N);
                        B when is_boolean(B) -> atom_to_binary(B)
                    end,
         ?assertEqual({Name, Expected}, {Name, binary:replace(Shown, <<"_">>, <<>>, [global])})
     end || {Name, Default} <- maps:to_list(Defaults)].

%% The preview reads and parses a file; it does not check it as MongooseIM does. Exit status 1
%% is described so on the page and in the README, and no more.
preview_exit_status_is_described_as_it_is(Config) ->
    Readme = filename:join(msm_mim_sources:project_root(), "README.md"),
    {ok, ReadmeText} = file:read_file(Readme),
    Words = fun(Text) -> re:replace(Text, "\\s+", " ", [global, {return, binary}]) end,
    Page = Words(?config(page, Config)),
    ?assertNotEqual(nomatch, binary:match(Page, <<"Exit status: `0` done, `1` the file cannot "
                                                  "be read or parsed (the message names the "
                                                  "line or the key) or describes a node over "
                                                  "the engine's input limits (more than 10,000 "
                                                  "module entries, host types times modules: "
                                                  "its report would fail), `2` a usage "
                                                  "error.">>)),
    ?assertNotEqual(nomatch, binary:match(Page, <<"a file it previews may still be one that "
                                                  "MongooseIM refuses">>)),
    ?assertNotEqual(nomatch, binary:match(Words(ReadmeText),
                                          <<"Exit status 0, 1 when the file cannot be read or "
                                            "parsed (the message names the line or the key) "
                                            "or describes a node over the engine's input "
                                            "limits (its report would fail), 2 for a usage "
                                            "error">>)),
    [?assertEqual({Where, nomatch}, {Where, re:run(Text, "valid configuration|not a valid")})
     || {Where, Text} <- [{page, Page}, {readme, Words(ReadmeText)}]].
