"""One predictor interface over every kind of saved run, and the readers behind `imdb-sentiment predict`.

    predictor = load_predictor("runs/bilstm-glove")
    predictor.predict(["A moving, beautifully acted film.", ""])
    # [Prediction(label='positive', p_positive=0.97, truncated=False, error=None),
    #  Prediction(label=None, p_positive=None, truncated=False, error='empty review')]

Reviews are cleaned and truncated exactly as in training. A bad item gets its own error; the rest still run.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import runs

LABELS = ("negative", "positive")


@dataclass
class Prediction:
    label: str | None
    p_positive: float | None  # P(positive), whichever label was chosen
    truncated: bool = False  # the review was longer than the model reads
    error: str | None = None


@dataclass
class Item:
    """One review to predict, with where it came from ("line 3", "reviews/12.txt") and any reading error."""

    source: str
    text: object
    error: str | None = None
    label: object = None  # a labelled set's raw label value, when one was asked for


def validate(text: object) -> str | None:
    if not isinstance(text, str):
        return f"not text (got {type(text).__name__})"
    if not text.strip():
        return "empty review"
    return None


class Predictor:
    """Base: validates items, batches the good ones by length, and maps probabilities back."""

    kind: str

    def __init__(self, run_dir: str | Path, batch_size: int = 64):
        self.run_dir = runs.resolve(run_dir)
        self.name = self.run_dir.name
        self.batch_size = batch_size
        self.quantized: str | None = None
        self.precision = "fp32"

    def use_precision(self, precision: str) -> None:
        """Run the model under bf16 autocast (weights stay fp32): faster on CPUs with native bf16 instructions."""
        if precision == "fp32":
            return
        if precision != "bf16" or self.kind == "tfidf":
            raise runs.RunError(f"{self.name}: --precision {precision} applies to BiLSTM and Transformer runs "
                                f"(bf16 or fp32)")
        if next(self.model.parameters()).device.type == "cpu":
            runs.require_cpu_bf16()  # refuses a CPU that would only emulate bf16
        self.precision = precision
        self.name += f"-{precision}"

    @property
    def changed(self) -> bool:
        """Whether it scores differently from the trained model (int8 or bf16), so its scores are never the run's."""
        return bool(self.quantized) or self.precision != "fp32"

    def autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        device = next(self.model.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16)

    def quantize(self, mode: str) -> None:
        """int8 for CPU inference, built once and cached in the run directory (quantize.py says how, per kind)."""
        if mode != "int8":
            raise runs.RunError(f"unknown quantization {mode!r}; use int8")
        with warnings.catch_warnings():  # the exporters' notes on tracing, addressed to library authors
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            self._quantize_int8()
        self.quantized = mode
        self.name += f"-{mode}"

    def _quantize_int8(self) -> None:
        raise runs.RunError(f"{self.name}: int8 applies to BiLSTM and Transformer runs, not {self.kind} runs")

    def predict(self, texts: list, progress: bool = False) -> list[Prediction]:
        results = [Prediction(None, None, error=validate(text)) for text in texts]
        good = [i for i, r in enumerate(results) if r.error is None]
        if not good:
            return results
        ids, truncated = self._encode([texts[i] for i in good])
        probs = self.in_length_order(ids, self._probabilities, progress, f"predict {self.name}")
        for k, i in enumerate(good):
            results[i] = Prediction(LABELS[int(probs[k] >= 0.5)], float(probs[k]), bool(truncated[k]))
        return results

    def in_length_order(self, ids: list, score, progress: bool = False, desc: str = "") -> np.ndarray:
        """`score` over batches of encoded reviews of similar length (little padding), put back in `ids`' order."""
        from tqdm.auto import tqdm

        order = np.argsort([len(x) for x in ids], kind="stable")
        out = None
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), self.batch_size), desc=desc, disable=not progress, leave=False):
                chunk = order[start:start + self.batch_size]
                scores = np.asarray(score([ids[i] for i in chunk]))
                if out is None:
                    out = np.empty((len(ids), *scores.shape[1:]), dtype=np.float64)
                out[chunk] = scores
        return out

    def _encode(self, texts: list[str]) -> tuple[list[list[int]], list[bool]]:
        raise NotImplementedError

    def _probabilities(self, batch_ids: list[list[int]]) -> np.ndarray:
        raise NotImplementedError


