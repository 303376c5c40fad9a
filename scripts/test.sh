#!/usr/bin/env bash
# The project's test command: restores, builds (the TorchSharp load fix runs as part of the build),
# runs every test project, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# The Azure Storage emulator the storage tests run against, installed from its lockfile (tests start and stop it).
if [ ! -f tools/azurite/node_modules/azurite/dist/src/azurite.js ]; then
  npm ci --prefix tools/azurite --no-audit --no-fund >/dev/null || { echo "npm ci for tools/azurite failed"; echo "0 passed, 1 failed"; exit 1; }
fi

dotnet test Distributed.sln -c Release --logger "trx" --results-directory "$results" "$@"
status=$?

passed=0; failed=0; total=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); total=$((total + ${t:-0}))
done
# A test host that crashed writes fewer results than tests: count what did not report as failed.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"
