"""Fine-tuning a pretrained Transformer classifier with the Hugging Face Trainer.

Validation picks the best epoch; the test set is scored once, at the end.
Several GPUs: `torchrun --nproc_per_node N -m imdb_sentiment.apps.cli train transformer ...` (or `accelerate launch`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from transformers import ProgressCallback, Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.config import TransformerConfig
from imdb_sentiment.core.data import Reviews, splits_for
from imdb_sentiment.core.metrics import classification_metrics, test_fields
from imdb_sentiment.models.transformer import (encode, load_tokenizer, make_collator, quiet_transformers,
                                               resolve_model_name)


def to_dataset(tokenizer, reviews: Reviews, max_length: int, truncation: str, head_tokens: int):
    from datasets import Dataset

    encoded = encode(tokenizer, reviews.texts, max_length, truncation, head_tokens)
    return Dataset.from_dict({"input_ids": encoded["input_ids"], "labels": reviews.labels.tolist(),
                              "length": [len(ids) for ids in encoded["input_ids"]]})


def _mixed_precision(setting: str) -> dict:
    """TrainingArguments for `precision`: autocast in bf16 or fp16 over fp32 master weights, or plain fp32."""
    mode = hardware.mixed_precision(setting)
    if mode == "no":
        return {}
    return {mode: True, **({} if torch.cuda.is_available() else {"use_cpu": True})}


def _probs(logits: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.as_tensor(logits, dtype=torch.float32), dim=-1)[:, 1].numpy()


def _compute_metrics(prediction) -> dict:
    metrics = classification_metrics(prediction.label_ids, _probs(prediction.predictions))
    return {"accuracy": metrics["accuracy"], "f1": metrics["f1"]}


def train_transformer(cfg: TransformerConfig, command: str | None = None,
                      splits: dict[str, Reviews] | None = None) -> Path:
    from transformers import AutoModelForSequenceClassification, EarlyStoppingCallback, TrainingArguments, set_seed

    tc, mc = cfg.train, cfg.model
    precision = _mixed_precision(tc.precision)  # refuse an unsupported precision before any work is done
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    run_dir = Path(tc.output_dir)
    checkpoints = run_dir / "checkpoints"
    last = runs.latest_trainer_checkpoint(checkpoints)
    runs.prepare_run_dir(run_dir, tc.resume, last, "transformer")
    resume_from = last if tc.resume else None

    splits = splits or splits_for(cfg)
    source = resolve_model_name(mc.model_name)
    tokenizer = load_tokenizer(source)
    datasets = {split: to_dataset(tokenizer, reviews, mc.max_length, mc.truncation, mc.head_tokens)
                for split, reviews in splits.items()}
    # The classification head is initialised here, before the Trainer seeds anything: without this its weights
    # would depend on whatever the process drew before (another model trained first by `compare`, say).
    set_seed(tc.seed)
    quiet_transformers()
    try:
        model, loading = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
            output_loading_info=True)
    except (OSError, ValueError) as err:
        raise runs.RunError(f"cannot load model {mc.model_name!r} ({source}): {err}") from err
    fresh = sorted(loading.get("missing_keys", []))
    print(f"loaded {mc.model_name} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters); "
          f"newly initialised for this task: {', '.join(fresh) or 'nothing'}")
    runs.write_run_info(run_dir, "transformer", cfg, splits, resuming=resume_from is not None, model_source=source)

    args = TrainingArguments(
        output_dir=str(checkpoints), seed=tc.seed, num_train_epochs=tc.num_epochs, max_steps=tc.max_steps,
        learning_rate=tc.learning_rate, weight_decay=tc.weight_decay,
        warmup_steps=tc.warmup_ratio,  # a float below 1 is a fraction of all steps
        per_device_train_batch_size=tc.batch_size, per_device_eval_batch_size=tc.eval_batch_size,
        gradient_accumulation_steps=tc.gradient_accumulation_steps,
        train_sampling_strategy="group_by_length" if tc.group_by_length else "random",
        eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch", save_total_limit=2,
        load_best_model_at_end=True, metric_for_best_model="accuracy", greater_is_better=True,
        report_to="none", disable_tqdm=False, dataloader_num_workers=tc.dataloader_num_workers,
        dataloader_pin_memory=torch.cuda.is_available(),  # pinning only speeds host-to-GPU copies; on CPU it warns
        **precision)
    timer = EpochTimer(tc.save_steps)
    trainer = EpochSeededTrainer(model=model, args=args, train_dataset=datasets["train"], eval_dataset=datasets["val"],
                      data_collator=make_collator(tokenizer, mc.padding, mc.max_length), processing_class=tokenizer,
                      compute_metrics=_compute_metrics, callbacks=[EarlyStoppingCallback(tc.patience), timer])
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(ReadableProgress())
    trainer.train(resume_from_checkpoint=resume_from)
    trainer.save_model(str(run_dir))

    history = _epoch_history(trainer.state.log_history)
    runs.write_json(run_dir / "history.json", history)
    metrics = run_metrics(cfg, history, trainer.state.epoch, trainer.model, len(splits["train"]), source,
                          "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32", command or runs.command_line())
    if not tc.score_test:  # a large model on a CPU: the test set is scored apart, resumably (`evaluate RUN`)
        if trainer.is_world_process_zero():
            runs.write_json(run_dir / "metrics.json", metrics)
        print(f"trained; test set not scored (score_test = false); run in {run_dir}")
        return run_dir
    # The test scores are saved in the split's order: scored shortest first (little padding), in sequence (the
    # length-grouped sampler would shuffle them), then put back.
    trainer.args.train_sampling_strategy = "random"
    labels = splits["test"].labels
    by_length = np.argsort(datasets["test"]["length"], kind="stable")
    prediction = trainer.predict(datasets["test"].select(by_length))
    if not np.array_equal(prediction.label_ids, labels[by_length]):
        raise RuntimeError("the Trainer returned the test predictions out of order")
    probs = np.empty(len(labels))
    probs[by_length] = _probs(prediction.predictions)
    test = classification_metrics(labels, probs)
    metrics.update(test_fields(test))
    if trainer.is_world_process_zero():
        runs.write_test_probabilities(run_dir, probs)
        runs.write_json(run_dir / "metrics.json", metrics)
        runs.finish_run_dir(run_dir, tc.keep_checkpoints)
    print(f"test accuracy {test['accuracy']:.4f}; run in {run_dir}")
    return run_dir


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """The Trainer's length-grouped order, drawn from (seed, epoch) instead of torch's global random state.

    A run resumed mid-epoch draws that epoch's order before the Trainer restores the checkpoint's random state, so
    with the global state it trained on another order than the run it continued (from the second epoch on: a
    fresh process has not drawn the first epoch's dropout masks). The Trainer calls set_epoch before each epoch."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


class EpochSeededTrainer(Trainer):
    """The Trainer with the length-grouped sampler above (its random sampler is already seeded per epoch)."""

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            return EpochSeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, self.args.seed)
        return sampler


