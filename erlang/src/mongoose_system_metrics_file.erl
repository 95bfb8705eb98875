%%% @doc The report file and the service's small persisted state, all in one directory.
%%%
%%% `system_metrics_report.json' holds the last report, pretty-printed JSON as encoded by the
%%% engine: the events only, so never a tracking id's secret. Beside it, two plain-text files:
%%% `system_metrics_client_id' (the client id generated when MongooseIM has no cluster id)
%%% and `system_metrics_last_success' (milliseconds since the epoch of the last successful
%%% report, for the schedule after a restart). Every write goes to a temporary file that is
%%% then renamed over the old one, so a reader never sees half a file.
%%%
%%% The directory is the application env `report_dir' when set, else MongooseIM's log
%%% directory (`mongoose_logs:dir/0'), else the current working directory.
%%% Failures are returned, never raised: the service logs them and goes on.
-module(mongoose_system_metrics_file).

-export([location/0, save/1, dir/0,
         read_client_id/0, write_client_id/1,
         read_last_success/0, write_last_success/1]).

-define(REPORT, "system_metrics_report.json").
-define(CLIENT_ID, "system_metrics_client_id").
-define(LAST_SUCCESS, "system_metrics_last_success").

%% @doc The path of the report file.
-spec location() -> string().
location() ->
    filename:join(dir(), ?REPORT).

%% @doc The directory of the report file and the state files.
-spec dir() -> string().
dir() ->
    case application:get_env(mongoose_system_metrics, report_dir) of
        {ok, Dir} when is_list(Dir), Dir =/= "" -> Dir;
        {ok, Dir} when is_binary(Dir), Dir =/= <<>> -> binary_to_list(Dir);
        _ ->
            case mongoose_system_metrics_mim:logs_dir() of
                {ok, Dir} when is_list(Dir), Dir =/= "" -> Dir;
                _ -> element(2, file:get_cwd())
            end
    end.

%% @doc Writes the events of a report, pretty-printed JSON, atomically.
-spec save([mongoose_system_metrics_nif:event()]) -> ok | {error, term()}.
save(Events) ->
    case mongoose_system_metrics_nif:encode_json(Events) of
        {ok, Json} -> write_atomically(location(), Json);
        {error, Reason} -> {error, {encode_json, Reason}}
    end.

%% @doc The persisted client id, if any.
-spec read_client_id() -> {ok, binary()} | error.
read_client_id() ->
    case file:read_file(filename:join(dir(), ?CLIENT_ID)) of
        {ok, Bin} ->
            Id = string:trim(Bin),
            case valid_client_id(Id) of
                true -> {ok, Id};
                false -> error
            end;
        {error, _} ->
            error
    end.

%% @doc Persists the client id.
-spec write_client_id(binary()) -> ok | {error, term()}.
write_client_id(Id) ->
    write_atomically(filename:join(dir(), ?CLIENT_ID), [Id, $\n]).

%% @doc When the last report succeeded, in milliseconds since the epoch, if known.
-spec read_last_success() -> {ok, integer()} | error.
read_last_success() ->
    case file:read_file(filename:join(dir(), ?LAST_SUCCESS)) of
        {ok, Bin} ->
            try binary_to_integer(string:trim(Bin)) of
                Ms -> {ok, Ms}
            catch error:badarg -> error
            end;
        {error, _} ->
            error
    end.

%% @doc Persists the time of the last successful report (milliseconds since the epoch).
-spec write_last_success(integer()) -> ok | {error, term()}.
write_last_success(Ms) ->
    write_atomically(filename:join(dir(), ?LAST_SUCCESS), [integer_to_binary(Ms), $\n]).

%% The engine's rule for a client id (`valid_client_id' in native/engine/src/options.rs):
%% 1-128 characters of [A-Za-z0-9._:-]. Checked here too so that a damaged file gives way to
%% a new id instead of failing every send; keep the two the same.
-spec valid_client_id(binary()) -> boolean().
valid_client_id(Id) ->
    byte_size(Id) >= 1 andalso byte_size(Id) =< 128
        andalso lists:all(fun(C) -> (C >= $a andalso C =< $z) orelse (C >= $A andalso C =< $Z)
                                        orelse (C >= $0 andalso C =< $9)
                                        orelse lists:member(C, "._:-")
                          end, binary_to_list(Id)).

-spec write_atomically(string(), iodata()) -> ok | {error, term()}.
write_atomically(Path, Data) ->
    Tmp = Path ++ ".tmp." ++ os:getpid() ++ "." ++ integer_to_list(erlang:unique_integer([positive])),
    case filelib:ensure_dir(Path) of
        ok ->
            case file:write_file(Tmp, Data) of
                ok ->
                    case file:rename(Tmp, Path) of
                        ok -> ok;
                        {error, Reason} ->
                            _ = file:delete(Tmp),
                            {error, {rename, Path, Reason}}
                    end;
                {error, Reason} ->
                    _ = file:delete(Tmp),
                    {error, {write, Path, Reason}}
            end;
        {error, Reason} ->
            {error, {ensure_dir, Path, Reason}}
    end.
