#!/usr/bin/env bash
# The project's test command: restores, builds (the TorchSharp load fix runs as part of the build),
# runs every test project, and ends with one line "N passed, N failed".
# --fast runs only the unit tests (no test cluster, silo or client process, no Azurite): under a minute once built.
# Other arguments go to `dotnet test` (say, --filter "FullyQualifiedName~Sweep").
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
# A process that crashes (a test host, or a silo or client a test started) writes a crash report naming its threads'
# native frames; the faulting thread's are printed below, so a rare crash can be traced from the CI log alone.
crashes=$(mktemp -d)
trap 'rm -rf "$results" "$crashes"' EXIT
export DOTNET_DbgEnableMiniDump=1 DOTNET_DbgMiniDumpType=1 DOTNET_EnableCrashReport=1 DOTNET_DbgMiniDumpName="$crashes/%e-%p.dmp"

# The Azure Storage emulator the storage tests run against, installed from its lockfile (tests start and stop it).
if [ "${*}" != "--fast" ] && [ ! -f tools/azurite/node_modules/azurite/dist/src/azurite.js ]; then
  npm ci --prefix tools/azurite --no-audit --no-fund >/dev/null || { echo "npm ci for tools/azurite failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The process tests make a development CA with scripts/dev-certs.sh, which needs openssl (Debian's package).
if [ "${*}" != "--fast" ] && ! command -v openssl >/dev/null; then
  { apt-get install -y openssl >/dev/null 2>&1 || sudo -n apt-get install -y openssl >/dev/null 2>&1; } ||
    echo "warning: openssl is missing and could not be installed; the TLS process tests will fail"
fi

# The dashboard's browser tests drive headless Chromium (Debian's chromium package).
if [ "${*}" != "--fast" ] && ! command -v chromium >/dev/null; then
  { apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y chromium >/dev/null 2>&1; }; } ||
    echo "warning: chromium is missing and could not be installed; the dashboard's browser tests will fail"
fi

args=()
fast=0
for a in "$@"; do
  if [ "$a" = "--fast" ]; then fast=1; else args+=("$a"); fi
done
# Integration tests carry [Trait("Category", "Integration")]; everything else is a unit test.
if [ "$fast" -eq 1 ]; then args+=(--filter "Category!=Integration"); fi

# A test that hangs is stopped after 10 minutes and counts as failed, naming itself, instead of holding CI.
dotnet test Distributed.sln -c Release --logger "trx" --results-directory "$results" \
  --blame-hang-timeout 10m --blame-hang-dump-type none "${args[@]}"
status=$?

for report in "$crashes"/*.crashreport.json; do
  [ -f "$report" ] || continue
  echo "a process crashed: $(basename "$report")"
  python3 scripts/crash-report.py "$report" || cat "$report"
done

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
