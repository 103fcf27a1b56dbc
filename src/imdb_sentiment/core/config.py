"""Typed run configuration: dataclasses with defaults, read from TOML files in configs/, overridable by CLI flags.

A config file has one table per section ([data], [model], [train]); every field is also a CLI flag of the same
name (`--batch_size 32`), which wins over the file. core/fields.py holds the machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imdb_sentiment.core.fields import Section, arg

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


SEED = {"help": "random seed: weights, data order, and the validation split and subsets", "ge": 0, "le": 2**32 - 1}
THREADS = "torch CPU threads (default: torch's choice)"
KEEP = "keep the last checkpoint when the run finishes (it lets --resume extend the run; else it is deleted)"
RESUME = ("continue output_dir from its last checkpoint (a run stopped before its first checkpoint starts over "
          "in place)")


@dataclass
class DataArgs(Section):
    data: str | None = arg(None, "aclImdb folder or tarball, or hf:stanfordnlp/imdb (default: $IMDB_SENTIMENT_DATA)")
    val_fraction: float = arg(0.1, "share of train held out (stratified, seeded) to select models; never the "
                                   "test set", gt=0, lt=1)
    max_train_samples: int | None = arg(None, "train on a stratified subset of this many reviews (quick runs)",
                                        ge=2)
    max_eval_samples: int | None = arg(None, "validate and test on stratified subsets of this many reviews", ge=2)
    allow_partial_dataset: bool = arg(False, "accept class counts other than the official 12,500")
    augment_pairs: str | None = arg(None, "counterfactual pairs (Kaushik et al.'s train_paired.tsv) added to the "
                                          "training reviews; pairs in the validation or test split are left out")
    augment_repeat: int = arg(1, "times each pair is added (a weight on the pairs)", ge=1)


@dataclass
class BiLSTMArgs(Section):
    variant: str = arg("glove", "the name reported for this run")
    embeddings: str = arg("glove", "pretrained GloVe rows, or random ones", choices=("glove", "random"))
    glove_path: str | None = arg(None, "Stanford glove.*.txt or .zip (default: the packaged glove.6B 50d)")
    freeze_embeddings: bool = arg(False, "keep the embeddings fixed during training")
    embedding_dim: int = arg(50, "size of random embeddings (GloVe sets its own)", ge=1)
    hidden_size: int = arg(256, "LSTM units per direction", ge=1)
    num_layers: int = arg(1, "stacked LSTM layers", ge=1)
    dropout: float = arg(0.5, "dropout before the output layer", ge=0, lt=1)
    pooling: str = arg("max", "masked max over time, or each direction's last real state",
                       choices=("max", "final"))
    encoder: str = arg("padded_exact", "padded_exact (fast on a CPU), packed (use on CUDA), or naive (reads the "
                                       "padding: the lesson)", choices=("padded_exact", "packed", "naive"))
    vocab_size: int = arg(25_000, "most frequent training words kept, plus <pad> and <unk>", ge=1)
    max_length: int = arg(256, "tokens kept per review", ge=1)
    truncation: str = arg("head_tail", "head_tail keeps the first quarter and the rest from the end (long "
                                       "reviews end on their verdict); head keeps the start",
                          choices=("head", "head_tail"))
    pad_to_max_length: bool = arg(False, "pad every batch to max_length (the naive pipeline) instead of its longest")


@dataclass
class BiLSTMTrainArgs(Section):
    output_dir: str = arg("runs/bilstm-glove", "run directory to write")
    seed: int = arg(42, **SEED)
    batch_size: int = arg(64, "training batch size", ge=1)
    eval_batch_size: int = arg(256, "validation and test batch size", ge=1)
    learning_rate: float = arg(1e-3, "Adam learning rate", ge=0)
    weight_decay: float = arg(0.0, "Adam weight decay", ge=0)
    max_epochs: int = arg(15, "epoch cap", ge=1)
    patience: int = arg(3, "epochs without a better validation accuracy before stopping", ge=1)
    max_grad_norm: float = arg(1.0, "gradient clipping norm (0: no clipping)", ge=0)
    bucket_batches: int = arg(50, "batches drawn from each length-sorted pool (0: no length bucketing)", ge=0)
    resume: bool = arg(False, RESUME)
    keep_checkpoints: bool = arg(False, KEEP)
    num_threads: int | None = arg(None, THREADS, ge=1)
    precision: str = arg("fp32", "fp32, or bf16 autocast over fp32 weights (on a CPU only with AVX-512 BF16 or AMX)",
                         choices=("fp32", "bf16"))


@dataclass
class DistillArgs(Section):
    """Learning from a fine-tuned Transformer's logits (Tang et al. 2019) instead of, or beside, the hard labels."""

    teacher: str | None = arg(None, "Transformer run directory the student learns from (default: none, hard labels "
                                    "only)")
    logits_cache: str | None = arg(None, "the teacher's cached logits (.npz): read if present and made for these "
                                         "reviews, else computed with the teacher and written there (default: "
                                         "<output_dir>/teacher_logits.npz when a teacher is given)")
    alpha: float = arg(0.0, "weight of the hard-label loss on the original reviews; the teacher's loss gets "
                            "1 - alpha (augmented copies have only the teacher's)", ge=0, le=1)
    loss: str = arg("mse", "mse between student and teacher logits (Tang et al.), or kl between their "
                           "temperature-softened probabilities", choices=("mse", "kl"))
    temperature: float = arg(1.0, "softening temperature of the kl loss", gt=0)
    teacher_precision: str = arg("fp32", "precision the teacher labels in: fp32, bf16 autocast (faster on CPUs "
                                         "with native bf16; quick runs use it there), or int8 (OpenVINO, for a "
                                         "teacher as slow as MPNet-base)", choices=("fp32", "bf16", "int8"))
    augment_copies: int = arg(0, "augmented copies of each training review, labelled by the teacher only "
                                 "(masking and n-gram sampling; see imdb_sentiment.training.distill)", ge=0)
    augment_sentences: int = arg(0, "one-sentence copies of each training review (a negated sentence where it has "
                                    "one), labelled by the teacher only", ge=0)

    @property
    def enabled(self) -> bool:
        """Whether the student learns from a teacher: one named, or its cached logits."""
        return bool(self.teacher or self.logits_cache)


