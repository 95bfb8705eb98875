%%% @doc TEST STAND-IN for MongooseIM's `mongoose_router' (`get_all_domains/0').
-module(mongoose_router).
-export([get_all_domains/0]).

get_all_domains() -> mongoose_config:get_opt(hosts, []).