PAD_MULTIPLE = 16


class BiLSTMPredictor(Predictor):
    kind = "bilstm"

    def __init__(self, run_dir, batch_size: int = 64):
        from .training import load_bilstm_run

        super().__init__(run_dir, batch_size)
        self.model, self.vocab, self.cfg = load_bilstm_run(run_dir)

    def _quantize_int8(self):
        from .quantize import bilstm_int8

        self.int8 = bilstm_int8(self.model, self.run_dir)

    def _encode(self, texts):
        from .batches import encode_review

        encoded = [encode_review(text, self.vocab, self.cfg.model.max_length, self.cfg.model.truncation)
                   for text in texts]
        return [ids for ids, _ in encoded], [cut for _, cut in encoded]

    def _probabilities(self, batch_ids):
        from .batches import pad_collate

        pad_to = self.cfg.model.max_length if self.cfg.model.pad_to_max_length else None
        # oneDNN keeps a compiled LSTM for every (batch, length) shape it meets, about 0.25 MB each, up to 1,024
        # of them: a server seeing ever new lengths grows by hundreds of MB. OpenVINO, which runs the int8 model,
        # also keeps kernels per shape (up to 1,024, about 0.2 MB each) and spends 10-130 ms building them for a
        # new one. Padding changes nothing but the naive model's output, so rounding the length up to a multiple
        # of 16 bounds the shapes at little extra work.
        multiple = 1 if self.cfg.model.encoder == "naive" else PAD_MULTIPLE
        batch = pad_collate([{"input_ids": x, "label": 0, "index": 0} for x in batch_ids], pad_to, multiple)
        model = self.int8 if self.quantized else self.model
        with self.autocast():
            return torch.sigmoid(model(batch["input_ids"], batch["lengths"]).float()).numpy()


class TransformerPredictor(Predictor):
    kind = "transformer"

    def __init__(self, run_dir, batch_size: int = 32):
        from .transformer import load_transformer_run, make_collator

        super().__init__(run_dir, batch_size)
        self.model, self.tokenizer, self.cfg = load_transformer_run(run_dir)
        self.collate = make_collator(self.tokenizer, self.cfg.model.padding, self.cfg.model.max_length)

    def _quantize_int8(self):
        from .quantize import transformer_int8

        self.int8 = transformer_int8(self.model, self.run_dir, self._calibration_batches)

    def _calibration_batches(self):
        """Training reviews of the run's own dataset, in length order: what sets the int8 activation scales."""
        from .data import DataError, splits_for, stratified_sample
        from .quantize import CALIBRATION_REVIEWS

        try:
            reviews = stratified_sample(splits_for(self.cfg)["train"], CALIBRATION_REVIEWS, 0)
        except DataError as err:
            raise runs.RunError(f"{self.name}: int8 calibrates once on {CALIBRATION_REVIEWS} training reviews and "
                                f"caches the result in the run directory, but the dataset is not readable: {err}")
        ids = sorted(self._encode(reviews.texts)[0], key=len)
        for start in range(0, len(ids), 32):
            yield self.collate([{"input_ids": x} for x in ids[start:start + 32]])

    def _encode(self, texts):
        from .transformer import encode

        m = self.cfg.model
        encoded = encode(self.tokenizer, texts, m.max_length, m.truncation, m.head_tokens)
        return encoded["input_ids"], encoded["truncated"]

    def logits(self, batch_ids) -> np.ndarray:
        batch = self.collate([{"input_ids": x} for x in batch_ids])
        if self.quantized:
            return self.int8(batch["input_ids"], batch["attention_mask"]).numpy()
        with self.autocast():
            return self.model(**batch).logits.float().numpy()

    def _probabilities(self, batch_ids):
        return torch.softmax(torch.from_numpy(self.logits(batch_ids)), dim=-1)[:, 1].numpy()


