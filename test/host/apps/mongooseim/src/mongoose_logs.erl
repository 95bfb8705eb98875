%%% @doc Stand-in for MongooseIM's `mongoose_logs': the directory of the `disk_log' handler's
%%% file, or "" when there is none (MongooseIM's rule).
-module(mongoose_logs).

-export([dir/0]).

-spec dir() -> string().
dir() ->
    case logger:get_handler_config(disk_log) of
        {ok, #{config := #{file := Path}}} -> filename:dirname(Path);
        _ -> ""
    end.