@dataclass
class BiLSTMConfig:
    data: DataArgs = field(default_factory=DataArgs)
    model: BiLSTMArgs = field(default_factory=BiLSTMArgs)
    train: BiLSTMTrainArgs = field(default_factory=BiLSTMTrainArgs)
    distill: DistillArgs = field(default_factory=DistillArgs)


@dataclass
class TransformerArgs(Section):
    model_name: str = arg("distilbert-base-uncased", "Hub id, local directory, or minilm-l6 (packaged, offline)")
    max_length: int = arg(512, "tokens per review, special tokens included", ge=4)
    truncation: str = arg("head", "head, or head_tail (first head_tokens and the rest from the end)",
                          choices=("head", "head_tail"))
    head_tokens: int = arg(128, "tokens kept from the start with head_tail", ge=0)
    padding: str = arg("dynamic", "pad each batch to its longest, or every batch to max_length",
                       choices=("dynamic", "max_length"))


@dataclass
class TransformerTrainArgs(Section):
    output_dir: str = arg("runs/transformer", "run directory to write")
    seed: int = arg(42, **SEED)
    batch_size: int = arg(32, "training batch size per device", ge=1)
    eval_batch_size: int = arg(64, "validation and test batch size per device", ge=1)
    learning_rate: float = arg(2e-5, "AdamW peak learning rate", ge=0)
    weight_decay: float = arg(0.01, "AdamW weight decay", ge=0)
    warmup_ratio: float = arg(0.0, "fraction of all steps spent warming up the learning rate", ge=0, lt=1)
    num_epochs: float = arg(3.0, "epochs (a fraction ends mid-epoch)", gt=0)
    max_steps: int = arg(-1, "stop after this many optimizer steps when positive (quick runs)", ge=-1)
    patience: int = arg(2, "epochs without a better validation accuracy before stopping", ge=1)
    gradient_accumulation_steps: int = arg(1, "batches per optimizer step", ge=1)
    group_by_length: bool = arg(True, "batches of similar length, so dynamic padding wastes little")
    precision: str = arg("auto", "auto (GPU: bf16 or fp16 where it has it; CPU: fp32), fp32, bf16 (autocast; a "
                                 "CPU needs AVX-512 BF16 or AMX), fp16 (GPU)", choices=PRECISIONS)
    dataloader_num_workers: int = arg(0, "DataLoader worker processes", ge=0)
    resume: bool = arg(False, RESUME)
    keep_checkpoints: bool = arg(False, KEEP)
    save_steps: int = arg(0, "also checkpoint every this many optimizer steps (0: at epoch ends only)", ge=0)
    num_threads: int | None = arg(None, THREADS, ge=1)
    score_test: bool = arg(True, "score the test set when training ends (false: later, with `evaluate RUN`)")


