%%% @doc The service's configuration: the TOML section MongooseIM parses, the defaults, the
%%% check of options given without that parser, the tracking ids, the endpoint, the kill
%%% switches, and what the operator is told about reporting (consent and notices).
%%%
%%% Each option's type, range and default is written once, in `config_spec/0': the defaults
%%% and the check of options given directly to `service_mongoose_system_metrics:start/1' are
%%% read from it. The engine's own rules (tracking id format, what may be sent) are not
%%% repeated here.
-module(mongoose_system_metrics_options).

-include_lib("kernel/include/logger.hrl").
%% Relative to this file: as a rebar3 dependency (MongooseIM) the `{i, "erlang/include"}'
%% of rebar.config is not resolved against this application's directory.
-include("../include/mongoose_system_metrics_config_spec.hrl").

-export([config_spec/0, defaults/0, normalize/1, tracking_ids/1, endpoint/1,
         kill_switch/1, env_kill_switch/0, log_kill_switch/1, log_consent/1,
         log_engine_unavailable/1, removed_from_config_text/0]).

-export_type([options/0, tracking_id/0, kill_switch/0, config_spec/0]).

-type tracking_id() :: #{id := binary() | string(), secret := binary() | string()}.
-type options() :: #{initial_report => non_neg_integer(),
                     periodic_report => non_neg_integer(),
                     report => boolean(),
                     tracking_id => tracking_id(),
                     url => binary() | string(),
                     region => global | eu,
                     validate => boolean(),
                     timeout => pos_integer(),
                     max_retries => non_neg_integer(),
                     cacertfile => binary() | string(),
                     cluster_report => boolean()}.
-type kill_switch() :: none | report_false | {env, string()}.
-type config_spec() :: #section{}.

%% The engine's default endpoint is GA4's global one; this one is chosen by `region = eu'.
%% GA4's EU data-residency endpoint: configuration (`region = eu'); the engine has the
%% global default.
-define(EU_URL, <<"https://region1.google-analytics.com/mp/collect">>).
-define(POLICY_URL, "https://esl.github.io/MongooseDocs/latest/operation-and-maintenance/"
                    "System-Metrics-Privacy-Policy/").

%% @doc The TOML section `[services.service_mongoose_system_metrics]' for MongooseIM's
%% config parser (MongooseIM 6.x records), processed alike by the parsers of 6.1.0 to 6.8.0.
-spec config_spec() -> config_spec().
config_spec() ->
    #section{
       items = #{<<"initial_report">> => option(integer, non_negative),
                 <<"periodic_report">> => option(integer, non_negative),
                 <<"report">> => option(boolean, any),
                 <<"tracking_id">> => tracking_id_section(),
                 <<"url">> => option(binary, url),
                 <<"region">> => option(atom, {enum, [global, eu]}),
                 <<"validate">> => option(boolean, any),
                 <<"timeout">> => option(integer, positive),
                 <<"max_retries">> => option(integer, non_negative),
                 <<"cacertfile">> => option(string, filename),
                 <<"cluster_report">> => option(boolean, any)},
       defaults = #{<<"initial_report">> => timer:minutes(5),
                    <<"periodic_report">> => timer:hours(3),
                    <<"cluster_report">> => false},
       process = fun unchanged/1}.

tracking_id_section() ->
    #section{items = #{<<"id">> => option(string, non_empty),
                       <<"secret">> => option(string, non_empty)},
             required = all,
             process = fun unchanged/1}.

%% `process' is always set to a fun: the record default differs between releases (`undefined'
%% up to 6.2, `[]' from 6.3) and each release's parser refuses the other's, but all take a fun.
option(Type, Validate) ->
    #option{type = Type, validate = Validate, process = fun unchanged/1}.

unchanged(Value) ->
    Value.

%% @doc The defaults of the options, as MongooseIM's config parser fills them.
-spec defaults() -> options().
defaults() ->
    #section{defaults = Defaults} = config_spec(),
    maps:from_list([{binary_to_atom(K), V} || {K, V} <- maps:to_list(Defaults)]).

%% @doc The options with the defaults filled in. Options that did not come through
%% MongooseIM's parser are checked against the same spec; raises `{bad_option, Key}'.
-spec normalize(term()) -> options().
normalize(Opts) when is_map(Opts) ->
    #section{items = Items} = config_spec(),
    maps:fold(fun(Key, Value, Acc) ->
                      case valid(item(Key, Items), Value) of
                          true -> Acc#{Key => Value};
                          false -> error({bad_option, Key})
                      end
              end, defaults(), Opts);
normalize(_) ->
    error({bad_option, options}).

item(Key, Items) when is_atom(Key) ->
    maps:get(atom_to_binary(Key), Items, undefined);
