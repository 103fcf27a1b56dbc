"""The model that ships with the package: `predict` and `serve` use it when no --run is given.

    python -m imdb_sentiment.apps.builtin runs/bilstm-distilled   # export a finished BiLSTM run as the built-in model
    python -m imdb_sentiment.apps.builtin RUN --pairs ../shared/data/counterfactual_imdb/dev_paired.tsv  # card: pairs

It is a BiLSTM run directory stored compactly: half-precision safetensors (the embeddings included, so no GloVe file
is read at load time), its vocabulary, run.json and calibration, and a model card (MODEL.md, card.json). Export
scores the half-precision copy on the whole test set (and, given them, on counterfactual dev pairs), so the card
states the accuracy of what ships, beside the run's own; `imdb-sentiment evaluate builtin` scores it again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

from safetensors.torch import load_file, save_file

from imdb_sentiment.core import runs

CARD = "card.json"
# The sentences a curious user types first, and their mirror images: the card says which the model gets wrong.
FIRST_SENTENCES = [("not bad at all", "positive"), ("not good at all", "negative"), ("not good", "negative"),
                   ("not bad", "positive"), ("I expected to hate it, but I loved it", "positive"),
                   ("I expected to love it, but I hated it", "negative")]


def first_sentences(predictor) -> dict[str, dict]:
    answers = predictor.predict([sentence for sentence, _ in FIRST_SENTENCES])
    return {sentence: {"label": a.label, "p_positive": round(a.p_positive, 3), "right": a.label == expected}
            for (sentence, expected), a in zip(FIRST_SENTENCES, answers)}


def export(run_dir: str | Path, out: str | Path = runs.BUILTIN_DIR, data: str | None = None,
           pairs: str | None = None) -> dict:
    """Write `run_dir` (a finished BiLSTM run) as a built-in model into `out`, and return its card."""
    from imdb_sentiment.inference.calibration import CALIBRATION, read_calibration
    from imdb_sentiment.inference.evaluate import evaluate_run
    from imdb_sentiment.inference.pairs import evaluate_pairs
    from imdb_sentiment.inference.predictors import load_predictor

    run_dir, out = Path(run_dir), Path(out)
    info = runs.read_run(run_dir)
    if info["kind"] != "bilstm":
        raise runs.RunError(f"{run_dir} holds a {info['kind']} run; the built-in model is a BiLSTM")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({name: t.half() for name, t in load_file(run_dir / "model.safetensors").items()},
              tmp / "model.safetensors")
    (tmp / "model.safetensors").chmod(0o644)  # safetensors writes 0600; an installed package is read by all
    shutil.copy(run_dir / "vocab.json", tmp / "vocab.json")
    runs.write_json(tmp / "run.json", info)
    if (run_dir / CALIBRATION).exists():
        shutil.copy(run_dir / CALIBRATION, tmp / CALIBRATION)
    shipped = evaluate_run(tmp, "test", data)
    paired = evaluate_pairs(tmp, pairs, "Text", "Sentiment") if pairs else None
    card = {
        "model": f"BiLSTM ({metrics['variant']})", "labels": "English movie reviews, as positive or negative",
        "test_accuracy_fp32": metrics["test_accuracy"], "test_accuracy_fp16": shipped["accuracy"],
        "test_n": shipped["n"], "teacher": metrics.get("teacher"), "params": metrics["params"],
        "size_bytes": sum(p.stat().st_size for p in tmp.iterdir()),
        "training_command": metrics["command"], "training_hardware": metrics["hardware"],
        "trained": metrics["date"], "commit": _commit(), "exported": runs.today(),
        "train_pairs": info["config"]["data"].get("augment_pairs"),
        "calibration": read_calibration(tmp).describe(),
        "dev_pairs": paired and {k: paired[k] for k in ("data", "pairs", "original_accuracy", "revision_accuracy",
                                                         "consistency")},
        "first_sentences": first_sentences(load_predictor(tmp)),
    }
    runs.write_json(tmp / CARD, card)
    (tmp / "MODEL.md").write_text(model_card(card))
    runs.replace_dir(tmp, out)
    return card


def model_card(card: dict) -> str:
    teacher = (f"distilled from the fine-tuned Transformer `{card['teacher']}` (it learned the teacher's logits)"
               if card["teacher"] else "trained on the IMDB labels")
    if card.get("train_pairs"):
        teacher += ", with Kaushik et al.'s human-edited counterfactual train pairs added"
    paired = card.get("dev_pairs")
    pairs_row = (f"| Counterfactual dev pairs ({paired['pairs']}): originals / revisions / both of a pair right | "
                 f"{paired['original_accuracy']:.1%} / {paired['revision_accuracy']:.1%} / "
                 f"{paired['consistency']:.1%} |\n" if paired else "")
    return f"""# Built-in model: {card['model']}

Labels **{card['labels']}**. Trained on the 25,000 IMDB training reviews (22,500 after the validation split);
other kinds of text are outside what it was trained for: on short product-review sentences and tweets it is
several points less accurate (results/report.md, "Other data"), and other languages were never measured.

| | |
|---|---|
| Test accuracy, {card['test_n']:,} IMDB test reviews, as shipped (fp16 weights) | {card['test_accuracy_fp16']:.2%} |
| Test accuracy of the training run (fp32) | {card['test_accuracy_fp32']:.2%} |
{pairs_row}| Calibration of P(positive), fitted on its validation split | {card.get('calibration', 'none')} |
| Training | {teacher} |
| Parameters | {card['params']:,} ({card['size_bytes'] / 1e6:.1f} MB on disk, weights in fp16) |
| Training command | `{card['training_command']}` |
| Trained on | {card['training_hardware']}, {card['trained']} |
| Exported | {card['exported']} from commit {card['commit']} |

Reproduce the first figure with `imdb-sentiment evaluate builtin` (needs the IMDB test set).
{_wrong_sentences(card.get("first_sentences") or {{}})}"""


def _wrong_sentences(answers: dict[str, dict]) -> str:
    if not answers:
        return ""
    wrong = [s for s, a in answers.items() if not a["right"]]
    if not wrong:
        return f"\nOf the first sentences a user types ({len(answers)}), it gets every one right.\n"
    listed = "; ".join(f'"{s}" ({answers[s]["label"]}, P(positive) {answers[s]["p_positive"]:.2f})' for s in wrong)
    why = (" IMDB's own labels are why a model learning from them misreads \"not bad\" (results/counterfactual/README.md, "
           "\"Not bad at all\").") if any("not bad" in s for s in wrong) else ""
    return (f"\nOf the first sentences a user types, it gets {len(answers) - len(wrong)} of {len(answers)} right; wrong: "
            f"{listed}.{why}\n")


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a finished BiLSTM run")
    parser.add_argument("--out", default=str(runs.BUILTIN_DIR))
    parser.add_argument("--data", help="aclImdb folder or tarball (default: the run's own)")
    parser.add_argument("--pairs", help="counterfactual dev pairs (Kaushik et al.'s dev_paired.tsv) for the card")
    args = parser.parse_args()
    card = export(args.run_dir, args.out, args.data, args.pairs)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
