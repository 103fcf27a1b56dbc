"""The `imdb-sentiment` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .config import (BiLSTMConfig, CompareConfig, ConfigError, TfidfConfig, TransformerConfig, add_config_arguments,
                     load_config, overrides_from_namespace)
from .data import DataError
from .embeddings import EmbeddingError
from .runs import RunError

EXPECTED_ERRORS = (ConfigError, DataError, EmbeddingError, RunError)


def _train_bilstm(args) -> None:
    from .training import train_bilstm

    train_bilstm(load_config(BiLSTMConfig, args.config, overrides_from_namespace(args)))


def _train_transformer(args) -> None:
    from .transformer import train_transformer

    train_transformer(load_config(TransformerConfig, args.config, overrides_from_namespace(args)))


def _train_tfidf(args) -> None:
    from .baselines import train_tfidf

    train_tfidf(load_config(TfidfConfig, args.config, overrides_from_namespace(args)))


def _compare(args) -> None:
    from .compare import run_compare

    run_compare(load_config(CompareConfig, args.config, overrides_from_namespace(args)))


def _evaluate(args) -> None:
    from .predict import evaluate_run
    from .runs import write_json

    result = evaluate_run(args.run_dir, args.split, args.data)
    write_json(f"{args.run_dir}/eval_{args.split}.json", result)
    print(json.dumps(result, indent=2))


def _predict(args) -> int:
    from .predict import load_predictor, predict_items, read_items

    predictors = [load_predictor(run, args.batch_size) for run in args.runs]
    try:
        items = read_items(args.texts, args.file, args.column)
    except FileNotFoundError as err:
        raise DataError(str(err)) from err
    records = predict_items(items, predictors, progress=len(items) > 100)
    if args.json:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
    else:
        _print_predictions(records, items)
    # Every review is labelled that can be, but a script must still learn that some could not.
    failed = sum(any("error" in p for p in record["predictions"].values()) for record in records)
    if failed:
        print(f"{failed} of {len(records)} reviews could not be labelled (see their errors)", file=sys.stderr)
    return 1 if failed else 0


def _print_predictions(records: list[dict], items: list) -> None:
    for record, item in zip(records, items):
        excerpt = " ".join(str(item.text or "").split())
        excerpt = excerpt if len(excerpt) <= 60 else excerpt[:57] + "..."
        cells = []
        for name, p in record["predictions"].items():
            if "error" in p:
                cells.append(f"{name}: error: {p['error']}")
            else:
                cells.append(f"{name}: {p['label']} P(positive)={p['p_positive']:.3f}{' (truncated)' if p['truncated'] else ''}")
        print(f"{record['source']}  {excerpt!r}\n    " + "\n    ".join(cells))


def _serve(args) -> None:
    from .serve import Limits, serve

    serve(args.runs, args.host, args.port, Limits(args.max_body_bytes, args.max_batch))


def _download(args) -> None:
    from .data import download_imdb

    print(download_imdb())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imdb-sentiment", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser("compare", help="train what is missing and write the comparison report")
    add_config_arguments(compare, CompareConfig)
    compare.set_defaults(func=_compare)

    train = commands.add_parser("train", help="train a model into a run directory")
    models = train.add_subparsers(dest="model", required=True)

    bilstm = models.add_parser("bilstm", help="BiLSTM (variants by config: scratch, glove, glove_frozen, naive)")
    add_config_arguments(bilstm, BiLSTMConfig)
    bilstm.set_defaults(func=_train_bilstm)

    transformer = models.add_parser("transformer", help="fine-tune a Hugging Face model (default distilbert)")
    add_config_arguments(transformer, TransformerConfig)
    transformer.set_defaults(func=_train_transformer)
    tfidf = models.add_parser("tfidf", help="TF-IDF or NB-SVM linear baseline on uni+bigrams")
    add_config_arguments(tfidf, TfidfConfig)
    tfidf.set_defaults(func=_train_tfidf)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--split", choices=("val", "test"), default="test")
    evaluate.add_argument("--data", help="aclImdb folder or tarball (default: the run's own)")
    evaluate.set_defaults(func=_evaluate)

    predict = commands.add_parser("predict", help="label reviews with one or more saved runs")
    predict.add_argument("texts", nargs="*", help="reviews to label; none: read --file, else stdin (one a line)")
    predict.add_argument("--run", action="append", required=True, dest="runs", help="run directory (repeatable)")
    predict.add_argument("--file", help=".txt (one review a line), .csv / .jsonl (see --column), or a folder of .txt")
    predict.add_argument("--column", default="text", help="column or field holding the review in csv/jsonl")
    predict.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    predict.add_argument("--batch_size", type=int, default=None)
    predict.set_defaults(func=_predict)

    web = commands.add_parser("serve", help="JSON API and a web page with the models side by side")
    web.add_argument("--run", action="append", required=True, dest="runs", help="run directory (repeatable)")
    web.add_argument("--host", default="127.0.0.1", help="address to bind; 127.0.0.1 keeps it on this machine")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--max_body_bytes", type=int, default=1_000_000)
    web.add_argument("--max_batch", type=int, default=32)
    web.set_defaults(func=_serve)

    download = commands.add_parser("download", help="fetch the official IMDB archive and verify its checksum")
    download.set_defaults(func=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        status = args.func(args)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command with --resume to continue a training run from its last "
              "checkpoint (one stopped before its first checkpoint starts over in place)", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
