%%% @doc A misbehaving HTTP/1.1 (or HTTPS) server on 127.0.0.1 for the reliability tests.
%%%
%%% It keeps its own log of what it saw: every connection accepted, every TLS handshake that
%%% failed, every request, every answer written (its status), and every connection closed
%%% (by the client or by the server).
%%% Connections stay open (keep-alive) until the client closes them, so the tests can see the
%%% client's idle timeout at work. Each request is answered by the next action of the script
%%% (`set_script/2'), else by the default action (`set_default/2'):
%%% <ul>
%%% <li>`{status, Code}' / `{status, Code, [{Name, Value}]}': that status, empty body;</li>
%%% <li>`{delay, Ms, Action}': waits, then does `Action';</li>
%%% <li>`hang': never answers (the connection stays open until the client closes it);</li>
%%% <li>`reset_mid_response': sends the status line, headers announcing 1000 bytes and 10 of
%%%     them, then resets the connection (TCP RST).</li>
%%% </ul>
%%% API: `start() | start(#{tls => #{cert := Der, key := {Type, Der}}})' -> `{ok, Pid}' (not
%%% linked); `stop(Pid)'; `port(Pid)'; `url(Pid, Path)'; `log(Pid)' -> `[{Kind, AtMs, Info}]'
%%% oldest first (`AtMs' monotonic); `requests(Pid)' -> the `request' entries;
%%% `open_connections(Pid)'; `reset_log(Pid)'.
-module(msm_fault_server).

-behaviour(gen_server).

-export([start/0, start/1, stop/1, port/1, url/2, log/1, requests/1, open_connections/1,
         reset_log/1, set_default/2, set_script/2]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-type action() :: {status, pos_integer()} | {status, pos_integer(), [{iodata(), iodata()}]}
                | {delay, non_neg_integer(), action()} | hang | reset_mid_response.
-type entry() :: {connection | tls_error | request | answered | closed, integer(), term()}.
-export_type([action/0, entry/0]).

-spec start() -> {ok, pid()}.
start() -> start(#{}).

-spec start(map()) -> {ok, pid()}.
start(Opts) -> gen_server:start(?MODULE, Opts, []).

-spec stop(pid()) -> ok.
stop(Pid) -> gen_server:stop(Pid).

-spec port(pid()) -> inet:port_number().
port(Pid) -> gen_server:call(Pid, port).

-spec url(pid(), string()) -> string().
url(Pid, Path) ->
    Scheme = case gen_server:call(Pid, tls) of true -> "https"; false -> "http" end,
    Scheme ++ "://127.0.0.1:" ++ integer_to_list(port(Pid)) ++ Path.

-spec log(pid()) -> [entry()].
log(Pid) -> gen_server:call(Pid, log).

-spec requests(pid()) -> [entry()].
requests(Pid) -> [E || {request, _, _} = E <- log(Pid)].

-spec open_connections(pid()) -> non_neg_integer().
open_connections(Pid) -> gen_server:call(Pid, open_connections).

-spec reset_log(pid()) -> ok.
reset_log(Pid) -> gen_server:call(Pid, reset_log).

-spec set_default(pid(), action()) -> ok.
set_default(Pid, Action) -> gen_server:call(Pid, {set_default, Action}).

-spec set_script(pid(), [action()]) -> ok.
set_script(Pid, Actions) -> gen_server:call(Pid, {set_script, Actions}).

%% gen_server

-spec init(map()) -> {ok, map()}.
init(Opts) ->
    process_flag(trap_exit, true),
    Tls = maps:get(tls, Opts, undefined),
    {ok, LSock} = gen_tcp:listen(0, [binary, {ip, {127, 0, 0, 1}}, {active, false},
                                     {reuseaddr, true}, {backlog, 128}]),
    {ok, Port} = inet:port(LSock),
    Self = self(),
    Acceptor = spawn_link(fun() -> accept_loop(Self, LSock, Tls) end),
    {ok, #{lsock => LSock, port => Port, acceptor => Acceptor, tls => Tls, log => [],
           conns => #{}, script => [], default => {status, 204}}}.

-spec handle_call(term(), gen_server:from(), map()) -> {reply, term(), map()}.
handle_call(port, _From, #{port := Port} = S) -> {reply, Port, S};
handle_call(tls, _From, #{tls := Tls} = S) -> {reply, Tls =/= undefined, S};
handle_call(log, _From, #{log := Log} = S) -> {reply, lists:reverse(Log), S};
handle_call(open_connections, _From, #{conns := C} = S) -> {reply, map_size(C), S};
handle_call(reset_log, _From, S) -> {reply, ok, S#{log := []}};
handle_call({set_default, A}, _From, S) -> {reply, ok, S#{default := A}};
handle_call({set_script, As}, _From, S) -> {reply, ok, S#{script := As}};
handle_call({conn, Pid}, _From, #{conns := C} = S) ->
    link(Pid),
    {reply, ok, add_log(connection, Pid, S#{conns := C#{Pid => true}})};
handle_call({request, Info}, _From, #{script := [A | Rest]} = S) ->
    {reply, A, add_log(request, Info, S#{script := Rest})};
handle_call({request, Info}, _From, #{script := [], default := A} = S) ->
    {reply, A, add_log(request, Info, S)};
handle_call({event, Kind, Info}, _From, S) ->
    {reply, ok, add_log(Kind, Info, S)}.

-spec handle_cast(term(), map()) -> {noreply, map()}.
handle_cast(_Msg, S) -> {noreply, S}.

-spec handle_info(term(), map()) -> {noreply, map()}.
handle_info({'EXIT', Pid, _}, #{conns := C} = S) ->
    {noreply, S#{conns := maps:remove(Pid, C)}};
handle_info(_Msg, S) -> {noreply, S}.

-spec terminate(term(), map()) -> ok.
terminate(_Reason, #{lsock := LSock, conns := C, acceptor := A}) ->
    gen_tcp:close(LSock),
    [exit(P, kill) || P <- [A | maps:keys(C)]],
    ok.

add_log(Kind, Info, #{log := Log} = S) ->
    S#{log := [{Kind, erlang:monotonic_time(millisecond), Info} | Log]}.

%% Connections

accept_loop(Server, LSock, Tls) ->
    case gen_tcp:accept(LSock) of
        {ok, Sock} ->
            Pid = spawn(fun() -> receive go -> conn_start(Server, Sock, Tls) end end),
            ok = gen_tcp:controlling_process(Sock, Pid),
            ok = gen_server:call(Server, {conn, Pid}),
            Pid ! go,
            accept_loop(Server, LSock, Tls);
        {error, _} ->
            ok
    end.

conn_start(Server, Sock, undefined) ->
    conn_loop(Server, {gen_tcp, Sock}, <<>>);
conn_start(Server, Sock, #{cert := Cert, key := Key}) ->
    case ssl:handshake(Sock, [{cert, Cert}, {key, Key}, {versions, ['tlsv1.3', 'tlsv1.2']}],
                       10000) of
        {ok, TlsSock} ->
            conn_loop(Server, {ssl, TlsSock}, <<>>);
        {error, Reason} ->
            event(Server, tls_error, Reason),
            event(Server, closed, tls_error),
            gen_tcp:close(Sock)
    end.

event(Server, Kind, Info) ->
    catch gen_server:call(Server, {event, Kind, Info}).

conn_loop(Server, Conn, Buf) ->
    case read_request(Conn, Buf) of
        {ok, Req, Rest} ->
            Action = gen_server:call(Server, {request, Req}),
            case act(Server, Action, Conn) of
                keep -> conn_loop(Server, Conn, Rest);
                closed -> event(Server, closed, by_server)
            end;
        {error, _} ->
            event(Server, closed, by_client),
            close(Conn)
    end.

act(Server, {delay, Ms, Action}, Conn) ->
    timer:sleep(Ms),
    act(Server, Action, Conn);
act(Server, {status, Code}, Conn) ->
    act(Server, {status, Code, []}, Conn);
act(Server, {status, Code, Headers}, Conn) ->
    Out = [<<"HTTP/1.1 ">>, integer_to_binary(Code), <<" Status\r\n">>,
           [[K, <<": ">>, V, <<"\r\n">>] || {K, V} <- Headers],
           <<"Content-Length: 0\r\n\r\n">>],
    case send(Conn, Out) of
        ok -> event(Server, answered, Code), keep;
        {error, _} -> close(Conn), closed
    end;
act(_Server, hang, Conn) ->
    %% Wait for the client to go away, whatever it sends.
    drain(Conn),
    keep;
act(_Server, reset_mid_response, {gen_tcp, Sock} = Conn) ->
    _ = send(Conn, <<"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n{\"partial\"">>),
    timer:sleep(50),
    ok = inet:setopts(Sock, [{linger, {true, 0}}]),
    gen_tcp:close(Sock),
    closed.

drain(Conn) ->
    case recv(Conn, infinity) of
        {ok, _} -> drain(Conn);
        {error, _} -> ok
    end.

send({gen_tcp, S}, Data) -> gen_tcp:send(S, Data);
send({ssl, S}, Data) -> ssl:send(S, Data).

recv({gen_tcp, S}, Timeout) -> gen_tcp:recv(S, 0, Timeout);
recv({ssl, S}, Timeout) -> ssl:recv(S, 0, Timeout).

close({gen_tcp, S}) -> gen_tcp:close(S);
close({ssl, S}) -> ssl:close(S).

%% A request: head up to CRLFCRLF, then Content-Length bytes of body.
read_request(Conn, Buf) ->
    case binary:split(Buf, <<"\r\n\r\n">>) of
        [Head, Rest] ->
            [RequestLine | HeaderLines] = binary:split(Head, <<"\r\n">>, [global]),
            [Method, Target | _] = binary:split(RequestLine, <<" ">>, [global]),
            Headers = [case binary:split(L, <<":">>) of
                           [K, V] -> {string:lowercase(K), string:trim(V)};
                           [K] -> {string:lowercase(K), <<>>}
                       end || L <- HeaderLines],
            Len = binary_to_integer(proplists:get_value(<<"content-length">>, Headers, <<"0">>)),
            case read_more(Conn, Rest, Len) of
                {ok, All} ->
                    <<Body:Len/binary, Next/binary>> = All,
                    {Path, Query} = case binary:split(Target, <<"?">>) of
                                        [P] -> {P, #{}};
                                        [P, Q] -> {P, maps:from_list(uri_string:dissect_query(Q))}
                                    end,
                    {ok, #{method => Method, path => Path, query => Query, body => Body,
                           headers => Headers}, Next};
                Err -> Err
            end;
        [_] ->
            case recv(Conn, infinity) of
                {ok, More} -> read_request(Conn, <<Buf/binary, More/binary>>);
                Err -> Err
            end
    end.

read_more(_Conn, Buf, Len) when byte_size(Buf) >= Len -> {ok, Buf};
read_more(Conn, Buf, Len) ->
    case recv(Conn, 30000) of
        {ok, More} -> read_more(Conn, <<Buf/binary, More/binary>>, Len);
        Err -> Err
    end.
