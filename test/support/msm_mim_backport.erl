%%% @doc Compiles a MongooseIM source file written for a newer OTP on the OTP that runs the
%%% tests (25): the file is preprocessed by epp, and the tokens of each form are rewritten into
%%% their older equivalents before parsing. Only the syntax MongooseIM's sources use is
%%% handled, each with the same meaning:
%%% - map comprehensions `#{K => V || Qs}' become `maps:from_list([{K, V} || Qs])';
%%% - map generators `K := V <- M' become `{K, V} <- maps:to_list(M)';
%%% - sigils `~"..."' (and `~b', `~B') become `<<"..."/utf8>>', `~s"..."' a string;
%%% - `-doc' and `-moduledoc' attributes are dropped (documentation only);
%%% - `maybe' expressions are compiled with OTP 25's `maybe_expr' feature (the VM that loads
%%%   the module needs `-enable-feature maybe_expr').
%%% A file that still does not parse is reported as an error, never silently skipped.
-module(msm_mim_backport).

-export([compile/3]).

%% @doc Compiles `File' with the include directories and macros of `Opts' (`compile'
%% options: `{i, Dir}', `{d, M}', `{d, M, V}'), writing `Module.beam' into `OutDir'.
-spec compile(file:filename(), file:filename(), [compile:option()]) ->
          {ok, module()} | {error, term()}.
compile(File, OutDir, Opts) ->
    Includes = [D || {i, D} <- Opts],
    Macros = [case D of {d, M} -> M; {d, M, V} -> {M, V} end
              || D <- Opts, is_tuple(D), element(1, D) =:= d],
    {ok, {_, Reserved}} = erl_features:keyword_fun([{feature, maybe_expr, enable}],
                                                   fun erl_scan:f_reserved_word/1),
    case epp:scan_file(File, [{includes, Includes}, {macros, Macros},
                              {reserved_word_fun, Reserved}, {features, [maybe_expr]}]) of
        {ok, FormsTokens, _Extra} -> compile_tokens(File, OutDir, FormsTokens, Opts);
        {error, Reason} -> {error, {File, Reason}}
    end.

compile_tokens(File, OutDir, FormsTokens, Opts) ->
    Parsed = [parse(Toks) || Toks <- FormsTokens, not is_doc(Toks)],
    case [E || {error, E} <- Parsed] of
        [] ->
            Forms = [F || {ok, F} <- Parsed, F =/= skip],
            CompileOpts = [binary, return_errors, debug_info, {feature, maybe_expr, enable},
                           nowarn_unused_vars, nowarn_unused_function]
                ++ [O || O <- Opts, is_atom(O)],
            case compile:forms(Forms, CompileOpts) of
                {ok, Mod, Bin} -> write(OutDir, Mod, Bin);
                {ok, Mod, Bin, _Warnings} -> write(OutDir, Mod, Bin);
                {error, Errors, _} -> {error, {File, Errors}}
            end;
        Errors ->
            {error, {File, Errors}}
    end.

write(OutDir, Mod, Bin) ->
    ok = file:write_file(filename:join(OutDir, atom_to_list(Mod) ++ ".beam"), Bin),
    {ok, Mod}.

%% epp gives errors and end-of-file markers as forms of their own.
parse({error, E}) -> {error, E};
parse({eof, _}) -> {ok, skip};
parse(Toks) ->
    case erl_parse:parse_form(rewrite(Toks)) of
        {ok, Form} -> {ok, Form};
        {error, E} -> {error, E}
    end.

is_doc([{'-', _}, {atom, _, A} | _]) -> A =:= doc orelse A =:= moduledoc;
is_doc(_) -> false.

%%% Rewriting

%% Sigils first, then comprehensions, innermost first; attributes (specs, types: where
%% `fun(' has no `end') hold no comprehension.
rewrite([{'-', _} | _] = Toks) ->
    sigils(Toks);
rewrite(Toks) ->
    comprehensions(sigils(Toks)).

sigils([{'~', L} | Rest0]) ->
    {Prefix, Rest1} = case Rest0 of
                          [{P, _, X} | R] when P =:= atom; P =:= var -> {X, R};
                          R -> {none, R}
                      end,
    {S, Rest} = sigil_string(Rest1),
    case lists:member(Prefix, [s, 'S']) of
        true -> [{string, L, S} | sigils(Rest)];
        false -> binary_tokens(L, S) ++ sigils(Rest)
    end;
sigils([T | Rest]) ->
    [T | sigils(Rest)];
sigils([]) ->
    [].

%% OTP 25 scans a triple-quoted string as `""', the text, `""': the text keeps the lines
%% between the delimiters, less the closing line's indentation.
sigil_string([{string, _, ""}, {string, _, [$\n | _] = Text}, {string, _, ""} | Rest]) ->
    ["" | Lines] = string:split(Text, "\n", all),
    Width = length(lists:last(Lines)),
    Kept = [lists:nthtail(min(Width, length(Line)), Line) || Line <- lists:droplast(Lines)],
    {lists:flatten(lists:join("\n", Kept)), Rest};
sigil_string([{string, _, S} | Rest]) ->
    {S, Rest}.

binary_tokens(L, S) ->
    [{'<<', L}, {string, L, S}, {'/', L}, {atom, L, utf8}, {'>>', L}].

%% Walks the tokens; at each opening bracket, rewrites what it encloses.
comprehensions([]) ->
    [];
comprehensions([{'#', L}, {'{', _} = Open | Rest]) ->
    {Inner, Close, After} = enclosed(Rest),
    Body = comprehensions(Inner),
    case split_top(Body, '||') of
        {KV, Quals} ->
            {K, V} = split_top(KV, '=>'),
            [{atom, L, maps}, {':', L}, {atom, L, from_list}, {'(', L}, {'[', L}, {'{', L}]
                ++ K ++ [{',', L}] ++ V ++ [{'}', L}, {'||', L}] ++ generators(Quals)
                ++ [{']', L}, {')', L}] ++ comprehensions(After);
        nomatch ->
            [{'#', L}, Open | Body] ++ [Close | comprehensions(After)]
    end;
comprehensions([{Open, _} = T | Rest]) when Open =:= '['; Open =:= '{'; Open =:= '(';
                                              Open =:= '<<' ->
    {Inner, Close, After} = enclosed(Rest),
    Body = comprehensions(Inner),
    NewBody = case split_top(Body, '||') of
                  {Head, Quals} -> Head ++ [{'||', element(2, T)}] ++ generators(Quals);
                  nomatch -> Body
              end,
    [T | NewBody] ++ [Close | comprehensions(After)];
comprehensions([T | Rest]) ->
    [T | comprehensions(Rest)].

%% The qualifiers of a comprehension, each map generator made a list generator.
generators(Quals) ->
    Parts = [generator(P) || P <- split_all(Quals, ',')],
    lists:append(lists:join([{',', line(hd(Quals))}], Parts)).

generator(Qual) ->
    case split_top(Qual, '<-') of
        {Pat, Expr} ->
            case split_top(Pat, ':=') of
                {K, V} ->
                    L = line(hd(Pat)),
                    [{'{', L}] ++ K ++ [{',', L}] ++ V ++ [{'}', L}, {'<-', L},
                                                          {atom, L, maps}, {':', L},
                                                          {atom, L, to_list}, {'(', L}]
                        ++ Expr ++ [{')', L}];
                nomatch ->
                    Qual
            end;
        nomatch ->
            Qual
    end.

line(T) -> element(2, T).

%% The tokens up to the bracket closing an opened one: {Inside, Closing, After}.
enclosed(Toks) ->
    enclosed(Toks, 0, []).

enclosed([{C, _} = T | Rest], 0, Acc) when C =:= ']'; C =:= '}'; C =:= ')'; C =:= '>>' ->
    {lists:reverse(Acc), T, Rest};
enclosed([T | Rest], Depth, Acc) ->
    enclosed(Rest, Depth + depth_change(T, Rest), [T | Acc]).

%% Brackets, and the keyword blocks closed by `end' (a block may hold top-level commas).
depth_change({C, _}, _) when C =:= '['; C =:= '{'; C =:= '('; C =:= '<<' -> 1;
depth_change({C, _}, _) when C =:= ']'; C =:= '}'; C =:= ')'; C =:= '>>' -> -1;
depth_change({K, _}, _) when K =:= 'case'; K =:= 'if'; K =:= 'receive'; K =:= 'try';
                             K =:= 'begin'; K =:= 'maybe' -> 1;
depth_change({'fun', _}, [{'(', _} | _]) -> 1;
depth_change({'fun', _}, [{var, _, _}, {'(', _} | _]) -> 1;
depth_change({'end', _}, _) -> -1;
depth_change(_, _) -> 0.

%% Splits at the first `Sep' outside brackets and blocks.
split_top(Toks, Sep) ->
    split_top(Toks, Sep, 0, []).

split_top([], _, _, _) ->
    nomatch;
split_top([{Sep, _} | Rest], Sep, 0, Acc) ->
    {lists:reverse(Acc), Rest};
split_top([T | Rest], Sep, Depth, Acc) ->
    split_top(Rest, Sep, Depth + depth_change(T, Rest), [T | Acc]).

split_all(Toks, Sep) ->
    case split_top(Toks, Sep) of
        {First, Rest} -> [First | split_all(Rest, Sep)];
        nomatch -> [Toks]
    end.