@dataclass
class TransformerConfig:
    data: DataArgs = field(default_factory=DataArgs)
    model: TransformerArgs = field(default_factory=TransformerArgs)
    train: TransformerTrainArgs = field(default_factory=TransformerTrainArgs)


@dataclass
class TfidfArgs(Section):
    variant: str = arg("logreg", "logreg (TF-IDF, sublinear tf) or nbsvm (binary counts x NB log-count ratios)",
                       choices=("logreg", "nbsvm"))
    ngram_max: int = arg(2, "longest n-gram (2: uni+bigrams)", ge=1)
    min_df: int = arg(2, "n-grams in fewer training reviews are dropped", ge=1)
    # Sublinear TF-IDF on uni+bigrams wants little regularisation (large C).
    C: list[float] = arg(help="inverse regularisation strengths tried in turn; validation picks", gt=0,
                         factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0])


@dataclass
class TfidfTrainArgs(Section):
    output_dir: str = arg("runs/tfidf-logreg", "run directory to write")
    seed: int = arg(42, **SEED)


@dataclass
class TfidfConfig:
    data: DataArgs = field(default_factory=DataArgs)
    model: TfidfArgs = field(default_factory=TfidfArgs)
    train: TfidfTrainArgs = field(default_factory=TfidfTrainArgs)


@dataclass
class CompareArgs(Section):
    configs: list[str] = arg(help="model configs; each one's output_dir is the run compared", factory=lambda: [
        "configs/tfidf_logreg.toml", "configs/tfidf_nbsvm.toml",
        "configs/bilstm_scratch.toml", "configs/bilstm_scratch_head_tail.toml",
        "configs/bilstm_glove.toml", "configs/bilstm_glove_head_tail.toml",
        "configs/bilstm_glove_frozen.toml", "configs/bilstm_glove_frozen_head_tail.toml",
        "configs/bilstm_naive.toml", "configs/bilstm_naive_head_tail.toml",
        "configs/minilm_l6.toml", "configs/bilstm_distilled.toml", "configs/bilstm_distilled_noaug.toml"])
    data: str | None = arg(None, "aclImdb folder or tarball (default: each config's own, then $IMDB_SENTIMENT_DATA)")
    output_dir: str = arg("results", "where report.md, report.html, metrics.json and the plots go")
    quick: bool = arg(False, "retrain everything on a subset with small settings, into quick_runs_dir")
    quick_runs_dir: str = arg("runs/quick", "run directories of --quick")
    quick_output_dir: str = arg("runs/quick/report", "report of --quick")
    full_results: list[str] = arg(help="full reports' metrics.json files whose accuracies a --quick report shows "
                                       "beside its own (a model's first listing wins), or NAME=FILE for one run's "
                                       "metrics.json",
                                  factory=lambda: ["results/metrics.json", "results/distill/metrics.json",
                                                   *(f"bilstm-{v}=results/bilstm/{v}/metrics.json"
                                                     for v in ("scratch", "glove", "glove_frozen", "naive")),
                                                   "minilm-l6=results/transformer/minilm-l6/metrics.json"])
    train_missing: bool = arg(True, "train a listed model whose run is missing (resuming an interrupted one)")
    from_saved: bool = arg(False, "write the report in output_dir again from its metrics.json and saved test scores, "
                                  "without the runs (speeds and other-data scores as measured then)")
    add: list[str] | None = arg(None, "with from_saved: run directories to score, time here and add to the saved "
                                      "report (in int8 with quantize), its other runs not needed")
    batch_size: int = arg(64, "batch size for the throughput measurement", ge=1)
    throughput_reviews: int = arg(2000, "random test reviews timed in batches for throughput", ge=1)
    latency_reviews: int = arg(100, "of those, timed one at a time for latency percentiles", ge=1)
    quantize: str | None = arg(None, "score and time BiLSTM and Transformer runs in int8",
                               choices=("int8",))
    extra_eval: list[str] | None = arg(None, "other labelled sets every model is also scored on (a folder of pos/ "
                                             "and neg/ .txt files, or a .csv / .jsonl with text and label columns): "
                                             "the report's other-data table")
    pairs: str | None = arg(None, "counterfactual pairs (Kaushik et al.'s dev_paired.tsv) every scored model is "
                                  "also evaluated on: the report's counterfactual section")
    pair_results: list[str] | None = arg(None, "MODEL=FILE: a model's paired evaluation saved by `evaluate RUN --data "
                                               "PAIRS --json`, for models whose runs are not here")


