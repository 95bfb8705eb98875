%% MongooseIM 6.x config-spec records (include/mongoose_config_spec.hrl), defined here so that
%% service_mongoose_system_metrics:config_spec/0 returns terms that MongooseIM's TOML parser
%% (mongoose_config_parser_toml) understands, without needing MongooseIM's headers to build.
%% The field order is what matters: from 6.1.0 to 6.8.0 these are the same tuples. Only the
%% default of `process' differs between releases (`undefined' up to 6.2, `[]' from 6.3), and
%% each release's parser refuses the other's: config_spec/0 sets `process' on every node.
%% The guard is MongooseIM's own, so including both headers defines the records once.
-ifndef(MONGOOSEIM_CONFIG_SPEC_HRL).
-define(MONGOOSEIM_CONFIG_SPEC_HRL, true).

-record(section, {items = #{} :: #{binary() | default => term()},
                  validate_keys = any :: term(),
                  required = [] :: [binary()] | all,
                  validate = any :: term(),
                  format_items = map :: list | map,
                  process = [] :: term(),
                  defaults = #{} :: #{binary() => term()},
                  wrap = default :: atom(),
                  include = when_present :: always | when_present}).

-record(list, {items :: term(),
               validate = any :: term(),
               format_items = list :: list | map,
               process = [] :: term(),
               wrap = default :: atom()}).

-record(option, {type :: atom(),
                 validate = any :: term(),
                 process = [] :: term(),
                 wrap = default :: atom()}).

-endif.
