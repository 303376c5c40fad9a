#!/usr/bin/env bash
# A cluster on this machine: Azurite plus K silo processes on loopback (silo ports 11111.., gateways 30000..,
# health 8080..), sharing membership, state and checkpoints through Azure Storage. Ctrl-C stops everything.
#   scripts/cluster.sh [K]          (default 3)
# Silos and clients talk mutual TLS with certificates from a development CA made once under .cluster-certs/
# (scripts/dev-certs.sh). Then, in another terminal, the client finds the silos through the membership table:
#   export DISTRIBUTED_STORAGE=azure DISTRIBUTED_STORAGE_CONNECTION='UseDevelopmentStorage=true' DISTRIBUTED_TLS=.cluster-certs/operator
#   dotnet run -c Release --project src/Client -- submit samples/quickstart.yaml --wait
# (DISTRIBUTED_TLS=.cluster-certs/reader may only query.)
set -euo pipefail
cd "$(dirname "$0")/.."
k=${1:-3}
if ! [[ "$k" =~ ^[1-9][0-9]?$ ]]; then echo "error: K must be 1..99, not '$k'" >&2; exit 2; fi

[ -f tools/azurite/node_modules/azurite/dist/src/azurite.js ] || npm ci --prefix tools/azurite --no-audit --no-fund >/dev/null
dotnet build -c Release src/Silo/Distributed.Silo.csproj >/dev/null
certs=.cluster-certs
[ -f "$certs/silo/tls.crt" ] || ./scripts/dev-certs.sh "$certs" 365 >/dev/null

state=$(mktemp -d)
azurite=""
silos=()
# Silos first, while storage still answers (a silo leaving writes its membership row and drains its workers);
# one still running after 40 s is killed. Then Azurite.
stop() {
  trap - EXIT INT TERM
  kill -TERM "${silos[@]}" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "${silos[@]}" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "${silos[@]}" 2>/dev/null || true
  [ -z "$azurite" ] || kill -TERM "$azurite" 2>/dev/null || true
  wait 2>/dev/null || true
  # Each run starts from a fresh directory, so nothing in it is ever used again.
  rm -rf "$state"
  exit 0
}
trap stop EXIT INT TERM

node tools/azurite/node_modules/azurite/dist/src/azurite.js --silent --location "$state/azurite" \
  --disableTelemetry --skipApiVersionCheck --loose &
azurite=$!
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/10002) 2>/dev/null && break; sleep 0.2; done

export DISTRIBUTED_STORAGE=azure
export DISTRIBUTED_STORAGE_CONNECTION='UseDevelopmentStorage=true'
for i in $(seq 0 $((k - 1))); do
  # Each silo its own data directory (its cached datasets), as on separate machines.
  dotnet src/Silo/bin/Release/net10.0/Distributed.Silo.dll --silo-port $((11111 + i)) --gateway-port $((30000 + i)) \
    --health-port $((8080 + i)) --data-dir "$state/silo-$i" --tls "$certs/silo" > "$state/silo-$i.log" 2>&1 &
  silos+=($!)
done
for i in $(seq 0 $((k - 1))); do
  for _ in $(seq 150); do grep -q "silo up" "$state/silo-$i.log" 2>/dev/null && break; sleep 0.2; done
  grep -q "silo up" "$state/silo-$i.log" || { echo "error: silo $i did not start; see $state/silo-$i.log" >&2; exit 1; }
done
echo "$k silos up (logs in $state); Azurite on 10000-10002. Ctrl-C stops them."
echo "client: DISTRIBUTED_STORAGE=azure DISTRIBUTED_STORAGE_CONNECTION='UseDevelopmentStorage=true' DISTRIBUTED_TLS=$certs/operator dotnet run -c Release --project src/Client -- list"
wait
