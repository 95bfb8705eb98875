%%% @doc A minimal HTTPS proxy (HTTP CONNECT tunnels) on 127.0.0.1 for the reliability tests.
%%%
%%% It logs every CONNECT target and tunnels bytes both ways. It only ever connects to
%%% 127.0.0.1: any other target is answered 403 and logged as refused.
%%% API: `start() -> {ok, Pid}' (not linked), `stop(Pid)', `port(Pid)', `url(Pid)'
%%% (`"http://127.0.0.1:Port"'), `log(Pid) -> [{connect | refused, Target}]' oldest first.
-module(msm_connect_proxy).

-behaviour(gen_server).

-export([start/0, stop/1, port/1, url/1, log/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-spec start() -> {ok, pid()}.
start() -> gen_server:start(?MODULE, [], []).

-spec stop(pid()) -> ok.
stop(Pid) -> gen_server:stop(Pid).

-spec port(pid()) -> inet:port_number().
port(Pid) -> gen_server:call(Pid, port).

-spec url(pid()) -> string().
url(Pid) -> "http://127.0.0.1:" ++ integer_to_list(port(Pid)).

-spec log(pid()) -> [{connect | refused, binary()}].
log(Pid) -> gen_server:call(Pid, log).

-spec init([]) -> {ok, map()}.
init([]) ->
    process_flag(trap_exit, true),
    {ok, LSock} = gen_tcp:listen(0, [binary, {ip, {127, 0, 0, 1}}, {active, false},
                                     {reuseaddr, true}]),
    {ok, Port} = inet:port(LSock),
    Self = self(),
    Acceptor = spawn_link(fun() -> accept_loop(Self, LSock) end),
    {ok, #{lsock => LSock, port => Port, acceptor => Acceptor, log => [], conns => []}}.

-spec handle_call(term(), gen_server:from(), map()) -> {reply, term(), map()}.
handle_call(port, _From, #{port := P} = S) -> {reply, P, S};
handle_call(log, _From, #{log := L} = S) -> {reply, lists:reverse(L), S};
handle_call({conn, Pid}, _From, #{conns := C} = S) -> link(Pid), {reply, ok, S#{conns := [Pid | C]}};
handle_call({log, E}, _From, #{log := L} = S) -> {reply, ok, S#{log := [E | L]}}.

-spec handle_cast(term(), map()) -> {noreply, map()}.
handle_cast(_Msg, S) -> {noreply, S}.

-spec handle_info(term(), map()) -> {noreply, map()}.
handle_info({'EXIT', Pid, _}, #{conns := C} = S) -> {noreply, S#{conns := C -- [Pid]}};
handle_info(_Msg, S) -> {noreply, S}.

-spec terminate(term(), map()) -> ok.
terminate(_Reason, #{lsock := LSock, conns := C, acceptor := A}) ->
    gen_tcp:close(LSock),
    [exit(P, kill) || P <- [A | C]],
    ok.

accept_loop(Server, LSock) ->
    case gen_tcp:accept(LSock) of
        {ok, Sock} ->
            Pid = spawn(fun() -> receive go -> tunnel(Server, Sock, <<>>) end end),
            ok = gen_tcp:controlling_process(Sock, Pid),
            ok = gen_server:call(Server, {conn, Pid}),
            Pid ! go,
            accept_loop(Server, LSock);
        {error, _} ->
            ok
    end.

tunnel(Server, Client, Buf) ->
    case binary:split(Buf, <<"\r\n\r\n">>) of
        [Head, Rest] ->
            [Line | _] = binary:split(Head, <<"\r\n">>),
            case binary:split(Line, <<" ">>, [global]) of
                [<<"CONNECT">>, Target | _] -> connect(Server, Client, Target, Rest);
                _ -> gen_tcp:send(Client, <<"HTTP/1.1 405 Method Not Allowed\r\n\r\n">>),
                     gen_tcp:close(Client)
            end;
        [_] ->
            case gen_tcp:recv(Client, 0, 10000) of
                {ok, More} -> tunnel(Server, Client, <<Buf/binary, More/binary>>);
                {error, _} -> gen_tcp:close(Client)
            end
    end.

connect(Server, Client, Target, Rest) ->
    [Host, PortBin] = string:split(Target, <<":">>, trailing),
    case Host of
        <<"127.0.0.1">> ->
            ok = gen_server:call(Server, {log, {connect, Target}}),
            {ok, Up} = gen_tcp:connect({127, 0, 0, 1}, binary_to_integer(PortBin),
                                       [binary, {active, true}], 5000),
            ok = gen_tcp:send(Client, <<"HTTP/1.1 200 Connection established\r\n\r\n">>),
            _ = case Rest of <<>> -> ok; _ -> gen_tcp:send(Up, Rest) end,
            ok = inet:setopts(Client, [{active, true}]),
            relay(Client, Up);
        _ ->
            ok = gen_server:call(Server, {log, {refused, Target}}),
            gen_tcp:send(Client, <<"HTTP/1.1 403 Forbidden\r\n\r\n">>),
            gen_tcp:close(Client)
    end.

relay(Client, Up) ->
    receive
        {tcp, Client, Data} -> _ = gen_tcp:send(Up, Data), relay(Client, Up);
        {tcp, Up, Data} -> _ = gen_tcp:send(Client, Data), relay(Client, Up);
        {tcp_closed, _} -> gen_tcp:close(Client), gen_tcp:close(Up)
    end.
