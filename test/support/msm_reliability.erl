%%% @doc Helpers shared by the reliability suites (reliability_*_SUITE; RELIABILITY.md says
%%% which promise each suite proves): sends through the real NIF and their results, option and
%%% event builders, peer VMs with the suites' code paths, the VM's threads, descriptors, ports
%%% and processes, certificates, and PropEr runs.
%%%
%%% It is also the suites' Common Test hook, `{ct_hooks, [{msm_reliability, Needs}]}' in
%%% suite/0: it starts the applications (skipping the suite without the NIF) and, with
%%% `Needs' `[pki]', makes the certificates (`pki' in the config); it resets the servers and
%%% the environment before each case, and the engine after it.
%%%
%%% Every network peer is a server a suite starts on 127.0.0.1 (msm_fault_server: HTTP and
%%% HTTPS with the certificates made here; msm_connect_proxy: an HTTPS proxy); no other
%%% address is ever contacted.
-module(msm_reliability).

-include_lib("public_key/include/public_key.hrl").
-include("msm_reliability.hrl").

-export([init/2, pre_init_per_suite/3, pre_init_per_testcase/4, post_end_per_testcase/5]).
-export([pool_events/1, opts/2, url/1, closed_url/0, send_and_wait/3, wait_result/2, flush/0,
         wait_requests/2, wait_no_open_connections/2]).
-export([app_ebin/0, peer_args/1, peer_args/2, start_peer/2]).
-export([msm_threads/0, snapshot/0, assert_nothing_left/1]).
-export([make_pki/1, run_prop/2, format_log/1]).

%% The runtime: one worker thread and at most two blocking threads (dispatch.rs).
-define(MAX_MSM_THREADS, 3).

%%%===================================================================
%%% Common Test hook
%%%===================================================================

init(_Id, Needs) ->
    {ok, Needs}.

pre_init_per_suite(_Suite, Config, Needs) when is_list(Config) ->
    {init_suite(Config, Needs), Needs};
pre_init_per_suite(_Suite, SkipOrFail, Needs) ->
    {SkipOrFail, Needs}.

pre_init_per_testcase(_Suite, _Case, Config, Needs) when is_list(Config) ->
    {init_case(Config), Needs};
pre_init_per_testcase(_Suite, _Case, SkipOrFail, Needs) ->
    {SkipOrFail, Needs}.

post_end_per_testcase(_Suite, _Case, _Config, Return, Needs) ->
    ok = end_case(),
    {Return, Needs}.

%% The suites test the real NIF: without it they are skipped.
init_suite(Config, Needs) ->
    case msm_test_helper:require_nif() of
        ok ->
            {ok, _} = application:ensure_all_started(jiffy),
            {ok, _} = application:ensure_all_started(ssl),
            {ok, _} = application:ensure_all_started(mongoose_system_metrics),
            Dir = ?config(priv_dir, Config),
            [{pki, make_pki(Dir)} || lists:member(pki, Needs)] ++ Config;
        Skip ->
            Skip
    end.

%% Each case starts with empty server logs, the group's plain server answering 204, and no
%% environment left by another case.
init_case(Config) ->
    [msm_fault_server:reset_log(S) || K <- [plain, good, wrong_host, self_signed],
                                      S <- [?config(K, Config)], is_pid(S)],
    case ?config(plain, Config) of
        undefined -> ok;
        Plain -> msm_fault_server:set_script(Plain, []),
                 msm_fault_server:set_default(Plain, {status, 204})
    end,
    msm_test_helper:clear_env(),
    Config.

