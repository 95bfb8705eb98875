%%% @doc Human-readable preview of the next report: the events and the exact request bodies
%%% it would send (from the engine's plan_requests/2), secrets masked, sending nothing.
%%%
%%% Used from a shell attached to a running MongooseIM node (`bin/mongooseimctl debug', then
%%% `mongoose_system_metrics_preview:print().'), and by `scripts/msm preview --node NODE',
%%% which calls `text/0' on a running node.
-module(mongoose_system_metrics_preview).

-export([print/0, text/0, format/1]).

%% @doc Prints the preview of the running service to standard output.
-spec print() -> ok | {error, term()}.
print() ->
    case text() of
        {ok, Text} -> io:put_chars(Text);
        {error, _} = Err -> Err
    end.

%% @doc The preview of the running service as text.
-spec text() -> {ok, unicode:unicode_binary()} | {error, term()}.
text() ->
    case service_mongoose_system_metrics:preview() of
        {ok, Preview} -> {ok, format(Preview)};
        {error, _} = Err -> Err
    end.

%% @doc Formats a `service_mongoose_system_metrics:preview()' map.
-spec format(service_mongoose_system_metrics:preview()) -> unicode:unicode_binary().
format(#{events := Events, requests := Requests, report_file := File}) ->
    EventLines = [io_lib:format("  ~-22s ~ts~n", [Name, params_text(Params)])
                  || #{name := Name, params := Params} <- Events],
    RequestLines = case Requests of
                       [] -> ["  (no tracking id configured: nothing would be sent)\n"];
                       _ -> [io_lib:format("  POST ~ts~n  ~ts~n", [Url, Body])
                             || #{url := Url, body := Body} <- Requests]
                   end,
    unicode:characters_to_binary(
      ["System metrics preview: nothing has been sent.\n",
       io_lib:format("Events (~b):~n", [length(Events)]), EventLines,
       io_lib:format("Requests (~b, api_secret masked):~n", [length(Requests)]), RequestLines,
       io_lib:format("Report file: ~ts~n", [File])]).

params_text(Params) ->
    lists:join(", ", [[K, "=", value_text(V)] || {K, V} <- lists:sort(maps:to_list(Params))]).

value_text(V) when is_integer(V) -> integer_to_binary(V);
value_text(V) when is_binary(V) -> V.
