%%% @doc TEST STAND-IN for MongooseIM's `mongoose_service' (`is_loaded/1').
-module(mongoose_service).
-export([is_loaded/1]).

is_loaded(Service) -> maps:is_key(Service, mongoose_config:get_opt(services, #{})).