class TfidfPredictor(Predictor):
    kind = "tfidf"

    def __init__(self, run_dir, batch_size: int = 1024):
        from .baselines import load_tfidf_run

        super().__init__(run_dir, batch_size)
        self.pipeline, self.cfg = load_tfidf_run(run_dir)

    def _encode(self, texts):
        return list(texts), [False] * len(texts)  # n-gram counts read the whole review

    def _probabilities(self, batch_texts):
        return self.pipeline.predict_proba(batch_texts)[:, 1]


def load_predictor(run_dir: str | Path, batch_size: int | None = None, quantize: str | None = None,
                   precision: str = "fp32") -> Predictor:
    """The predictor of a saved run; `quantize="int8"` gives BiLSTM and Transformer runs int8 weights (TF-IDF runs,
    already small linear models, are left as they are); `precision="bf16"` runs them under bf16 autocast."""
    if quantize and precision != "fp32":
        raise runs.RunError("--quantize int8 and --precision bf16 are two alternatives; choose one")
    kind = runs.read_run(run_dir)["kind"]
    cls = {"bilstm": BiLSTMPredictor, "transformer": TransformerPredictor, "tfidf": TfidfPredictor}.get(kind)
    if cls is None:
        raise runs.RunError(f"{run_dir}: unknown run kind {kind!r}")
    try:
        predictor = cls(run_dir) if batch_size is None else cls(run_dir, batch_size)
        if quantize and kind != "tfidf":
            predictor.quantize(quantize)
        predictor.use_precision(precision)
        return predictor
    except runs.RunError:
        raise
    except Exception as err:  # a truncated or corrupt weights file surfaces as whatever its reader raises
        raise runs.RunError(f"{run_dir}: cannot load the saved model ({type(err).__name__}: {err}); "
                            f"its files may be incomplete or corrupt, so retrain it") from err


def read_items(texts: list[str] | None = None, file: str | None = None, column: str = "text") -> list[Item]:
    """Reviews from arguments, a file (.txt: one a line; .csv / .jsonl: `column`; a folder of .txt), or stdin."""
    if texts:
        return [Item(f"argument {i}", text) for i, text in enumerate(texts, 1)]
    if file is None:
        return list(_read_lines(sys.stdin.buffer, "stdin"))
    path = Path(file)
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    if path.is_dir():
        return [_read_text_file(p) for p in sorted(path.glob("*.txt"))]
    if path.suffix == ".csv":
        return list(_read_csv(path, column))
    if path.suffix in (".jsonl", ".ndjson"):
        return list(_read_jsonl(path, column))
    with open(path, "rb") as handle:
        return list(_read_lines(handle, path.name))


_INVALID_UTF8 = re.compile("[\udc80-\udcff]")


def _decode(raw: bytes, where: str) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, f"{where}: not UTF-8 ({err.reason} at byte {err.start})"


def _read_lines(handle, name: str) -> Iterator[Item]:
    for number, raw in enumerate(handle, 1):
        text, error = _decode(raw.rstrip(b"\r\n"), f"{name} line {number}")
        yield Item(f"{name}:{number}", text, error)


def _read_text_file(path: Path) -> Item:
    text, error = _decode(path.read_bytes(), str(path))
    return Item(path.name, text, error)


def _read_csv(path: Path, column: str, label_column: str | None = None) -> Iterator[Item]:
    # utf-8-sig: spreadsheets often start the file with a BOM, which would otherwise hide the first column's name.
    # surrogateescape keeps invalid bytes visible as lone surrogates, so only the rows holding them fail.
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        for number, row in enumerate(csv.DictReader(handle), 2):
            source = f"{path.name}:{number}"
            label = row.get(label_column) if label_column else None
            if column not in row:
                yield Item(source, None, f"no column {column!r} (columns: {', '.join(row)})", label)
            elif _INVALID_UTF8.search(row[column] or ""):
                yield Item(source, None, f"{path.name} row {number}: not UTF-8", label)
            else:
                yield Item(source, row[column], label=label)


