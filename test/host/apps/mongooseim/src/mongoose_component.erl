%%% @doc Stand-in for MongooseIM's `mongoose_component': no external component is connected.
-module(mongoose_component).

-export([dirty_get_all_components/1, lookup_component/2]).

-spec dirty_get_all_components(all | only_public) -> [binary()].
dirty_get_all_components(_ReturnHidden) ->
    [].

-spec lookup_component(binary(), node()) -> [term()].
lookup_component(_Domain, _Node) ->
    [].
