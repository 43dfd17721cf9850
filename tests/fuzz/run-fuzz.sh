#!/usr/bin/env bash
# run-fuzz.sh FUZZER SEED_DIR RUNS [libFuzzer options...]: runs a libFuzzer target over its seed
# corpus for RUNS inputs with a fixed seed, so CI is repeatable. New inputs go to a scratch
# directory, never into the seed corpus in the source tree. Exit status: the fuzzer's (0: no
# crash, leak, sanitizer report or timeout); a crashing input is left in the current directory.
set -u
fuzzer=$1 seeds=$2 runs=$3
shift 3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$fuzzer" -runs="$runs" -seed=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$@" \
	"$scratch" "$seeds"
