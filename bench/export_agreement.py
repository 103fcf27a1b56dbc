"""How far each exported form of a run is from the predictor, and how fast it runs, on test reviews.

    python bench/export_agreement.py --run builtin --reviews 2000 --out results/inference/export_builtin.json

Exports the run as OpenVINO and ONNX, fp32 and int8 (`imdb-sentiment export`), loads each with its runtime the way
the exported predict.py does, scores `--reviews` random test reviews one at a time (as the example does), and
compares P(positive) with the fp32 predictor's: the largest difference, the share of labels that agree, accuracy,
and reviews per second (the exported forms' including loading and compiling the model once). Writes the command, hardware with the CPU's features, and the date beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.data import splits_for
from imdb_sentiment.inference.export import export_run
from imdb_sentiment.inference.predictors import load_predictor


def exported_scores(folder: Path, texts: list[str]) -> tuple[np.ndarray, float]:
    """P(positive) per text from the exported predict.py's own code, and the seconds its model took."""
    printed: list[str] = []
    argv, write = sys.argv, sys.stdout.write
    sys.argv = ["predict.py", *texts]
    sys.stdout.write = printed.append  # the example prints one JSON line per review
    start = time.perf_counter()
    try:
        runpy.run_path(str(folder / "predict.py"), run_name="__main__")
    finally:
        sys.argv, sys.stdout.write = argv, write
    seconds = time.perf_counter() - start
    lines = [json.loads(line) for line in "".join(printed).splitlines() if line.strip()]
    return np.array([line["p_positive"] for line in lines]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="builtin")
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    predictor = load_predictor(args.run)
    test = splits_for(predictor.cfg)["test"]
    pick = np.random.default_rng(0).choice(len(test), size=min(args.reviews, len(test)), replace=False)
    texts, labels = [test.texts[i] for i in pick], test.labels[pick].astype(bool)
    start = time.perf_counter()
    reference = np.array([predictor.predict([t])[0].p_positive for t in texts])
    reference_seconds = time.perf_counter() - start
    rows = {"predictor fp32 (torch)": {"accuracy": float(((reference >= 0.5) == labels).mean()),
                                       "reviews_per_second": round(len(texts) / reference_seconds, 1)}}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("openvino", "onnx"):
            for quantize in (None, "int8"):
                folder = export_run(args.run, Path(tmp) / f"{fmt}-{quantize}", fmt, quantize)
                probs, seconds = exported_scores(folder, texts)
                rows[f"{fmt} {quantize or 'fp32'}"] = {
                    "max_abs_difference": float(np.abs(probs - reference).max()),
                    "label_agreement": float(((probs >= 0.5) == (reference >= 0.5)).mean()),
                    "accuracy": float(((probs >= 0.5) == labels).mean()),
                    "reviews_per_second": round(len(texts) / seconds, 1)}
                print(fmt, quantize or "fp32", rows[f"{fmt} {quantize or 'fp32'}"], flush=True)
    result = {"run": args.run, "reviews": len(texts), "one_at_a_time": True, "rows": rows,
              "load_average_1min": os.getloadavg()[0],  # speeds mean little on a busy machine: say how busy
              "hardware": hardware.hardware(), "command": runs.command_line(), "date": runs.today()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
