%%% @doc TEST STAND-IN for MongooseIM's `mongoose_component': connected components are the
%%% stand-in's `components' option, `[{Domain, Node}]'.
-module(mongoose_component).
-export([dirty_get_all_components/1, lookup_component/2]).

dirty_get_all_components(all) -> lists:usort([D || {D, _} <- components()]).
lookup_component(Domain, Node) ->
    [{external_component, Domain, Node} || {D, N} <- components(), D =:= Domain, N =:= Node].
components() -> mongoose_config:get_opt(components, []).
