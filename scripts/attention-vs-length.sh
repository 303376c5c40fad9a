#!/usr/bin/env bash
# The guide's bottleneck claim, measured: exact match on "reverse" with and without attention as the
# sequence length grows. Same model size, data size and step budget for every cell of the table.
# Usage: scripts/attention-vs-length.sh [steps] > docs/experiments/attention-vs-length.md
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-1500}
dotnet build -c Release src/Client -v q >/dev/null
client=src/Client/bin/Release/net10.0/distributed
echo "| length | attention | exact match | token accuracy | BLEU | perplexity |"
echo "|---:|---|---:|---:|---:|---:|"
for length in 10 20 30 40; do
  for attention in none additive; do
    json=$("$client" train --task reverse --minLength "$length" --maxLength "$length" --attention "$attention" \
      --examples 40000 --embeddingSize 32 --hiddenSize 64 --learningRate 0.005 --training.decay cosine --decaySteps "$steps" \
      --steps "$steps" --evaluateEvery "$steps" --json | tail -1)
    python3 - "$length" "$attention" "$json" <<'PY'
import json, sys
length, attention, line = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(f"| {length} | {attention} | {line['exactMatch']:.1%} | {line['tokenAccuracy']:.1%} | {line['bleu']:.1f} | {line['perplexity']:.3f} |")
PY
  done
done
