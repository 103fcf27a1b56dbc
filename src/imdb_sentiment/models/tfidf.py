"""Linear baselines on n-gram features: TF-IDF logistic regression, and NB-SVM (Wang & Manning, 2012) in its
logistic-regression form: binary uni+bigram features scaled by Naive Bayes log-count ratios.

A fitted pipeline is saved as data only, never as a pickle: `model.json` (variant, n-gram settings, vocabulary) and
`model.safetensors` (idf or NB ratios, coefficients). Run folders are shared, and unpickling one runs whatever code
it holds; runs from before this format (`model.joblib`) load only with `trust_pickles=True` (docs/usage.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from imdb_sentiment.core import runs
from imdb_sentiment.core.config import TfidfConfig
from imdb_sentiment.core.text import tokenize

SETTINGS, WEIGHTS, PICKLE = "model.json", "model.safetensors", "model.joblib"


class NBFeatures(BaseEstimator, TransformerMixin):
    """Scale each feature by log((p / |p|) / (q / |q|)), p and q its smoothed counts in positive and negative
    reviews: the Naive Bayes evidence a linear model then reweights."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y):
        y = np.asarray(y)
        p = self.alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
        self.ratios_ = np.log((p / p.sum()) / (q / q.sum()))
        return self

    def transform(self, X):
        return sparse.csr_matrix(X).multiply(self.ratios_).tocsr()


def build_pipeline(variant: str, ngram_max: int, min_df: int, C: float, seed: int) -> Pipeline:
    classifier = LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=seed)
    vectorizer = _vectorizer(variant, ngram_max, min_df)
    if variant == "nbsvm":
        return Pipeline([("counts", vectorizer), ("nb", NBFeatures()), ("classifier", classifier)])
    return Pipeline([("tfidf", vectorizer), ("classifier", classifier)])


def out_of_fold_margins(variant: str, ngram_max: int, min_df: int, C: float, seed: int, texts: list[str], labels,
                        folds: int = 5) -> np.ndarray:
    """Each review's margin from the pipeline fitted on the other folds, as scikit-learn's CalibratedClassifierCV
    (ensemble=False) gets them: a calibration fitted on these sees every training review as unseen, 22,500 of them
    instead of the validation split's 2,500, for five fits of seconds each."""
    from sklearn.model_selection import StratifiedKFold
    from tqdm.auto import tqdm

    labels, margins = np.asarray(labels), np.empty(len(texts))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)
    for fitted, held in tqdm(list(split), desc="out-of-fold fits", unit="fold"):
        pipeline = build_pipeline(variant, ngram_max, min_df, C, seed)
        pipeline.fit([texts[i] for i in fitted], labels[fitted])
        margins[held] = pipeline.decision_function([texts[i] for i in held])
    return margins


def _vectorizer(variant: str, ngram_max: int, min_df: int = 1, vocabulary: dict | None = None):
    ngrams = {"tokenizer": tokenize, "lowercase": False, "token_pattern": None, "ngram_range": (1, ngram_max),
              "min_df": min_df, "vocabulary": vocabulary}
    if variant == "nbsvm":
        return CountVectorizer(binary=True, **ngrams)
    return TfidfVectorizer(sublinear_tf=True, **ngrams)


def save_pipeline(pipeline: Pipeline, variant: str, ngram_max: int, run_dir: Path) -> None:
    """The fitted pipeline as JSON and safetensors: nothing in either can run code when read back."""
    vectorizer, classifier = pipeline[0], pipeline[-1]
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)  # n-grams in column order
    scale = pipeline.named_steps["nb"].ratios_ if variant == "nbsvm" else vectorizer.idf_
    tensors = {"scale": np.ascontiguousarray(scale, dtype=np.float64),
               "coef": np.ascontiguousarray(classifier.coef_.ravel(), dtype=np.float64),
               "intercept": np.asarray(classifier.intercept_, dtype=np.float64)}
    with runs.atomic_path(run_dir / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    runs.write_json(run_dir / SETTINGS, {"variant": variant, "ngram_max": ngram_max, "vocabulary": vocabulary,
                                        "classes": [int(c) for c in classifier.classes_]})


def load_pipeline(run_dir: Path) -> Pipeline:
    try:
        settings = json.loads((run_dir / SETTINGS).read_text())
        tensors = load_file(str(run_dir / WEIGHTS))
        variant, vocabulary = settings["variant"], settings["vocabulary"]
        if not (len(vocabulary) == len(tensors["scale"]) == len(tensors["coef"])):
            raise ValueError(f"{len(vocabulary)} n-grams but {len(tensors['scale'])} scales and "
                             f"{len(tensors['coef'])} coefficients")
        vectorizer = _vectorizer(variant, int(settings["ngram_max"]),
                                 vocabulary={gram: i for i, gram in enumerate(vocabulary)})
        classifier = LogisticRegression()
        classifier.classes_ = np.asarray(settings["classes"])
        classifier.coef_ = tensors["coef"][None, :]
        classifier.intercept_ = tensors["intercept"]
        if variant == "nbsvm":
            nb = NBFeatures()
            nb.ratios_ = tensors["scale"]
            return Pipeline([("counts", vectorizer), ("nb", nb), ("classifier", classifier)])
        vectorizer.idf_ = tensors["scale"]
        return Pipeline([("tfidf", vectorizer), ("classifier", classifier)])
    except (OSError, KeyError, TypeError, ValueError, SafetensorError) as err:
        raise runs.RunError(f"{run_dir}: its TF-IDF model files are missing or corrupt ({type(err).__name__}: "
                            f"{err}); retrain it") from err


def load_tfidf_run(run_dir: str | Path, trust_pickles: bool = False):
    """(pipeline, config) of a finished TF-IDF run. A pickled pipeline (`model.joblib`, written before 0.2) is
    read only with `trust_pickles`: unpickling runs any code the file holds."""
    run_dir = runs.resolve(run_dir)
    if not (run_dir / SETTINGS).exists() and (run_dir / PICKLE).exists():
        if not trust_pickles:
            raise runs.RunError(f"{run_dir} holds a pickled model ({PICKLE}), which can run any code when loaded; "
                                f"retrain it, or pass --trust_pickles if you made it yourself")
        import joblib

        return joblib.load(run_dir / PICKLE), runs.load_run_config(run_dir, "tfidf", TfidfConfig, PICKLE)
    cfg = runs.load_run_config(run_dir, "tfidf", TfidfConfig, WEIGHTS)
    return load_pipeline(run_dir), cfg