class ReadableProgress(ProgressCallback):
    """The Trainer's progress bars, with its log dicts written as one plain line each."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        names = {"loss": "train loss", "eval_loss": "val loss", "eval_accuracy": "val accuracy",
                 "learning_rate": "lr", "train_runtime": "seconds"}
        parts = [f"{label} {logs[key]:.4g}" for key, label in names.items() if isinstance(logs.get(key), float)]
        if parts:
            line = f"epoch {state.epoch or 0:.2f}, step {state.global_step}: " + ", ".join(parts)
            (self.training_bar.write if self.training_bar is not None else print)(line)


class EpochTimer(TrainerCallback):
    """Logs training time in laps that end at each checkpoint, so a run resumed mid-epoch still reports the
    epoch's time (the log is saved with the checkpoint). With `save_steps`, also asks for a checkpoint every
    that many optimizer steps: one epoch on a CPU takes hours, too long to lose to an interruption."""

    def __init__(self, save_steps: int = 0):
        self.save_steps = save_steps

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def _lap(self, state):
        now = time.perf_counter()
        state.log_history.append({"epoch": state.epoch, "lap_seconds": now - self.start})
        self.start = now

    def on_step_end(self, args, state, control, **kwargs):
        # Not on an epoch's last step: the epoch's own checkpoint follows its evaluation. One saved before it would
        # be a checkpoint of a finished epoch without its validation scores, and a run resumed from it never
        # evaluates that epoch.
        ends_epoch = state.epoch is not None and abs(state.epoch - round(state.epoch)) < 1e-6
        if self.save_steps and state.global_step % self.save_steps == 0 and not ends_epoch:
            # Logging the loss with each checkpoint makes a resumed epoch's train loss exact: the Trainer restarts
            # its running loss at the checkpoint, so one log per epoch would cover only the steps after it.
            control.should_save = control.should_log = True
            self._lap(state)

    def on_epoch_end(self, args, state, control, **kwargs):
        self._lap(state)


def _epoch_history(log_history: list[dict]) -> list[dict]:
    """One row per epoch from the Trainer's log: train loss, validation loss and accuracy, epoch time."""
    rows: dict[int, dict] = {}
    last_logged_step, loss_sums = 0, {}
    for entry in log_history:
        if "epoch" not in entry:
            continue
        epoch = round(entry["epoch"], 4)
        row = rows.setdefault(math.ceil(epoch), {"epoch": epoch, "epoch_seconds": 0.0})
        row["epoch"] = max(row["epoch"], epoch)  # fractional when max_steps ends training mid-epoch
        if "loss" in entry:  # the mean since the previous log: weight it by its steps
            steps = entry["step"] - last_logged_step
            total, count = loss_sums.get(math.ceil(epoch), (0.0, 0))
            loss_sums[math.ceil(epoch)] = (total + entry["loss"] * steps, count + steps)
            row["train_loss"] = (total + entry["loss"] * steps) / (count + steps)
            last_logged_step = entry["step"]
        if "eval_accuracy" in entry:
            row.update(val_loss=entry["eval_loss"], val_accuracy=entry["eval_accuracy"])
        row["epoch_seconds"] += entry.get("lap_seconds", 0.0)
    return [row for _, row in sorted(rows.items()) if "val_accuracy" in row]


