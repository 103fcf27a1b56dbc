"""One predictor interface over every kind of saved run.

    predictor = load_predictor("runs/bilstm-glove")
    predictor.predict(["A moving, beautifully acted film.", ""])
    # [Prediction(label='positive', p_positive=0.97, truncated=False, error=None),
    #  Prediction(label=None, p_positive=None, truncated=False, error='empty review')]

Reviews are cleaned and truncated exactly as in training. A bad item gets its own error; the rest still run.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.text import LONG_TEXT, clip
from imdb_sentiment.inference.calibration import Calibration, read_calibration

LABELS = ("negative", "positive")
UNCERTAIN = "uncertain"  # the label of a review below --min_confidence


@dataclass
class Prediction:
    label: str | None
    p_positive: float | None  # P(positive), whichever label was chosen; calibrated where the run has a calibration
    truncated: bool = False  # the review was longer than the model reads
    error: str | None = None
    margin: float | None = None  # the model's raw logit for positive against negative, before any calibration


def validate(text: object) -> str | None:
    if not isinstance(text, str):
        return f"not text (got {type(text).__name__})"
    if not text.strip():
        return "empty review"
    return None


class Predictor:
    """Base: validates items, batches the good ones by length, and maps probabilities back."""

    kind: str
    calibration = Calibration()  # fitted on the run's validation split (inference/calibration.py)
    min_confidence: float | None = None  # below it, the label is "uncertain" (abstention)
    long_text = "truncate"  # or "windows" / "windows_max": read all of a long review (LONG_TEXT)

    def __init__(self, run_dir: str | Path, batch_size: int = 64):
        self.run_dir = runs.resolve(run_dir)
        self.name = self.run_dir.name
        self.batch_size = batch_size
        self.quantized: str | None = None
        self.precision = "fp32"
        self.calibration = read_calibration(self.run_dir)

    def use_precision(self, precision: str) -> None:
        """Run the model under bf16 autocast (weights stay fp32): faster on CPUs with native bf16 instructions."""
        if precision == "fp32":
            return
        if precision != "bf16" or self.kind == "tfidf":
            raise runs.RunError(f"{self.name}: --precision {precision} applies to BiLSTM and Transformer runs "
                                f"(bf16 or fp32)")
        if next(self.model.parameters()).device.type == "cpu":
            hardware.require_cpu_bf16()  # refuses a CPU that would only emulate bf16
        self.precision = precision
        self.name += f"-{precision}"

    @property
    def changed(self) -> bool:
        """Whether it scores differently from the trained model (int8 or bf16), so its scores are never the run's."""
        return bool(self.variant)

    @property
    def variant(self) -> str:
        """"" as trained, else the form it scores in ("int8", "bf16"), which names its saved test scores."""
        return self.quantized or ("" if self.precision == "fp32" else self.precision)

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
        clipped = [clip(texts[i]) for i in good]
        if self.long_text == "truncate" or self.kind == "tfidf":  # n-gram counts read the whole review anyway
            ids, truncated = self._encode(clipped)
            margins = self.in_length_order(ids, self._margins, progress, f"predict {self.name}")
        else:
            margins, truncated = self._window_margins(clipped, progress), [False] * len(clipped)
        probs = self.calibration.p_positive(margins)
        for k, i in enumerate(good):
            cut = bool(truncated[k]) or len(clipped[k]) < len(texts[i])
            label = LABELS[int(margins[k] >= 0)]
            if self.min_confidence and max(probs[k], 1 - probs[k]) < self.min_confidence:
                label = UNCERTAIN
            results[i] = Prediction(label, float(probs[k]), cut, margin=float(margins[k]))
        return results

    def _window_margins(self, texts: list[str], progress: bool) -> np.ndarray:
        """Each review read whole, in overlapping windows of the length the model was trained on: the mean of the
        windows' margins ("windows"), or the margin of the window most sure of itself ("windows_max")."""
        per_review = self._encode_windows(texts)
        flat = [w for review in per_review for w in review]
        scores = self.in_length_order(flat, self._margins, progress, f"predict {self.name} (windows)")
        bounds = np.cumsum([0] + [len(review) for review in per_review])
        pick = (lambda s: s.mean()) if self.long_text == "windows" else (lambda s: s[np.argmax(np.abs(s))])
        return np.array([pick(scores[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])

    def _encode_windows(self, texts: list[str]) -> list[list[list[int]]]:
        raise runs.RunError(f"{self.name}: --long_text windows applies to BiLSTM and Transformer runs")

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

    def margins(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """The raw margin (logit of positive against negative) of each review, which must be text."""
        return self.in_length_order(self._encode([clip(t) for t in texts])[0], self._margins, progress)

    def _margins(self, batch_ids: list[list[int]]) -> np.ndarray:
        raise NotImplementedError


PAD_MULTIPLE = 16


class BiLSTMPredictor(Predictor):
    kind = "bilstm"

    def __init__(self, run_dir, batch_size: int = 64):
        from imdb_sentiment.models.bilstm import load_bilstm_run

        super().__init__(run_dir, batch_size)
        self.model, self.vocab, self.cfg = load_bilstm_run(run_dir)

    def _quantize_int8(self):
        from imdb_sentiment.inference.quantize import bilstm_int8

        self.int8 = bilstm_int8(self.model, self.run_dir)

    def _encode(self, texts):
        from imdb_sentiment.models.batches import encode_review

        encoded = [encode_review(text, self.vocab, self.cfg.model.max_length, self.cfg.model.truncation)
                   for text in texts]
        return [ids for ids, _ in encoded], [cut for _, cut in encoded]

    def _encode_windows(self, texts):
        from imdb_sentiment.core.text import UNK_ID, tokenize, windows

        return [windows(self.vocab.encode(tokenize(text)) or [UNK_ID], self.cfg.model.max_length) for text in texts]

    def _margins(self, batch_ids):
        from imdb_sentiment.models.batches import pad_collate

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
            return model(batch["input_ids"], batch["lengths"]).float().numpy()


class TransformerPredictor(Predictor):
    kind = "transformer"

    def __init__(self, run_dir, batch_size: int = 32):
        from imdb_sentiment.models.transformer import load_transformer_run, make_collator

        super().__init__(run_dir, batch_size)
        self.model, self.tokenizer, self.cfg = load_transformer_run(run_dir)
        self.collate = make_collator(self.tokenizer, self.cfg.model.padding, self.cfg.model.max_length)

    def _quantize_int8(self):
        from imdb_sentiment.inference.quantize import transformer_int8

        self.int8 = transformer_int8(self.model, self.run_dir, self._calibration_batches)

    def _calibration_batches(self):
        """Training reviews of the run's own dataset, in length order: what sets the int8 activation scales."""
        from imdb_sentiment.core.data import DataError, splits_for, stratified_sample
        from imdb_sentiment.inference.quantize import CALIBRATION_REVIEWS

        try:
            reviews = stratified_sample(splits_for(self.cfg)["train"], CALIBRATION_REVIEWS, 0)
        except DataError as err:
            raise runs.RunError(f"{self.name}: int8 calibrates once on {CALIBRATION_REVIEWS} training reviews and "
                                f"caches the result in the run directory, but the dataset is not readable: {err}")
        ids = sorted(self._encode(reviews.texts)[0], key=len)
        for start in range(0, len(ids), 32):
            yield self.collate([{"input_ids": x} for x in ids[start:start + 32]])

    def _encode(self, texts):
        from imdb_sentiment.models.transformer import encode

        m = self.cfg.model
        encoded = encode(self.tokenizer, texts, m.max_length, m.truncation, m.head_tokens)
        return encoded["input_ids"], encoded["truncated"]

    def _encode_windows(self, texts):
        from imdb_sentiment.core.text import windows
        from imdb_sentiment.models.transformer import split_specials

        room = self.cfg.model.max_length
        return [[lead + window + trail for window in windows(content, room - len(lead) - len(trail))]
                for lead, content, trail in split_specials(self.tokenizer, texts)]

    def logits(self, batch_ids) -> np.ndarray:
        batch = self.collate([{"input_ids": x} for x in batch_ids])
        if self.quantized:
            return self.int8(batch["input_ids"], batch["attention_mask"]).numpy()
        with self.autocast():
            return self.model(**batch).logits.float().numpy()

    def _margins(self, batch_ids):
        logits = self.logits(batch_ids)
        return logits[:, 1] - logits[:, 0]  # softmax's P(positive) is sigmoid of this


class TfidfPredictor(Predictor):
    kind = "tfidf"

    def __init__(self, run_dir, batch_size: int = 1024, trust_pickles: bool = False):
        from imdb_sentiment.models.tfidf import load_tfidf_run

        super().__init__(run_dir, batch_size)
        self.pipeline, self.cfg = load_tfidf_run(run_dir, trust_pickles)

    def _encode(self, texts):
        return list(texts), [False] * len(texts)  # n-gram counts read the whole review

    def _margins(self, batch_texts):
        return self.pipeline.decision_function(batch_texts)  # predict_proba is sigmoid of this


def load_predictor(run_dir: str | Path, batch_size: int | None = None, quantize: str | None = None,
                   precision: str = "fp32", trust_pickles: bool = False, min_confidence: float | None = None,
                   long_text: str = "truncate") -> Predictor:
    """The predictor of a saved run; `quantize="int8"` gives BiLSTM and Transformer runs int8 weights (TF-IDF runs,
    already small linear models, are left as they are); `precision="bf16"` runs them under bf16 autocast.
    `trust_pickles` lets a TF-IDF run from before 0.2 load its pickled model, which can run any code."""
    if quantize and precision != "fp32":
        raise runs.RunError("--quantize int8 and --precision bf16 are two alternatives; choose one")
    if quantize not in (None, "int8", "auto"):
        raise runs.RunError(f"unknown quantization {quantize!r}; use int8 or auto")
    kind = runs.read_run(run_dir)["kind"]
    cls = {"bilstm": BiLSTMPredictor, "transformer": TransformerPredictor, "tfidf": TfidfPredictor}.get(kind)
    if cls is None:
        raise runs.RunError(f"{run_dir}: unknown run kind {kind!r}")
    try:
        options = {"trust_pickles": trust_pickles} if kind == "tfidf" else {}
        predictor = cls(run_dir, **options) if batch_size is None else cls(run_dir, batch_size, **options)
        if quantize == "auto":
            quantize = auto_quantization(kind)
        if quantize and kind != "tfidf":
            predictor.quantize(quantize)
        predictor.use_precision(precision)
        if min_confidence is not None and not 0.5 <= min_confidence <= 1:
            raise runs.RunError(f"--min_confidence is a probability between 0.5 and 1, got {min_confidence}")
        predictor.min_confidence = min_confidence
        if long_text not in LONG_TEXT:
            raise runs.RunError(f"--long_text must be one of {', '.join(LONG_TEXT)}, got {long_text!r}")
        predictor.long_text = long_text
        return predictor
    except runs.RunError:
        raise
    except Exception as err:  # a truncated or corrupt weights file surfaces as whatever its reader raises
        raise runs.RunError(f"{run_dir}: cannot load the saved model ({type(err).__name__}: {err}); "
                            f"its files may be incomplete or corrupt, so retrain it") from err


def auto_quantization(kind: str) -> str | None:
    """What `--quantize auto` picks for a run of `kind` on this CPU: int8 where it was measured to pay. The BiLSTM's
    int8 LSTM is faster on any x86 CPU with AVX2 (2.30x fp32 with AVX-512 VNNI, 1.42x without); the Transformer's
    int8 matrix products need VNNI or AMX (3.61x with AVX-512 VNNI, 0.98x on AVX2 alone). Without the int8 runtime
    installed, nothing."""
    import importlib.util

    features = hardware.cpu_features()
    if importlib.util.find_spec("openvino") is None or "avx2" not in features:
        return None
    if kind == "bilstm" or (kind == "transformer" and {"avx512_vnni", "amx_int8"} & set(features)):
        return "int8"
    return None


def teacher_logits(run_dir: str | Path, texts: list[str], batch_size: int = 64, progress: bool = True,
                   precision: str = "fp32") -> np.ndarray:
    """(N, 2) logits of a Transformer run, computed in length-sorted batches (little padding), in `texts`' order."""
    if not texts:  # a student without augmented copies; tokenizers fail on an empty batch
        return np.empty((0, 2), dtype=np.float32)
    teacher = TransformerPredictor(run_dir, batch_size)
    if precision == "int8":
        teacher.quantize("int8")
    else:
        teacher.use_precision(precision)  # its logits then run under bf16 autocast
    ids, _ = teacher._encode(texts)
    return teacher.in_length_order(ids, teacher.logits, progress, "teacher").astype(np.float32)
