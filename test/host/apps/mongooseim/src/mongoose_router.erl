%%% @doc Stand-in for MongooseIM's `mongoose_router': the routed domains are the hosts.
-module(mongoose_router).

-export([get_all_domains/0]).

-spec get_all_domains() -> [binary()].
get_all_domains() ->
    mongoose_config:get_opt(hosts, []).
