%%% @doc A tiny HTTPS sink for tests, on 127.0.0.1 and a free port: answers every request
%%% `204 No Content' and counts the requests it read (TLS handshakes that fail never count).
%%% Its certificate is issued for 127.0.0.1 and localhost by a test CA generated at start,
%%% which `ca_file/2' writes as PEM (for `cacertfile').
-module(msm_tls_sink).

-include_lib("public_key/include/public_key.hrl").

-export([start/0, stop/1, url/1, requests/1, ca_file/2]).

-type sink() :: #{pid := pid(), port := inet:port_number(), cacerts := [binary()]}.
-export_type([sink/0]).

-spec start() -> sink().
start() ->
    {ok, _} = application:ensure_all_started(ssl),
    SAN = #'Extension'{extnID = ?'id-ce-subjectAltName', critical = false,
                       extnValue = [{iPAddress, <<127, 0, 0, 1>>}, {dNSName, "localhost"}]},
    Key = [{key, {rsa, 2048, 65537}}, {digest, sha256}],
    #{server_config := Server} =
        public_key:pkix_test_data(#{server_chain => #{root => Key, intermediates => [],
                                                      peer => [{extensions, [SAN]} | Key]},
                                    client_chain => #{root => Key, intermediates => [],
                                                      peer => Key}}),
    Owner = self(),
    Pid = spawn(fun() -> init(Owner, Server) end),
    receive {Pid, port, Port} -> ok after 5000 -> Port = error(sink_not_started) end,
    #{pid => Pid, port => Port, cacerts => proplists:get_value(cacerts, Server)}.

-spec stop(sink()) -> ok.
stop(#{pid := Pid}) ->
    exit(Pid, kill),
    ok.

-spec url(sink()) -> binary().
url(#{port := Port}) ->
    iolist_to_binary(["https://127.0.0.1:", integer_to_list(Port), "/mp/collect"]).

-spec requests(sink()) -> non_neg_integer().
requests(#{pid := Pid}) ->
    Ref = make_ref(),
    Pid ! {requests, self(), Ref},
    receive {Ref, N} -> N after 5000 -> error(sink_not_answering) end.

%% @doc Writes the CA certificates that issued the sink's certificate to `Path' (PEM).
-spec ca_file(sink(), file:filename()) -> ok.
ca_file(#{cacerts := CaCerts}, Path) ->
    ok = file:write_file(Path, public_key:pem_encode([{'Certificate', C, not_encrypted}
                                                      || C <- CaCerts])).

init(Owner, Server) ->
    {ok, L} = ssl:listen(0, [{ip, {127, 0, 0, 1}}, binary, {active, false}, {reuseaddr, true},
                             {cert, proplists:get_value(cert, Server)},
                             {key, proplists:get_value(key, Server)}]),
    {ok, {_, Port}} = ssl:sockname(L),
    Owner ! {self(), port, Port},
    Self = self(),
    spawn_link(fun() -> accept(Self, L) end),
    loop(0).

loop(N) ->
    receive
        served -> loop(N + 1);
        {requests, From, Ref} -> From ! {Ref, N}, loop(N)
    end.

accept(Sink, L) ->
    case ssl:transport_accept(L) of
        {ok, T} ->
            spawn(fun() -> serve(Sink, T) end),
            accept(Sink, L);
        {error, _} ->
            ok
    end.

serve(Sink, T) ->
    case ssl:handshake(T, 5000) of
        {ok, S} -> serve_requests(Sink, S, <<>>);
        {error, _} -> ok
    end.

serve_requests(Sink, S, Buf) ->
    case binary:split(Buf, <<"\r\n\r\n">>) of
        [Head, Rest] ->
            Len = content_length(Head),
            case byte_size(Rest) >= Len of
                true ->
                    <<_:Len/binary, More/binary>> = Rest,
                    Sink ! served,
                    ok = ssl:send(S, <<"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n">>),
                    serve_requests(Sink, S, More);
                false ->
                    recv_more(Sink, S, Buf)
            end;
        [_] ->
            recv_more(Sink, S, Buf)
    end.

recv_more(Sink, S, Buf) ->
    case ssl:recv(S, 0, 10000) of
        {ok, Data} -> serve_requests(Sink, S, <<Buf/binary, Data/binary>>);
        {error, _} -> ssl:close(S)
    end.

content_length(Head) ->
    Lines = binary:split(Head, <<"\r\n">>, [global]),
    case [V || L <- Lines,
               [K, V] <- [binary:split(L, <<":">>)],
               string:lowercase(K) =:= <<"content-length">>] of
        [V | _] -> binary_to_integer(string:trim(V));
        [] -> 0
    end.
