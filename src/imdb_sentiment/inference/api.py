"""The Python API: load a saved model, label reviews, score a labelled set.

>>> from imdb_sentiment import load
>>> model = load("builtin")
>>> [p.label for p in model.predict(["A moving, beautifully acted film.", "Dull, and far too long."])]
['positive', 'negative']
>>> model.predict([""])[0].error
'empty review'
>>> result = model.evaluate("examples/reviews.csv", text_column="review", label_column="sentiment")
>>> result["n"], result["accuracy"] >= 0.75
(12, True)

`load` takes the built-in model ("builtin") or any run folder that `imdb-sentiment train` wrote, of any kind.
"""

from __future__ import annotations

from pathlib import Path

from imdb_sentiment.inference.evaluate import score_labelled
from imdb_sentiment.inference.io import read_labelled
from imdb_sentiment.inference.predictors import Prediction, Predictor, load_predictor

__all__ = ["Model", "Prediction", "load"]


class Model:
    """A loaded model: `predict` labels reviews, `evaluate` scores a labelled set."""

    def __init__(self, predictor: Predictor):
        self._predictor = predictor

    @property
    def name(self) -> str:
        """The run's folder name, with -int8 or -bf16 where it runs so."""
        return self._predictor.name

    @property
    def kind(self) -> str:
        """"bilstm", "transformer" or "tfidf"."""
        return self._predictor.kind

    def predict(self, texts: list[str], progress: bool = False) -> list[Prediction]:
        """One Prediction per review, in order: its label and P(positive), or, for a review that is empty or not
        text, an error (the other reviews are still labelled)."""
        if isinstance(texts, str):
            raise TypeError("predict takes a list of reviews; wrap a single review in a list: predict([review])")
        return self._predictor.predict(list(texts), progress)

    def evaluate(self, path: str | Path, text_column: str = "text", label_column: str = "label",
                 seed: int = 0) -> dict:
        """Accuracy (with a 95% bootstrap interval), precision, recall, F1, ROC-AUC and the confusion matrix on a
        labelled set: a .csv or .jsonl file with a text and a label column (pos/neg, positive/negative, 1/0,
        true/false), or a folder with pos/ and neg/ subfolders of .txt files. Reviews that cannot be read or
        scored are listed under "skipped"."""
        items, labels = read_labelled(path, text_column, label_column)
        return score_labelled(self._predictor, items, labels, path, seed)

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, kind={self.kind!r})"


def load(run: str | Path = "builtin", quantize: str | None = None, precision: str = "fp32",
         batch_size: int | None = None, trust_pickles: bool = False, min_confidence: float | None = None) -> Model:
    """The model saved in `run` (a run folder, or "builtin" for the model shipped with the package).

    `quantize="int8"` runs BiLSTM and Transformer models in int8 on OpenVINO (`pip install
    'imdb-sentiment[int8]'`); `precision="bf16"` runs them under bf16 autocast (CPUs with AVX-512 BF16 or AMX).
    A missing, unfinished or corrupt run raises `imdb_sentiment.core.runs.RunError` saying which. `trust_pickles`
    loads a TF-IDF run saved before 0.2 as a pickle, which can run any code: only for runs you made yourself.
    `min_confidence` labels a review "uncertain" when the probability of its label is below it (abstention)."""
    return Model(load_predictor(run, batch_size, quantize, precision, trust_pickles, min_confidence))