def _read_jsonl(path: Path, column: str, label_column: str | None = None) -> Iterator[Item]:
    with open(path, "rb") as handle:
        for item in _read_lines(handle, path.name):
            if item.error:
                yield item
                continue
            try:
                record = json.loads(item.text)
            except json.JSONDecodeError as err:
                yield Item(item.source, None, f"invalid JSON: {err.msg}")
                continue
            label = record.get(label_column) if label_column and isinstance(record, dict) else None
            if not isinstance(record, dict) or column not in record:
                yield Item(item.source, None, f"no field {column!r}", label)
            else:
                yield Item(item.source, record[column], label=label)


POSITIVE_LABELS, NEGATIVE_LABELS = ("pos", "positive", "1", "true"), ("neg", "negative", "0", "false")


def is_labelled_set(path: str | Path) -> bool:
    """A folder with pos/ and neg/ subfolders, or a .csv / .jsonl file (the aclImdb layout is read by `data`)."""
    path = Path(path)
    if path.is_dir():
        return (path / "pos").is_dir() and (path / "neg").is_dir()
    return path.suffix in (".csv", ".jsonl", ".ndjson")


def read_labelled(path: str | Path, text_column: str = "text", label_column: str = "label") -> tuple[list[Item], list]:
    """(items, labels) of a labelled set: pos/ and neg/ folders of .txt files (one review per file), or a CSV or
    JSONL file with a text and a label column. Labels: pos/neg, positive/negative, 1/0, true/false, in any case.
    An unknown label is an error naming its line; an unreadable review is an Item with an error."""
    from .data import DataError

    path = Path(path)
    if not path.exists():
        raise DataError(f"labelled set not found: {path}")
    if path.is_dir():
        items, labels = [], []
        for label, folder in ((1, "pos"), (0, "neg")):
            files = sorted((path / folder).glob("*.txt"))
            items += [_read_text_file(f) for f in files]
            labels += [label] * len(files)
        for item, label in zip(items, labels):
            item.source = f"{'pos' if label else 'neg'}/{item.source}"
    else:
        read = _read_csv if path.suffix == ".csv" else _read_jsonl
        items = list(read(path, text_column, label_column))
        labels = []
        for item in items:
            raw = item.label
            value = str(raw).strip().lower()
            if value in POSITIVE_LABELS or value in NEGATIVE_LABELS:
                labels.append(int(value in POSITIVE_LABELS))
            elif raw is None and item.error:
                labels.append(None)  # the row itself could not be read; its error says why
            elif raw is None:
                raise DataError(f"{item.source}: no {label_column!r} label (see --label_column)")
            else:
                raise DataError(f"{item.source}: label {raw!r} in column {label_column!r} is not one of "
                                f"{'/'.join(POSITIVE_LABELS)} or {'/'.join(NEGATIVE_LABELS)}")
    if not items:
        raise DataError(f"{path}: no reviews found")
    return items, labels


def evaluate_labelled(run_dir: str | Path, path: str | Path, text_column: str = "text", label_column: str = "label",
                      quantize: str | None = None, seed: int = 0, precision: str = "fp32") -> dict:
    """Accuracy (with a bootstrap interval), F1 and confusion matrix of a run on a labelled set; items that cannot
    be read or scored are counted and named, and the rest are scored."""
    items, labels = read_labelled(path, text_column, label_column)
    predictor = load_predictor(run_dir, quantize=quantize, precision=precision)
    return score_labelled(predictor, items, labels, path, seed)


