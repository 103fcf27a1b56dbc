#!/usr/bin/env bash
# The report's models whose runs are gone, trained again from their committed configs and put back into the report:
# each run is trained (unless its folder already holds one), calibrated (`--method best`) and scored on the dev
# pairs; its metrics, history, test scores and paired scores are copied to results/retrained/RUN/ and its
# calibration to results/calibration/ (bench/calibration_table.py, which prints its row of the table there);
# then the probes replace their columns and the report their rows (scored, timed and scored on the other data sets
# here). A retrained run is a new run, not the lost one: the report shows its own numbers.
#   IMDB_SENTIMENT_DATA=aclImdb_v1.tar.gz bash bench/retrain_report.sh configs/bilstm_glove_head_tail.toml ...
# Time the report's step with the machine otherwise idle: it measures each model's speed.
set -euo pipefail
pairs=${PAIRS_DIR:-../shared/data/counterfactual_imdb}
run_dirs=()
for config in "$@"; do
  kind=$(head -1 "$config" | awk '{print $4}')
  run=$(sed -n 's/^output_dir = "\(.*\)"/\1/p' "$config")
  out=results/retrained/$(basename "$run")
  mkdir -p "$out"
  [ -f "$run/metrics.json" ] || imdb-sentiment train "$kind" --config "$config" --num_threads 2
  imdb-sentiment calibrate "$run" --method best
  imdb-sentiment evaluate "$run" --data "$pairs/dev_paired.tsv" --text_column Text --label_column Sentiment --json \
    > "$out/dev_pairs.json"
  cp "$run"/{metrics.json,history.json,test_probabilities.npy} "$out/"
  run_dirs+=("$run")
done
python bench/calibration_table.py "${run_dirs[@]}" --out results/calibration
# The probes first: the report reads results/probes/probes.json when it is written.
imdb-sentiment probe "${run_dirs[@]/#/--run=}" --out results/probes --update
imdb-sentiment compare --config configs/compare_report.toml --from_saved true --add "$(IFS=,; echo "${run_dirs[*]}")"
