#!/usr/bin/env bash
# Build the open-loop load generator (bench/loadgen.md) into bench/.bin/loadgen.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/.bin
cc -O2 -Wall -Wextra -o bench/.bin/loadgen bench/loadgen.c
echo "built bench/.bin/loadgen"