%% Each case ends with nothing in flight, the default in-flight bound and no result waiting.
end_case() ->
    ?NIF:cancel_all(),
    ok = ?NIF:configure(#{max_in_flight => 64}),
    flush(),
    ok.

%%%===================================================================
%%% Sends
%%%===================================================================

pool_events(N) ->
    [#{name => <<"outgoing_pool">>, params => #{<<"value">> => <<"rdbms">>}}
     || _ <- lists:seq(1, N)].

opts(Url, Extra) ->
    maps:merge(#{client_id => <<"reliability-client">>,
                 tracking_ids => [#{id => ?TID, secret => ?SECRET}],
                 url => Url, timeout_ms => 2000, max_retries => 0}, Extra).

url(Server) -> msm_fault_server:url(Server, "/mp/collect").

closed_url() ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    gen_tcp:close(L),
    "http://127.0.0.1:" ++ integer_to_list(Port) ++ "/mp/collect".

send_and_wait(Events, Opts, Timeout) ->
    {ok, Ref} = ?NIF:send_report(Events, Opts),
    wait_result(Ref, Timeout).

wait_result(Ref, Timeout) ->
    receive {mongoose_system_metrics_sent, Ref, Results} -> Results
    after Timeout -> ct:fail({no_result_message, Ref})
    end.

flush() ->
    receive {mongoose_system_metrics_sent, _, _} -> flush() after 0 -> ok end.

wait_requests(Server, N) ->
    ok = msm_test_helper:wait_until(
           fun() -> length(msm_fault_server:requests(Server)) >= N end, ?WAIT).

wait_no_open_connections(Servers, Timeout) ->
    msm_test_helper:wait_until(
      fun() -> lists:all(fun(S) -> msm_fault_server:open_connections(S) =:= 0 end, Servers) end,
      Timeout, 100).

%%%===================================================================
%%% Peer VMs
%%%===================================================================

%% The application's own ebin (its priv/ holds the library); the test directory holds copies
%% of the modules but no priv/.
app_ebin() ->
    filename:join(code:lib_dir(mongoose_system_metrics), "ebin").

%% Where the suites are compiled (test/): a peer calls the functions `Suite' runs there.
test_dir(Suite) ->
    filename:dirname(code:which(Suite)).

%% Where the stand-ins of MongooseIM's modules are compiled (test/mim_standins).
standins_dir() ->
    filename:dirname(code:which(mongoose_config)).

%% Where the suites' helpers are compiled (test/support).
support_dir() ->
    filename:dirname(code:which(msm_test_helper)).

%% A peer's code path: the application (or a copy of its ebin), the suite, the helpers and
%% the stand-ins.
peer_args(Suite) ->
    peer_args(Suite, app_ebin()).

peer_args(Suite, Ebin) ->
    ["-pa", Ebin, "-pa", test_dir(Suite), "-pa", support_dir(), "-pa", standins_dir()].

start_peer(Suite, Env) ->
    {ok, Peer, _} = peer:start_link(#{connection => standard_io, env => Env,
                                      args => peer_args(Suite)}),
    {ok, Peer}.

%% Threads, descriptors, ports and processes of this VM.

threads() ->
    Dir = "/proc/" ++ os:getpid() ++ "/task",
    {ok, Tids} = file:list_dir(Dir),
    [case file:read_file(filename:join([Dir, T, "comm"])) of
         {ok, Comm} -> string:trim(Comm);
         {error, _} -> <<"gone">>
     end || T <- Tids].

msm_threads() ->
    length([T || T <- threads(), T =:= <<"msm-worker">>]).

fds() ->
    length(fd_targets()).

fd_targets() ->
    Dir = "/proc/" ++ os:getpid() ++ "/fd",
    {ok, Fds} = file:list_dir(Dir),
    [case file:read_link(filename:join(Dir, Fd)) of
         {ok, Target} -> Target;
         {error, _} -> "gone"
     end || Fd <- Fds].

snapshot() ->
    Threads = threads(),
    Msm = length([T || T <- Threads, T =:= <<"msm-worker">>]),
    #{processes => processes(), ports => length(erlang:ports()), fds => fds(),
      fd_targets => fd_targets(), other_threads => length(Threads) - Msm}.

leftovers(#{processes := Procs, ports := Ports, fds := Fds, other_threads := Other} = Base) ->
    Threads = threads(),
    Msm = length([T || T <- Threads, T =:= <<"msm-worker">>]),
    NewProcs = [{P, Info} || P <- processes() -- Procs, P =/= self(),
                             Info <- [process_info(P, [registered_name, initial_call,
                                                       current_function])],
                             Info =/= undefined, not common_test_process(Info)],
    [{processes, NewProcs} || NewProcs =/= []]
        ++ [{ports, length(erlang:ports()), Ports} || length(erlang:ports()) > Ports]
        ++ [{fds, fds(), Fds, fd_targets() -- maps:get(fd_targets, Base)} || fds() > Fds]
        ++ [{threads, length(Threads) - Msm, Other} || length(Threads) - Msm > Other]
        ++ [{msm_threads, Msm} || Msm > ?MAX_MSM_THREADS].

%% Common Test's own processes for a test case: its timetrap and its log file (this code
%% never opens a file as an I/O server; it reads and writes whole files).
common_test_process(Info) ->
    {initial_call, {M, _, _}} = lists:keyfind(initial_call, 1, Info),
    {current_function, {F, _, _}} = lists:keyfind(current_function, 1, Info),
    lists:member(M, [test_server_sup, test_server, test_server_io, test_server_gl])
        orelse F =:= file_io_server.

assert_nothing_left(Base) ->
    try msm_test_helper:wait_until(fun() -> leftovers(Base) =:= [] end, ?IDLE_WAIT_MS, 200)
    catch error:{wait_until_timeout, _} -> ct:fail({left_over, leftovers(Base)})
    end.

%%%===================================================================
%%% Certificates, PropEr, logs
%%%===================================================================

%% Certificates, made here: a CA, a server certificate for 127.0.0.1 signed by it, one for
%% another host name signed by it, and a self-signed one for 127.0.0.1.
make_pki(Dir) ->
    %% RSA keys: OTP encodes ECDSA signature algorithm identifiers with the curve as parameters,
    %% which webpki (rightly, RFC 5758) does not accept.
    Key = {rsa, 2048, 65537},
    San = fun(Names) -> #'Extension'{extnID = ?'id-ce-subjectAltName', critical = false,
                                     extnValue = Names} end,
    Ip = [{iPAddress, <<127, 0, 0, 1>>}],
    Root = public_key:pkix_test_root_cert("reliability test CA", [{key, Key}, {digest, sha256}]),
    Issue = fun(Names) ->
                    #{server_config := S} =
                        public_key:pkix_test_data(
                          #{server_chain => #{root => Root,
                                              peer => [{key, Key}, {digest, sha256},
                                                       {extensions, [San(Names)]}]},
                            client_chain => #{root => [{key, Key}, {digest, sha256}],
                                              peer => [{key, Key}, {digest, sha256}]}}),
                    #{cert => proplists:get_value(cert, S), key => proplists:get_value(key, S)}
            end,
    #{cert := SelfCert, key := SelfKey} =
        public_key:pkix_test_root_cert("reliability self-signed",
                                       [{key, Key}, {digest, sha256}, {extensions, [San(Ip)]}]),
    CaFile = filename:join(Dir, "reliability-ca.pem"),
    ok = file:write_file(CaFile, public_key:pem_encode([{'Certificate', maps:get(cert, Root),
                                                         not_encrypted}])),
    #{good => Issue(Ip),
      wrong_host => Issue([{dNSName, "wrong.host.example"}]),
      self_signed => #{cert => SelfCert, key => key_entry(SelfKey)},
      ca_file => CaFile}.

key_entry(#'RSAPrivateKey'{} = K) ->
    {'RSAPrivateKey', public_key:der_encode('RSAPrivateKey', K)};
key_entry({_, Der} = K) when is_binary(Der) -> K.

%% A property over N cases, its output in the case's log; a failure fails the case with the
%% counterexample. Afterwards no result message is left and the in-flight bound is the default.
run_prop(Prop, N) ->
    Result = proper:quickcheck(Prop, [{numtests, N}, long_result,
                                      {on_output, fun(".", []) -> ok;
                                                     (F, A) -> ct:log(F, A)
                                                  end}]),
    flush(),
    ok = ?NIF:configure(#{max_in_flight => 64}),
    case Result of
        true -> ok;
        Other -> ct:fail({property_failed, Other})
    end.

%% A log event as the default formatter prints it.
format_log(#{level := L, msg := Msg}) ->
    logger_formatter:format(#{level => L, msg => Msg, meta => #{time => 0}},
                            #{single_line => false, depth => unlimited, chars_limit => unlimited}).
