%%% @doc A custom gen_mod module for the tests: no config_metrics/1, and a name that must
%%% never be sent.
-module(mod_acme_secret_feature).
-export([start/2]).

start(_HostType, _Opts) -> ok.
