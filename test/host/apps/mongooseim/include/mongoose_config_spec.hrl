%% MongooseIM's config-spec records (include/mongoose_config_spec.hrl in MongooseIM 6.x):
%% the host's TOML parser processes each service's config_spec/0 with them.
-ifndef(MONGOOSEIM_CONFIG_SPEC_HRL).
-define(MONGOOSEIM_CONFIG_SPEC_HRL, true).

-record(section, {items = #{} :: map(),
                  validate_keys = any :: term(),
                  required = [] :: [binary()] | all,
                  validate = any :: term(),
                  format_items = map :: list | map,
                  process = [] :: term(),
                  defaults = #{} :: map(),
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
