%% The reliability suites' common header (also msm_reliability's): Common Test, assertions
%% and the constants they share.

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-define(NIF, mongoose_system_metrics_nif).
-define(S, service_mongoose_system_metrics).
-define(SECRET, "rel-SUITE-api-s3cret-Value").
-define(TID, "G-RELIABLE1").
%% The HTTP client's idle timeout (client.rs POOL_IDLE_TIMEOUT) is 5 s; idle connections are
%% reaped on the pool's next check, so allow up to twice that plus slack.
-define(IDLE_WAIT_MS, 15000).
