"""The `imdb-sentiment` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .config import (BiLSTMConfig, ConfigError, TransformerConfig, add_config_arguments, load_config,
                     overrides_from_namespace)
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


def _evaluate(args) -> None:
    from .runs import read_run, write_json
    from .training import evaluate_bilstm

    kind = read_run(args.run_dir)["kind"]
    if kind != "bilstm":
        from .transformer import evaluate_transformer as evaluate
    else:
        evaluate = evaluate_bilstm
    result = evaluate(args.run_dir, args.split, args.data)
    write_json(f"{args.run_dir}/eval_{args.split}.json", result)
    print(json.dumps(result, indent=2))


def _download(args) -> None:
    from .data import download_imdb

    print(download_imdb())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imdb-sentiment", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model into a run directory")
    models = train.add_subparsers(dest="model", required=True)

    bilstm = models.add_parser("bilstm", help="BiLSTM (variants by config: scratch, glove, glove_frozen, naive)")
    add_config_arguments(bilstm, BiLSTMConfig)
    bilstm.set_defaults(func=_train_bilstm)

    transformer = models.add_parser("transformer", help="fine-tune a Hugging Face model (default distilbert)")
    add_config_arguments(transformer, TransformerConfig)
    transformer.set_defaults(func=_train_transformer)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--split", choices=("val", "test"), default="test")
    evaluate.add_argument("--data", help="aclImdb folder or tarball (default: the run's own)")
    evaluate.set_defaults(func=_evaluate)

    download = commands.add_parser("download", help="fetch the official IMDB archive and verify its checksum")
    download.set_defaults(func=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a training run continues from its last checkpoint with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
