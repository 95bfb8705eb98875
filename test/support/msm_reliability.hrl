%% The reliability suites' common header (also msm_reliability's): Common Test, assertions
%% and the constants they share.

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-define(NIF, mongoose_system_metrics_nif).
-define(S, service_mongoose_system_metrics).
-define(SECRET, "rel-SUITE-api-s3cret-Value").
-define(TID, "G-RELIABLE1").
%% How long a case waits for what it expects (a result, a request, a log entry, a closed
%% connection): only a guard against hanging, never a time the case asserts.
-define(WAIT, 60000).
%% The same, for idle connections to be closed by the client (client.rs POOL_IDLE_TIMEOUT,
%% 5 s, reaped on the pool's next check) and the VM to be back to its baseline.
-define(IDLE_WAIT_MS, ?WAIT).
