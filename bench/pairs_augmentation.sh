#!/usr/bin/env bash
# Does training on counterfactual pairs teach a model the words that decide the label? One model config trained
# with and without Kaushik et al.'s train pairs (the six leaking into IMDB's test split left out), each scored on the
# dev pairs (originals, revisions, consistency) and on IMDB's test set; bench/pairs_table.py makes the table.
#   IMDB_SENTIMENT_DATA=aclImdb_v1.tar.gz bash bench/pairs_augmentation.sh CONFIG NAME [REPEAT [TRAIN_FLAGS...]]
#   e.g. bash bench/pairs_augmentation.sh configs/tfidf_nbsvm.toml tfidf-nbsvm 1    -> results/counterfactual/NAME*.json
#        bash bench/pairs_augmentation.sh configs/minilm_l6.toml minilm-l6-5k 1 --max_train_samples 5000 --precision bf16
set -euo pipefail
config=$1 name=$2 repeat=${3:-1}
shift $(( $# < 3 ? $# : 3 ))
pairs=${PAIRS_DIR:-../shared/data/counterfactual_imdb}
kind=$(head -1 "$config" | awk '{print $4}')
out=results/counterfactual
mkdir -p "$out"
for variant in plain pairs; do
  run=runs/counterfactual/$name-$variant
  extra=()
  [ "$variant" = pairs ] && extra=(--augment_pairs "$pairs/train_paired.tsv" --augment_repeat "$repeat")
  [ -f "$run/metrics.json" ] || imdb-sentiment train "$kind" --config "$config" --output_dir "$run" "${extra[@]}" "$@"
  imdb-sentiment evaluate "$run" --data "$pairs/dev_paired.tsv" --text_column Text --label_column Sentiment --json \
    > "$out/$name-$variant.dev_pairs.json"
  cp "$run/metrics.json" "$out/$name-$variant.metrics.json"
  cp "$run/test_probabilities.npy" "$out/$name-$variant.test_probabilities.npy"
done
