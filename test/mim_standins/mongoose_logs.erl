%%% @doc TEST STAND-IN for MongooseIM's `mongoose_logs' (`dir/0'): the directory of the
%%% logger handler named `disk_log', `""' when there is none, as in MongooseIM.
-module(mongoose_logs).
-export([dir/0]).

dir() ->
    case logger:get_handler_config(disk_log) of
        {ok, #{config := #{file := Path}}} -> filename:dirname(Path);
        _ -> ""
    end.