def score_labelled(predictor: Predictor, items: list[Item], labels: list[int], path: str | Path,
                   seed: int = 0) -> dict:
    """evaluate_labelled's result for a loaded predictor and a set already read by `read_labelled`."""
    results = predictor.predict([item.text if item.error is None else None for item in items], progress=True)
    scored = [(label, r.p_positive) for item, label, r in zip(items, labels, results)
              if item.error is None and r.error is None]
    skipped = [{"source": item.source, "error": item.error or r.error}
               for item, r in zip(items, results) if item.error or r.error]
    if not scored:
        from .data import DataError

        raise DataError(f"{path}: none of its {len(items)} reviews could be scored, e.g. {skipped[0]}")
    y, p = zip(*scored)
    return {**scored_metrics(predictor.name, str(path), y, p, seed), "skipped": skipped}


def predict_items(items: list[Item], predictors: list[Predictor], progress: bool = False) -> list[dict]:
    """One record per item: its source and, per model, a label and P(positive) or an error.

    `probability` repeats `p_positive` for scripts written against 0.1; it goes in the next release."""
    texts = [item.text if item.error is None else None for item in items]
    per_model = {p.name: p.predict(texts, progress=progress) for p in predictors}
    records = []
    for k, item in enumerate(items):
        predictions = {}
        for name, results in per_model.items():
            r = results[k]
            error = item.error or r.error
            p_positive = None if error else round(r.p_positive, 4)
            predictions[name] = {"error": error} if error else {
                "label": r.label, "p_positive": p_positive, "truncated": r.truncated, "probability": p_positive}
        records.append({"source": item.source, "predictions": predictions})
    return records


def test_scores(predictor: Predictor, test) -> np.ndarray:
    """P(positive) per test review: the scores the run saved when its training ended, or, for a run without them
    (or one tested on other reviews), scored now; saved for next time when the run was tested on these reviews."""
    fingerprint = test.fingerprint()
    saved = None if predictor.changed else runs.read_test_probabilities(predictor.run_dir, fingerprint)
    if saved is not None:
        return saved
    probs = np.array([r.p_positive for r in predictor.predict(test.texts, progress=True)])
    if not predictor.changed and runs.tested_on(predictor.run_dir, fingerprint):
        runs.write_test_probabilities(predictor.run_dir, probs)
    return probs


def evaluate_run(run_dir: str | Path, split: str = "test", data: str | None = None,
                 quantize: str | None = None, precision: str = "fp32") -> dict:
    """Metrics of a saved run on the split it was trained with (or the same split of another copy of the data)."""
    from .data import DataError, splits_for

    predictor = load_predictor(run_dir, quantize=quantize, precision=precision)
    reviews = splits_for(predictor.cfg, data)[split]
    results = predictor.predict(reviews.texts, progress=True)
    bad = [(review_id, r.error) for review_id, r in zip(reviews.ids, results) if r.error]
    if bad:
        raise DataError(f"{len(bad)} {split} reviews cannot be scored, e.g. {bad[0][0]}: {bad[0][1]}")
    return scored_metrics(predictor.name, f"{split} split", reviews.labels, [r.p_positive for r in results])


def scored_metrics(name: str, data: str, labels, p_positive, seed: int = 0) -> dict:
    from .evaluation import metrics_with_interval

    return {"run": name, "data": data, **metrics_with_interval(labels, p_positive, seed)}


def summary(result: dict) -> str:
    """One evaluation in a few readable lines."""
    low, high = result["accuracy_ci95"]
    c = result["confusion"]
    lines = [f"{result['run']} on {result['data']}: accuracy {result['accuracy']:.2%} (95% CI {low:.2%}-{high:.2%}) "
             f"over {result['n']:,} reviews, F1 {result['f1']:.3f}",
             f"  confusion: {c['tp']:,} true positive, {c['fn']:,} false negative, {c['tn']:,} true negative, "
             f"{c['fp']:,} false positive"]
    skipped = result.get("skipped") or []
    if skipped:
        lines.append(f"  {len(skipped)} reviews not scored, e.g. {skipped[0]['source']}: {skipped[0]['error']}")
    return "\n".join(lines)
