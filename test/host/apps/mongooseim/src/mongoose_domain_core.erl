%%% @doc Stand-in for MongooseIM's `mongoose_domain_core': the static domains only.
-module(mongoose_domain_core).

-export([domains_count/0]).

-spec domains_count() -> non_neg_integer().
domains_count() ->
    length(mongoose_config:get_opt(hosts, [])).
