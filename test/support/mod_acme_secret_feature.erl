%%% @doc A custom gen_mod module for the tests: no `mongoose_module_metrics', and a name
%%% that must never be sent.
-module(mod_acme_secret_feature).
-behaviour(gen_mod).
-export([start/2]).

start(_HostType, _Opts) -> ok.
