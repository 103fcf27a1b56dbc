#!/usr/bin/env bash
# Does the naive BiLSTM stay at chance when the padding is longer? The naive and the padded-exact GloVe BiLSTM,
# trained side by side (one thread each) on a stratified subset at a longer window, then compared.
# Usage: bash bench/naive_collapse.sh [MAX_LENGTH [TRAIN_SAMPLES [MAX_EPOCHS]]]   (defaults 512, 5000, 8)
# Needs IMDB_SENTIMENT_DATA. Writes runs/collapse-<variant>-L<max length>/ and a log beside each.
set -euo pipefail
max_length=${1:-512}; samples=${2:-5000}; epochs=${3:-8}
common=(--max_length "$max_length" --max_train_samples "$samples" --max_eval_samples "$samples"
        --max_epochs "$epochs" --num_threads 1)
variants=(naive_head_tail glove_head_tail)
pids=()
for variant in "${variants[@]}"; do
  imdb-sentiment train bilstm --config "configs/bilstm_${variant}.toml" "${common[@]}" \
    --variant "${variant}_L${max_length}_n${samples}" --output_dir "runs/collapse-${variant}-L${max_length}" \
    > "runs/collapse-${variant}-L${max_length}.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done  # a failed run stops the script with its status
for variant in "${variants[@]}"; do
  python - "runs/collapse-${variant}-L${max_length}" <<'PY'
import json, sys
run = sys.argv[1]
history = json.load(open(f"{run}/history.json"))
metrics = json.load(open(f"{run}/metrics.json"))
print(run, "validation by epoch:", " ".join(f"{row['val_accuracy']:.1%}" for row in history),
      f"| test ({metrics['test_n']} reviews): {metrics['test_accuracy']:.2%}")
PY
done