@dataclass
class CompareConfig:
    compare: CompareArgs = field(default_factory=CompareArgs)


@dataclass
class CurvesArgs(Section):
    configs: list[str] = arg(help="model configs, one curve each (named by the file's stem)", factory=lambda: [
        "configs/tfidf_nbsvm.toml", "configs/tfidf_logreg.toml", "configs/bilstm_scratch_head_tail.toml",
        "configs/bilstm_glove_head_tail.toml", "configs/minilm_l6_bf16.toml"])
    full_runs: list[str] | None = arg(None, "CONFIG=DIR pairs: the finished full run (or its committed results) "
                                            "whose test scores stand in for CONFIG's point at 25,000 reviews")
    only: list[str] | None = arg(None, "train only the points of these configs (stems) this time")
    merge: list[str] | None = arg(None, "other curves.json files (points trained elsewhere, e.g. on a GPU machine) "
                                        "whose points are added to output_dir's")
    sizes: list[int] = arg(help="labelled training reviews per point, validation included",
                           factory=lambda: [100, 250, 500, 1000, 2000, 5000, 10000, 25000], ge=2)
    seeds: int = arg(3, "subsets (and seeds) per size, up to multi_seed_max", ge=1)
    multi_seed_max: int = arg(2000, "larger sizes get one subset", ge=0)
    test_size: int = arg(5000, "the fixed stratified test subset every point is scored on", ge=2)
    test_seed: int = arg(0, "seed of that test subset", ge=0)
    val_fraction: float = arg(0.1, "share of each subset held out for early stopping and C", gt=0, lt=1)
    min_val: int = arg(50, "at least this many held-out reviews per subset", ge=2)
    min_updates: int = arg(250, "every neural point trains for at least this many optimizer updates (more epochs "
                                "on small subsets, patience scaled alike)", ge=1)
    data: str | None = arg(None, "aclImdb folder or tarball (default: $IMDB_SENTIMENT_DATA)")
    output_dir: str = arg("results/curves", "where curves.json, curves.md and curves.png go")
    runs_dir: str = arg("runs/curves", "run directories of the points (deleted once scored unless keep_runs)")
    keep_runs: bool = arg(False, "keep each point's run directory")
    quick: bool = arg(False, "three small sizes, one seed, small settings, into runs/curves_quick (minutes)")


@dataclass
class CurvesConfig:
    curves: CurvesArgs = field(default_factory=CurvesArgs)
