"""How the int8 BiLSTM's scales were chosen: each way of setting them, against fp32 on the same test reviews.

    python bench/bilstm_int8_scales.py [--run builtin] [--reviews 1000] [--json results/inference/bilstm_scales.json]

`--quantize int8` runs the BiLSTM's LSTMs as oneDNN's int8 LSTM through OpenVINO (src/imdb_sentiment/quantize.py),
which shares one uint8 scale between a layer's input and its hidden state, and one int8 scale between its input and
recurrent weights. What is left to choose: how far the embedding is rescaled into the inputs' [-1, 1] (by a quantile
of its magnitudes, clipping what lies beyond; shipped: the largest), and whether the weights have one scale for every
LSTM (shipped), one per LSTM, or one per gate unit. For each choice: P(positive) on the same stratified test
reviews, the reviews whose label flips against fp32, accuracy, and the mean and largest change of the logit.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

CHOICES = [  # (weight scales, embedding clip quantile); the first is what --quantize int8 does
    ("one", 1.0),
    ("one", 0.999),
    ("one", 0.99),
    ("per_lstm", 1.0),
    ("per_channel", 1.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="builtin")
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()

    import openvino as ov
    import torch

    from imdb_sentiment.core import hardware, runs
    from imdb_sentiment.core.data import splits_for, stratified_sample
    from imdb_sentiment.inference import quantize
    from imdb_sentiment.inference.predictors import load_predictor

    torch.set_num_threads(args.threads)
    predictor = load_predictor(args.run, 64)
    reviews = stratified_sample(splits_for(predictor.cfg)["test"], args.reviews, 1)
    ids, _ = predictor._encode(reviews.texts)
    labels = reviews.labels.astype(bool)

    def logits(model) -> np.ndarray:
        def score(batch_ids):
            from imdb_sentiment.models.batches import pad_collate

            batch = pad_collate([{"input_ids": x, "label": 0, "index": 0} for x in batch_ids], None, 1)
            return model(batch["input_ids"], batch["lengths"]).float().numpy()
        return predictor.in_length_order(ids, score)

    reference = logits(predictor.model)
    rows = [{"variant": "fp32", "accuracy": float(((reference > 0) == labels).mean())}]
    for weight_scales, clip_quantile in CHOICES:
        with tempfile.TemporaryDirectory() as folder:
            quantize._static_int8_lstm(predictor.model, Path(folder), weight_scales, clip_quantile)
            compiled = ov.Core().compile_model(Path(folder) / "model.xml", "CPU", {
                "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": args.threads})
            scores = logits(quantize.OpenVinoModel(compiled, ("input_ids", "lengths")))
        change = np.abs(scores - reference)
        rows.append({"variant": "int8", "weight_scales": weight_scales, "clip_quantile": clip_quantile,
                     "accuracy": float(((scores > 0) == labels).mean()),
                     "flips": int(((scores > 0) != (reference > 0)).sum()),
                     "mean_logit_change": float(change.mean()), "max_logit_change": float(change.max())})
        print(json.dumps(rows[-1]), flush=True)

    lines = [f"{args.run}, {len(ids):,} stratified test reviews; {hardware.hardware()}, {runs.today()}",
             f"fp32 accuracy {rows[0]['accuracy']:.2%}", "",
             "| weight scales | embedding clip quantile | accuracy | labels flipped | mean / max logit change |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['weight_scales']} | {r['clip_quantile']} | {r['accuracy']:.2%} | {r['flips']} | "
              f"{r['mean_logit_change']:.4f} / {r['max_logit_change']:.3f} |" for r in rows[1:]]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"run": args.run, "reviews": len(ids), "hardware": hardware.hardware(),
                                               "date": runs.today(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
