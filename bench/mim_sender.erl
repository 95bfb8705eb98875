%%% @doc Benchmark stand-in for MongooseIM's own Erlang sending path, written for `make bench'
%%% (not MongooseIM's code): the collector's report maps are JSON-encoded with jiffy (Debian's
%%% erlang-jiffy) in batches of at most 25 events and POSTed with httpc (inets' default
%%% profile), batch after batch and tracking id after tracking id, in the calling process, as
%%% MongooseIM's mongoose_system_metrics_sender does. Answers are only checked for 2xx here
%%% (MongooseIM ignores them) so that the benchmark counts delivered reports.
-module(mim_sender).

-export([send/4]).

-define(BATCH, 25).

%% @doc Sends `Reports' (collector maps, `#{name := atom(), params := map()}') to every
%% tracking id; returns how many requests were answered 2xx.
-spec send(string(), binary(), [map()], [#{id := string(), secret := string()}]) ->
          non_neg_integer().
send(Url, ClientId, Reports, TrackingIds) ->
    lists:sum([send_batches(Url, ClientId, Reports, T, 0) || T <- TrackingIds]).

send_batches(_Url, _ClientId, [], _Tracking, Ok) ->
    Ok;
send_batches(Url, ClientId, Reports, Tracking, Ok) ->
    {Batch, Rest} = case length(Reports) > ?BATCH of
                        true -> lists:split(?BATCH, Reports);
                        false -> {Reports, []}
                    end,
    send_batches(Url, ClientId, Rest, Tracking, Ok + post(Url, ClientId, Batch, Tracking)).

post(Url, ClientId, Batch, #{id := Id, secret := Secret}) ->
    Body = jiffy:encode(#{client_id => ClientId, events => Batch}),
    FullUrl = uri_string:normalize(Url ++ "?api_secret=" ++ Secret ++ "&measurement_id=" ++ Id),
    case httpc:request(post, {FullUrl, [], "application/json", Body},
                       [{ssl, [{verify, verify_none}]}], []) of
        {ok, {{_, Status, _}, _, _}} when Status >= 200, Status < 300 -> 1;
        _ -> 0
    end.