item(_, _) ->
    undefined.

%% Text may be a binary or a string whatever the TOML type; whether a `filename' exists is
%% checked by the parser when the configuration is loaded, not here.
valid(#section{items = Items, required = all}, V) when is_map(V) ->
    map_size(V) =:= map_size(Items)
        andalso lists:all(fun({K, X}) -> valid(item(K, Items), X) end, maps:to_list(V));
valid(#option{type = Type, validate = Validate}, V) ->
    has_type(Type, V) andalso validates(Validate, V);
valid(_, _) ->
    false.

has_type(integer, V) -> is_integer(V);
has_type(boolean, V) -> is_boolean(V);
has_type(atom, V) -> is_atom(V);
has_type(Text, V) when Text =:= binary; Text =:= string ->
    is_binary(V) orelse (is_list(V) andalso io_lib:printable_unicode_list(V)).

validates(any, _) -> true;
validates(non_negative, V) -> V >= 0;
validates(positive, V) -> V > 0;
validates({enum, Values}, V) -> lists:member(V, Values);
validates(Text, V) when Text =:= non_empty; Text =:= url; Text =:= filename ->
    V =/= <<>> andalso V =/= "".

%% @doc The tracking ids to report to, as binaries: the built-in one (application env, set
%% by a MongooseIM release) and the configured one, which replaces a built-in one with the
%% same id. Whether an id is valid is the engine's rule: an invalid one is refused alone.
-spec tracking_ids(options()) -> [#{id := binary(), secret := binary()}].
tracking_ids(Opts) ->
    Configured = [binary_tracking_id(T) || #{tracking_id := T} <- [Opts]],
    Builtin = case builtin_tracking_id() of
                  {ok, Key, Value} -> checked_builtin(Key, Value);
                  undefined -> []
              end,
    [T || #{id := Id} = T <- Builtin, not lists:member(Id, [I || #{id := I} <- Configured])]
        ++ Configured.

binary_tracking_id(#{id := Id, secret := Secret}) ->
    #{id => to_bin(Id), secret => to_bin(Secret)}.

%% The built-in id a MongooseIM release carries (`predefined_tracking_id'), or, when the
%% environment says CI=true, its CI id (`ci_tracking_id'), as MongooseIM's own service chose.
builtin_tracking_id() ->
    case {os:getenv("CI"), application:get_env(mongoose_system_metrics, ci_tracking_id)} of
        {"true", {ok, CiId}} -> {ok, ci_tracking_id, CiId};
        _ ->
            case application:get_env(mongoose_system_metrics, predefined_tracking_id) of
                {ok, Id} -> {ok, predefined_tracking_id, Id};
                undefined -> undefined
            end
    end.

%% The built-in id as binaries, when it is `#{id, secret}' of texts (binaries or strings) of
%% 1-256 bytes; otherwise nothing, and one warning naming the application env key, never
%% its value (it holds a secret). Configured ids are not affected.
checked_builtin(Key, Value) ->
    case text_tracking_id(Value) of
        {ok, T} -> [T];
        error ->
            ?LOG_WARNING(#{what => system_metrics_bad_builtin_tracking_id,
                           key => {mongoose_system_metrics, Key},
                           text => <<"The built-in tracking id in the application environment "
                                     "is not #{id => Text, secret => Text}: it is not used">>}),
            []
    end.