def run_metrics(cfg: TransformerConfig, history: list[dict], epochs: float, model, train_samples: int,
                source: str, precision: str, command: str) -> dict:
    """What a finished run's metrics.json says of its training; the test fields are None until the test set is
    scored (with score_test = false, apart: `evaluate`, bench/score_test.py)."""
    mc, tc = cfg.model, cfg.train
    train_seconds = sum(row.get("epoch_seconds", 0.0) for row in history)
    return {
        "model": "transformer", "variant": mc.model_name, "model_name": mc.model_name, "model_source": source,
        "max_length": mc.max_length, "truncation": mc.truncation, "padding": mc.padding, "precision": precision,
        "val_accuracy": max((row["val_accuracy"] for row in history), default=None),
        "test_accuracy": None, "epochs": epochs, "best_epoch": _best_epoch(history),
        "stopped_by": "early_stopping" if epochs < tc.num_epochs and tc.max_steps < 0 else "max_epochs",
        "train_seconds": round(train_seconds, 1), "seconds_per_epoch": round(train_seconds / max(epochs, 1e-9), 1),
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "glove_coverage": None, "train_samples": train_samples,
        "hardware": hardware.hardware(), "command": command, "date": runs.today(),
    }


def _best_epoch(history: list[dict]):
    return max(history, key=lambda row: row["val_accuracy"])["epoch"] if history else None


