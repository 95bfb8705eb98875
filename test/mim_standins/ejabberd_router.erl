%%% @doc TEST STAND-IN for MongooseIM 6.1's `ejabberd_router' (the component calls its
%%% system metrics make; `mongoose_component' has them from 6.2): connected components are
%%% the stand-in config's `components' option, `[{Domain, Node}]'.
-module(ejabberd_router).
-export([dirty_get_all_components/1, lookup_component/2]).

dirty_get_all_components(all) -> mongoose_component:dirty_get_all_components(all).
lookup_component(Domain, Node) -> mongoose_component:lookup_component(Domain, Node).
