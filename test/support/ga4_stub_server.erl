%%% @doc A stand-in for Google Analytics 4's Measurement Protocol endpoints, for tests.
%%%
%%% A small HTTP/1.1 server (gen_tcp, keep-alive, Content-Length or chunked bodies) on
%%% 127.0.0.1 and a free port. It records every request and checks it strictly against
%%% GA4's rules (Google's Measurement Protocol (GA4) reference at
%%% developers.google.com/analytics: "Sending events", "Validating events", "Limitations"):
%%% POST, path `/mp/collect' or `/debug/mp/collect', `measurement_id' and `api_secret' in
%%% the query, JSON content type, body under 130,000 bytes, a JSON object with a non-empty
%%% string `client_id' and 1..25 `events', event and param names `[A-Za-z][A-Za-z0-9_]*' of
%%% at most 40 characters and not reserved, at most 25 params, values numbers or strings of
%%% at most 100 characters.
%%% Broken rules are recorded as `violations' (tests assert there are none). Like GA4,
%%% `/mp/collect' answers 204 whatever the payload (unless told otherwise with
%%% `set_response/2'), and `/debug/mp/collect' answers `{"validationMessages": [...]}'
%%% listing the violations (or the `body' given to `set_response/2', when not empty). Needs jiffy (Debian's erlang-jiffy) to decode JSON.
%%%
%%% API:
%%% <ul>
%%% <li>`start() -> {ok, Pid}', `start(#{port => P})': starts (not linked) a server.</li>
%%% <li>`stop(Pid) -> ok'.</li>
%%% <li>`port(Pid) -> Port'; `url(Pid) -> "http://127.0.0.1:Port/mp/collect"'.</li>
%%% <li>`requests(Pid) -> [request()]', oldest first: `#{method, path, query (map of
%%%     binaries), headers, body (raw binary), json (decoded or `invalid'), violations,
%%%     at (ms)}'.</li>
%%% <li>`events(Pid) -> [#{name, params, client_id, measurement_id, api_secret, path}]':
%%%     every event of every request, oldest first.</li>
%%% <li>`violations(Pid) -> [{Path, binary()}]': every rule broken, by any request.</li>
%%% <li>`set_response(Pid, #{status => S, delay => Ms, body => B, headers => [{K, V}]})':
%%%     how the next requests are answered (delay before answering, e.g. to keep a send in
%%%     flight).</li>
%%% <li>`wait_for_requests(Pid, N, TimeoutMs) -> ok | timeout': waits until N requests were
%%%     recorded.</li>
%%% <li>`reset(Pid) -> ok': forgets the recorded requests (and the most answered at once).</li>
%%% <li>`max_in_flight(Pid) -> N': the most requests ever being answered at the same time
%%%     (from recorded to answer written) since the start or the last `reset/1'.</li>
%%% <li>`open_connections(Pid) -> N': connections currently open (closed by either side
%%%     once their process ends).</li>
%%% </ul>
-module(ga4_stub_server).

-behaviour(gen_server).

-export([start/0, start/1, stop/1, port/1, url/1, requests/1, events/1, violations/1,
         set_response/2, wait_for_requests/3, reset/1, max_in_flight/1, open_connections/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).
-export([check_body/1]).

-define(MAX_BODY, 130000).
-define(RESERVED_PREFIXES, [<<"_">>, <<"firebase_">>, <<"ga_">>, <<"google_">>, <<"gtag.">>]).
-define(RESERVED_EVENTS,
        [<<"ad_activeview">>, <<"ad_click">>, <<"ad_exposure">>, <<"ad_impression">>,
         <<"ad_query">>, <<"ad_reward">>, <<"adunit_exposure">>, <<"app_background">>,
         <<"app_clear_data">>, <<"app_exception">>, <<"app_install">>, <<"app_remove">>,
         <<"app_store_refund">>, <<"app_store_subscription_cancel">>,
         <<"app_store_subscription_convert">>, <<"app_store_subscription_renew">>,
         <<"app_uninstall">>, <<"app_update">>, <<"app_upgrade">>, <<"click">>,
         <<"dynamic_link_app_open">>, <<"dynamic_link_app_update">>,
         <<"dynamic_link_first_open">>, <<"error">>, <<"file_download">>,
         <<"firebase_campaign">>, <<"first_open">>, <<"first_visit">>, <<"form_start">>,
         <<"form_submit">>, <<"in_app_purchase">>, <<"notification_dismiss">>,
         <<"notification_foreground">>, <<"notification_open">>, <<"notification_receive">>,
         <<"os_update">>, <<"page_view">>, <<"screen_view">>, <<"scroll">>,
         <<"session_start">>, <<"session_start_with_rollout">>, <<"user_engagement">>,
         <<"video_complete">>, <<"video_progress">>, <<"video_start">>,
         <<"view_search_results">>]).

%% API

start() -> start(#{}).

start(Opts) ->
    gen_server:start(?MODULE, Opts, []).

stop(Pid) ->
    gen_server:stop(Pid).

port(Pid) -> gen_server:call(Pid, port).

url(Pid) -> "http://127.0.0.1:" ++ integer_to_list(port(Pid)) ++ "/mp/collect".

requests(Pid) -> gen_server:call(Pid, requests).

events(Pid) ->
    [E#{client_id => maps:get(<<"client_id">>, Json, undefined),
        measurement_id => maps:get(<<"measurement_id">>, Q, undefined),
        api_secret => maps:get(<<"api_secret">>, Q, undefined),
        path => Path}
     || #{json := Json, query := Q, path := Path} <- requests(Pid), is_map(Json),
        E0 <- case maps:get(<<"events">>, Json, []) of L when is_list(L) -> L; _ -> [] end,
        is_map(E0),
        E <- [#{name => maps:get(<<"name">>, E0, undefined),
                params => maps:get(<<"params">>, E0, #{})}]].

violations(Pid) ->
    lists:append([V || #{violations := V} <- requests(Pid)]).

set_response(Pid, Resp) -> gen_server:call(Pid, {set_response, Resp}).

reset(Pid) -> gen_server:call(Pid, reset).

max_in_flight(Pid) -> gen_server:call(Pid, max_in_flight).

open_connections(Pid) -> gen_server:call(Pid, open_connections).

wait_for_requests(Pid, N, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait_loop(Pid, N, Deadline).

wait_loop(Pid, N, Deadline) ->
    case length(requests(Pid)) >= N of
        true -> ok;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> timeout;
                false -> timer:sleep(20), wait_loop(Pid, N, Deadline)
            end
    end.

%% gen_server

init(Opts) ->
    {ok, LSock} = gen_tcp:listen(maps:get(port, Opts, 0),
                                 [binary, {ip, {127, 0, 0, 1}}, {active, false},
                                  {packet, http_bin}, {reuseaddr, true}, {backlog, 128}]),
    {ok, Port} = inet:port(LSock),
    Self = self(),
    Acceptor = spawn_link(fun() -> accept_loop(Self, LSock) end),
    {ok, #{lsock => LSock, port => Port, acceptor => Acceptor, requests => [],
           in_flight => 0, max_in_flight => 0, conns => #{},
           response => #{status => 204, delay => 0, body => <<>>, headers => []}}}.

handle_call(port, _From, #{port := Port} = S) -> {reply, Port, S};
handle_call(requests, _From, #{requests := R} = S) -> {reply, lists:reverse(R), S};
handle_call(reset, _From, #{in_flight := N} = S) ->
    {reply, ok, S#{requests := [], max_in_flight := N}};
handle_call(max_in_flight, _From, #{max_in_flight := M} = S) -> {reply, M, S};
handle_call(open_connections, _From, #{conns := C} = S) -> {reply, map_size(C), S};
handle_call({conn, Pid}, _From, #{conns := C} = S) ->
    Ref = monitor(process, Pid),
    {reply, ok, S#{conns := C#{Ref => Pid}}};
handle_call({set_response, Resp}, _From, #{response := R0} = S) ->
    {reply, ok, S#{response := maps:merge(R0, Resp)}};
handle_call({record, Req}, _From, #{requests := R, response := Resp, in_flight := N,
                                     max_in_flight := M} = S) ->
    {reply, Resp, S#{requests := [Req | R], in_flight := N + 1,
                     max_in_flight := max(M, N + 1)}}.

handle_cast(answered, #{in_flight := N} = S) -> {noreply, S#{in_flight := N - 1}};
handle_cast(_Msg, S) -> {noreply, S}.

handle_info({'DOWN', Ref, process, _, _}, #{conns := C} = S) ->
    {noreply, S#{conns := maps:remove(Ref, C)}};
handle_info(_Msg, S) -> {noreply, S}.

terminate(_Reason, #{lsock := LSock}) ->
    gen_tcp:close(LSock).

%% Connections

accept_loop(Server, LSock) ->
    case gen_tcp:accept(LSock) of
        {ok, Sock} ->
            Pid = spawn(fun() -> receive go -> conn_loop(Server, Sock) end end),
            ok = gen_tcp:controlling_process(Sock, Pid),
            catch gen_server:call(Server, {conn, Pid}),
            Pid ! go,
            accept_loop(Server, LSock);
        {error, _} ->
            ok
    end.

conn_loop(Server, Sock) ->
    case read_request(Sock) of
        {ok, Req} ->
            Recorded = Req#{violations => check(Req),
                            json => decode(maps:get(body, Req)),
                            at => erlang:system_time(millisecond)},
            Resp = try gen_server:call(Server, {record, Recorded})
                   catch exit:_ -> #{status => 503, delay => 0, body => <<>>, headers => []}
                   end,
            timer:sleep(maps:get(delay, Resp)),
            {Status, Body} = response_body(Recorded, Resp),
            Headers = [[K, ": ", V, "\r\n"] || {K, V} <- maps:get(headers, Resp)],
            Out = [<<"HTTP/1.1 ">>, integer_to_binary(Status), <<" ">>, reason(Status), <<"\r\n">>,
                   <<"Content-Type: application/json\r\n">>, Headers,
                   <<"Content-Length: ">>, integer_to_binary(iolist_size(Body)), <<"\r\n\r\n">>,
                   Body],
            Sent = gen_tcp:send(Sock, Out),
            gen_server:cast(Server, answered),
            case Sent of
                ok -> conn_loop(Server, Sock);
                {error, _} -> gen_tcp:close(Sock)
            end;
        {error, _} ->
            gen_tcp:close(Sock)
    end.

response_body(#{path := <<"/debug/mp/collect">>, violations := V}, #{status := Status} = Resp)
  when Status >= 200, Status < 300, map_get(body, Resp) =:= <<>> ->
    Msgs = [#{<<"fieldPath">> => iolist_to_binary(io_lib:format("~p", [P])),
              <<"description">> => D, <<"validationCode">> => <<"VALUE_INVALID">>}
            || {P, D} <- V],
    {200, jiffy:encode(#{<<"validationMessages">> => Msgs})};
response_body(_, #{status := Status, body := Body}) ->
    {Status, Body}.

reason(200) -> <<"OK">>;
reason(204) -> <<"No Content">>;
reason(S) when S >= 500 -> <<"Server Error">>;
reason(_) -> <<"Status">>.

read_request(Sock) ->
    ok = inet:setopts(Sock, [{packet, http_bin}]),
    case gen_tcp:recv(Sock, 0, 30000) of
        {ok, {http_request, Method, {abs_path, Uri}, _Vsn}} ->
            case read_headers(Sock, []) of
                {ok, Headers} ->
                    ok = inet:setopts(Sock, [{packet, raw}]),
                    case read_body(Sock, Headers) of
                        {ok, Body} ->
                            {Path, Query} = split_uri(Uri),
                            {ok, #{method => Method, path => Path, query => Query,
                                   headers => Headers, body => Body}};
                        Err -> Err
                    end;
                Err -> Err
            end;
        {ok, Other} -> {error, {unexpected, Other}};
        {error, _} = Err -> Err
    end.

read_headers(Sock, Acc) ->
    case gen_tcp:recv(Sock, 0, 30000) of
        {ok, {http_header, _, Name, _, Value}} ->
            Key = string:lowercase(if is_atom(Name) -> atom_to_binary(Name); true -> Name end),
            read_headers(Sock, [{Key, Value} | Acc]);
        {ok, http_eoh} -> {ok, lists:reverse(Acc)};
        {ok, Other} -> {error, {unexpected, Other}};
        {error, _} = Err -> Err
    end.

read_body(Sock, Headers) ->
    case {proplists:get_value(<<"content-length">>, Headers),
          proplists:get_value(<<"transfer-encoding">>, Headers)} of
        {undefined, <<"chunked">>} -> read_chunks(Sock, []);
        {undefined, _} -> {ok, <<>>};
        {Len, _} ->
            case binary_to_integer(Len) of
                0 -> {ok, <<>>};
                N -> gen_tcp:recv(Sock, N, 30000)
            end
    end.

read_chunks(Sock, Acc) ->
    ok = inet:setopts(Sock, [{packet, line}]),
    {ok, Line} = gen_tcp:recv(Sock, 0, 30000),
    [HexLen | _] = binary:split(string:trim(Line), <<";">>),
    ok = inet:setopts(Sock, [{packet, raw}]),
    case binary_to_integer(HexLen, 16) of
        0 ->
            ok = inet:setopts(Sock, [{packet, line}]),
            {ok, _} = gen_tcp:recv(Sock, 0, 30000),
            ok = inet:setopts(Sock, [{packet, raw}]),
            {ok, iolist_to_binary(lists:reverse(Acc))};
        N ->
            {ok, Data} = gen_tcp:recv(Sock, N + 2, 30000),
            read_chunks(Sock, [binary:part(Data, 0, N) | Acc])
    end.

split_uri(Uri) ->
    case binary:split(Uri, <<"?">>) of
        [Path] -> {Path, #{}};
        [Path, Qs] -> {Path, maps:from_list(uri_string:dissect_query(Qs))}
    end.

decode(Body) ->
    try jiffy:decode(Body, [return_maps])
    catch _:_ -> invalid
    end.

%% GA4's rules

check(#{method := Method, path := Path, query := Query, headers := Headers, body := Body}) ->
    V1 = [{method, <<"not a POST">>} || Method =/= 'POST'],
    V2 = [{path, <<"not /mp/collect or /debug/mp/collect">>}
          || not lists:member(Path, [<<"/mp/collect">>, <<"/debug/mp/collect">>])],
    V3 = [{query, <<"measurement_id missing">>}
          || maps:get(<<"measurement_id">>, Query, <<>>) =:= <<>>],
    V4 = [{query, <<"api_secret missing">>} || maps:get(<<"api_secret">>, Query, <<>>) =:= <<>>],
    CT = proplists:get_value(<<"content-type">>, Headers, <<>>),
    V5 = [{content_type, CT} || binary:match(CT, <<"application/json">>) =:= nomatch],
    V1 ++ V2 ++ V3 ++ V4 ++ V5 ++ check_body(Body).

%% @doc The GA4 rules a request body breaks, as `[{Path, Description}]'.
check_body(Body) when byte_size(Body) >= ?MAX_BODY ->
    [{body, <<"body of 130 kB or more">>}];
check_body(Body) ->
    case decode(Body) of
        #{<<"client_id">> := ClientId, <<"events">> := Events} when is_list(Events) ->
            [{client_id, <<"client_id not a non-empty string">>}
             || not (is_binary(ClientId) andalso ClientId =/= <<>>)]
                ++ [{events, <<"no events">>} || Events =:= []]
                ++ [{events, <<"more than 25 events">>} || length(Events) > 25]
                ++ lists:append([check_event(I, E) || {I, E} <- enumerate(Events)]);
        invalid ->
            [{body, <<"not JSON">>}];
        _ ->
            [{body, <<"not an object with client_id and an events list">>}]
    end.

check_event(I, #{<<"name">> := Name} = E) ->
    Params = maps:get(<<"params">>, E, #{}),
    check_name([events, I, name], Name)
        ++ [{[events, I, name], <<"reserved event name">>} || lists:member(Name, ?RESERVED_EVENTS)]
        ++ case Params of
               #{} ->
                   [{[events, I, params], <<"more than 25 params">>} || map_size(Params) > 25]
                       ++ lists:append([check_name([events, I, params, K], K)
                                        ++ check_value([events, I, params, K], V)
                                        || {K, V} <- maps:to_list(Params)]);
               _ ->
                   [{[events, I, params], <<"params not an object">>}]
           end
        ++ [{[events, I], <<"unexpected key">>}
            || K <- maps:keys(E), not lists:member(K, [<<"name">>, <<"params">>])];
check_event(I, _) ->
    [{[events, I], <<"event without a name">>}].

check_name(Path, Name) when is_binary(Name) ->
    Ok = byte_size(Name) >= 1 andalso byte_size(Name) =< 40
        andalso re:run(Name, "^[A-Za-z][A-Za-z0-9_]*$", [{capture, none}]) =:= match
        andalso not lists:any(fun(P) -> binary:longest_common_prefix([P, Name]) =:= byte_size(P) end,
                              ?RESERVED_PREFIXES),
    [{Path, <<"invalid name">>} || not Ok];
check_name(Path, _) ->
    [{Path, <<"name not a string">>}].

check_value(_Path, V) when is_number(V) -> [];
check_value(Path, V) when is_binary(V) ->
    [{Path, <<"string value over 100 characters">>} || string:length(V) > 100];
check_value(Path, _) ->
    [{Path, <<"value neither a string nor a number">>}].

enumerate(L) -> lists:zip(lists:seq(1, length(L)), L).
