#!/usr/bin/env bash
# Full BiLSTM runs on the whole dataset, one variant after another; metrics land in results/bilstm/<variant>/.
# Usage: bash bench/run_bilstm_variants.sh VARIANT [VARIANT ...] [-- extra flags for `train bilstm`]
# Needs IMDB_SENTIMENT_DATA (or pass `-- --data PATH`).
set -euo pipefail
variants=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  variants+=("$1"); shift
done
for variant in "${variants[@]}"; do
  echo "[$(date -u +%FT%TZ)] start $variant"
  start=$(date +%s)
  imdb-sentiment train bilstm --config "configs/bilstm_${variant}.toml" "${extra[@]}"
  mkdir -p "results/bilstm/${variant}"
  cp "runs/bilstm-${variant}/metrics.json" "runs/bilstm-${variant}/history.json" "results/bilstm/${variant}/"
  echo "[$(date -u +%FT%TZ)] done $variant in $(( $(date +%s) - start ))s wall"
done
