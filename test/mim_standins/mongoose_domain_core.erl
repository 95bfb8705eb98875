%%% @doc TEST STAND-IN for MongooseIM's `mongoose_domain_core': the domains are the
%%% `hosts' option plus the stand-in's own `dynamic_domains' option.
-module(mongoose_domain_core).
-export([domains_count/0, is_static/1]).

domains_count() ->
    length(mongoose_config:get_opt(hosts, [])) + length(mongoose_config:get_opt(dynamic_domains, [])).
is_static(Domain) -> lists:member(Domain, mongoose_config:get_opt(hosts, [])).