text_tracking_id(#{id := Id, secret := Secret}) ->
    case {text(Id), text(Secret)} of
        {{ok, I}, {ok, S}} -> {ok, #{id => I, secret => S}};
        _ -> error
    end;
text_tracking_id(_) ->
    error.

%% A binary of 1-256 bytes from a binary or a string; the size is checked first (a string's
%% length bounds its bytes from below), so no large term is converted.
text(B) when is_binary(B), byte_size(B) >= 1, byte_size(B) =< 256 -> {ok, B};
text(L) when is_list(L) ->
    case length_at_most(L, 256) of
        true ->
            try unicode:characters_to_binary(L) of
                B when is_binary(B) -> text(B);
                _ -> error
            catch _:_ -> error
            end;
        false -> error
    end;
text(_) ->
    error.

length_at_most([], _) -> true;
length_at_most([_ | _], 0) -> false;
length_at_most([_ | T], N) -> length_at_most(T, N - 1);
length_at_most(_, _) -> false.

%% @doc The endpoint chosen by the configuration: `url', else MongooseIM's global
%% `google_analytics_url' (read now, so a change applies at the next report), else the EU
%% endpoint for `region = eu'; `default' leaves the choice to the engine (GA4's global one).
-spec endpoint(options()) -> binary() | default.
endpoint(#{url := Url}) ->
    to_bin(Url);
endpoint(Opts) ->
    case mongoose_system_metrics_mim:lookup_opt(google_analytics_url) of
        {ok, {ok, Url}} when is_list(Url); is_binary(Url) -> to_bin(Url);
        _ ->
            case maps:get(region, Opts, global) of
                eu -> ?EU_URL;
                global -> default
            end
    end.

%% @doc The kill switch in force: `report = false', else the environment's.
-spec kill_switch(options()) -> kill_switch().
kill_switch(#{report := false}) -> report_false;
kill_switch(_) -> env_kill_switch().

%% @doc `MONGOOSEIM_SYSTEM_METRICS' in {off, 0, false} (any case), or `DO_NOT_TRACK' set to
%% anything but "" or "0".
-spec env_kill_switch() -> none | {env, string()}.
env_kill_switch() ->
    Off = case os:getenv("MONGOOSEIM_SYSTEM_METRICS") of
              false -> false;
              V -> lists:member(string:lowercase(string:trim(V)), ["off", "0", "false"])
          end,
    DoNotTrack = not lists:member(os:getenv("DO_NOT_TRACK"), [false, "", "0"]),
    if Off -> {env, "MONGOOSEIM_SYSTEM_METRICS"};
       DoNotTrack -> {env, "DO_NOT_TRACK"};
       true -> none
    end.

%% @doc One notice naming the environment variable; `report = false' is silent.
-spec log_kill_switch(kill_switch()) -> ok.
log_kill_switch({env, Name}) ->
    ?LOG_NOTICE(#{what => system_metrics_switched_off, env => Name,
                  text => iolist_to_binary(
                            ["System metrics reporting is switched off by the environment "
                             "variable ", Name, ": nothing is collected or sent."])});
log_kill_switch(_) ->
    ok.

%% @doc The consent warning, when `report' is unset. MongooseIM's own tests look for
%% "MongooseIM docs" in it.
-spec log_consent(options()) -> ok.
log_consent(#{report := _}) ->
    ok;
log_consent(_Opts) ->
    File = mongoose_system_metrics_file:location(),
    ?LOG_WARNING(#{what => report_transparency, report_filename => File,
                   text => consent_text(File)}).

consent_text(File) ->
    iolist_to_binary(
      ["We are gathering the MongooseIM system's metrics to analyse the trends and needs of our "
       "users, improve MongooseIM, and know where to focus our efforts. The anonymous reports "
       "name the MongooseIM version, uptime, cluster size, number of XMPP components, the "
       "open-source modules in use with their backends, the open-source HTTP APIs, transports, "
       "TLS modes, outgoing pool types and XMPP stanza counts; custom modules are only counted. "
       "For more info on how to customise, read, enable, and disable these metrics visit:\n"
       "- MongooseIM docs - \n      ", ?POLICY_URL, " \n"
       "- MongooseIM GitHub page - https://github.com/esl/MongooseIM \n"
       "To switch reporting off, set `report = false' in [services.service_mongoose_system_metrics], "
       "or set the environment variable MONGOOSEIM_SYSTEM_METRICS=off or DO_NOT_TRACK=1. "
       "To keep reporting and silence this message, set `report = true'. "
       "The last sent report is also written to a file ", File]).

%% @doc The one warning when the engine (the native library) is missing or broken: the
%% service then stays idle, nothing is collected, written or sent, and the node boots as usual.
-spec log_engine_unavailable(term()) -> ok.
log_engine_unavailable(Reason) ->
    ?LOG_WARNING(#{what => system_metrics_engine_unavailable, reason => Reason,
                   text => <<"System metrics reporting is off: the reporting engine (the "
                             "native library priv/libmongoose_system_metrics_nif.so of the "
                             "mongoose_system_metrics application) could not be loaded. "
                             "Nothing is collected or sent; rebuild or reinstall "
                             "mongoose_system_metrics to report.">>}).

%% @doc What `verify_if_configured/0' logs when the service is not configured.
-spec removed_from_config_text() -> binary().
removed_from_config_text() ->
    iolist_to_binary(
      ["We're sorry to hear you don't want to share the system's metrics with us. "
       "These metrics would enable us to improve MongooseIM and know where to focus our efforts. "
       "To stop being notified, you can add this to the services section of your config file: \n"
       "  [services.service_mongoose_system_metrics]\n"
       "    report = false\n"
       "For more info on how to customise, read, enable, and disable the metrics visit: \n"
       "- MongooseIM docs - \n     ", ?POLICY_URL, " \n"
       "- MongooseIM GitHub page - https://github.com/esl/MongooseIM"]).

to_bin(B) when is_binary(B) -> B;
to_bin(L) when is_list(L) -> unicode:characters_to_binary(L).
