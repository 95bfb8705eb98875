#!/bin/sh
# Installs what a fresh Debian machine lacks to build and test mongoose_system_metrics:
# Erlang/OTP (erlang-nox, erlang-dev, erlang-common-test, erlang-dialyzer), rebar3, and the
# Debian-packaged Erlang libraries the tests use (jiffy, PropEr, meck), and g++. Rust (cargo >= 1.91) and a C
# compiler must already be there (rustup); this script says so if they are not.
set -eu

missing=""
have_erl_lib() {
    erl -noshell -eval "case code:which($1) of non_existing -> halt(1); _ -> halt(0) end." \
        >/dev/null 2>&1
}
command -v erl >/dev/null 2>&1 || missing="$missing erlang-nox erlang-dev"
command -v rebar3 >/dev/null 2>&1 || missing="$missing rebar3"
# MongooseIM's own C++ drivers, built by the suite that runs its config code.
command -v c++ >/dev/null 2>&1 || missing="$missing g++"
if command -v erl >/dev/null 2>&1; then
    have_erl_lib ct || missing="$missing erlang-common-test"
    have_erl_lib dialyzer || missing="$missing erlang-dialyzer"
    have_erl_lib jiffy || missing="$missing erlang-jiffy"
    have_erl_lib proper || missing="$missing erlang-proper"
    have_erl_lib meck || missing="$missing erlang-meck"
    # The header, not the module: erlang-proper alone lacks include/proper.hrl.
    proper_hrl=$(erl -noshell -eval 'case code:lib_dir(proper) of {error, _} -> ok; D -> io:format("~s", [filename:join(D, "include/proper.hrl")]) end, halt().')
    [ -n "$proper_hrl" ] && [ -f "$proper_hrl" ] || missing="$missing erlang-proper-dev"
    [ -f "$(erl -noshell -eval 'io:format("~s", [code:root_dir()]), halt().')/usr/include/erl_nif.h" ] \
        || missing="$missing erlang-dev"
else
    missing="$missing erlang-common-test erlang-dialyzer erlang-jiffy erlang-proper erlang-proper-dev erlang-meck"
fi

if [ -n "$missing" ]; then
    echo "Installing missing Debian packages:$missing"
    if [ "$(id -u)" = "0" ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust >= 1.91 (https://rustup.rs) and a C compiler" >&2
    exit 1
fi
if ! command -v cc >/dev/null 2>&1; then
    echo "no C compiler (cc) found: apt-get install build-essential" >&2
    exit 1
fi
