"""Training and evaluating the BiLSTM: one epoch loop for every variant, run through `accelerate`.

The same code runs on CPU, one GPU, or several (`accelerate launch -m imdb_sentiment.apps.cli train bilstm ...`).
Variants differ only by config: embeddings, freezing, encoder, pooling, padding.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.config import BiLSTMArgs, BiLSTMConfig, DistillArgs
from imdb_sentiment.core.data import Reviews, splits_for
from imdb_sentiment.core.metrics import classification_metrics, test_fields
from imdb_sentiment.core.text import UNK_ID, Vocab, tokenize
from imdb_sentiment.models.batches import EncodedReviews, LengthBucketSampler, pad_collate
from imdb_sentiment.models.bilstm import build_model, count_parameters, encode, load_weights, save_weights
from imdb_sentiment.models.embeddings import load_glove
from imdb_sentiment.training import distill

log = logging.getLogger(__name__)


def distillation_set(cfg: BiLSTMConfig, train: Reviews, vocab: Vocab, label: distill.Labeller | None = None
                     ) -> tuple[EncodedReviews, str]:
    """The training reviews and their augmented copies (no hard label), each with the teacher's logit (from the
    cache, else from `label`); and the teacher's name."""
    d = cfg.distill
    cache = d.logits_cache or str(Path(cfg.train.output_dir) / "teacher_logits.npz")
    aug = distill.Augmentation(copies=d.augment_copies, seed=cfg.train.seed, sentences=d.augment_sentences)
    targets, copies, info = distill.student_targets(cache, d.teacher, train, aug, cfg.model.max_length,
                                                    cfg.model.truncation, d.teacher_precision, label)
    reviews = encode(train, vocab, cfg.model)
    return EncodedReviews(reviews.ids + [vocab.encode(c) or [UNK_ID] for c in copies],
                          np.concatenate([reviews.labels, np.full(len(copies), -1)]), targets), info["teacher"]


def loss_fn(logits: torch.Tensor, batch: dict, distill_args: DistillArgs | None) -> torch.Tensor:
    """Binary cross-entropy on the hard labels; when distilling, mixed with the teacher's loss by alpha."""
    labelled = batch["labels"] >= 0
    hard = F.binary_cross_entropy_with_logits(logits[labelled], batch["labels"][labelled].float()) \
        if labelled.any() else logits.sum() * 0
    if distill_args is None or "teacher_logits" not in batch:
        return hard
    teacher = batch["teacher_logits"]
    if distill_args.loss == "mse":
        soft = F.mse_loss(logits, teacher)
    else:  # KL between Bernoulli(sigmoid(teacher / T)) and the student's, up to a constant; T^2 keeps its scale.
        t = distill_args.temperature
        soft = F.binary_cross_entropy_with_logits(logits / t, torch.sigmoid(teacher / t)) * t * t
    return distill_args.alpha * hard + (1 - distill_args.alpha) * soft


def make_loader(dataset: EncodedReviews, args: BiLSTMArgs, batch_size: int, shuffle: bool,
                bucket_batches: int = 50, seed: int = 0) -> DataLoader:
    sampler = LengthBucketSampler(dataset.lengths, batch_size, shuffle, bucket_batches, seed)
    collate = partial(pad_collate, pad_to=args.max_length if args.pad_to_max_length else None)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)


def run_epoch(model, loader, accelerator: Accelerator, optimizer=None, max_grad_norm: float | None = None,
              desc: str = "", distill_args: DistillArgs | None = None, amp=nullcontext) -> tuple[float, float]:
    """One pass over `loader`; trains when given an optimizer. Returns (mean loss, accuracy on the labelled
    reviews)."""
    training = optimizer is not None
    model.train(training)
    totals = torch.zeros(4, dtype=torch.float64, device=accelerator.device)  # loss sum, seen, correct, labelled
    bar = tqdm(loader, desc=desc, leave=False, dynamic_ncols=True, disable=not accelerator.is_local_main_process)
    with torch.set_grad_enabled(training):
        for batch in bar:
            with amp():
                logits = model(batch["input_ids"], batch["lengths"]).float()
            loss = loss_fn(logits, batch, distill_args)
            if training:
                accelerator.backward(loss)
                if max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            labels = batch["labels"]
            correct = ((logits > 0) == labels.bool())[labels >= 0].sum().item()
            totals += torch.tensor([loss.item() * labels.numel(), labels.numel(), correct, (labels >= 0).sum().item()],
                                   dtype=torch.float64, device=totals.device)
            bar.set_postfix(loss=f"{totals[0] / totals[1]:.4f}", acc=f"{totals[2] / max(totals[3], 1):.4f}")
    loss_sum, seen, correct, labelled = accelerator.reduce(totals, "sum").tolist()
    return loss_sum / seen, correct / max(labelled, 1)


@torch.no_grad()
def predict_probs(model, loader, accelerator: Accelerator, desc: str = "predict", amp=nullcontext) -> np.ndarray:
    """P(positive) per review, in the dataset's order whatever order the batches came in."""
    model.eval()
    probs, indices = [], []
    for batch in tqdm(loader, desc=desc, leave=False, disable=not accelerator.is_local_main_process):
        with amp():
            p = torch.sigmoid(model(batch["input_ids"], batch["lengths"]).float())
        p, index = accelerator.gather_for_metrics((p, batch["index"]))
        probs.append(p.float().cpu())
        indices.append(index.cpu())
    out = np.empty(len(loader.dataset), dtype=np.float32)
    out[torch.cat(indices).numpy()] = torch.cat(probs).numpy()
    return out


def train_bilstm(cfg: BiLSTMConfig, command: str | None = None, splits: dict[str, Reviews] | None = None,
                 teacher: distill.Labeller | None = None) -> Path:
    """Train one variant, keep the best validation epoch, test it once, and write the run directory. `splits`
    replaces the ones the config describes (the subsets of a learning curve)."""
    tc = cfg.train
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    # Autocast here rather than through Accelerator(mixed_precision=...): that setting is process-wide, and compare
    # or curves train several models, of either precision, in one process.
    # split_batches: batch_size is the global batch, each of N processes taking 1/N of every batch, so a run on
    # several processes takes the same optimizer steps on the same reviews as one process (tests/training/).
    accelerator = Accelerator(split_batches=True)
    amp = partial(torch.autocast, accelerator.device.type, dtype=torch.bfloat16,
                  enabled=hardware.mixed_precision(tc.precision) == "bf16")
    set_seed(tc.seed)
    run_dir = Path(tc.output_dir)
    checkpoint = runs.latest_checkpoint(run_dir)
    runs.prepare_run_dir(run_dir, tc.resume, checkpoint, "bilstm")
    checkpoint = checkpoint if tc.resume else None

    splits = splits or splits_for(cfg)
    if checkpoint:
        vocab = Vocab.load(run_dir / "vocab.json")
    else:
        tokens = (tokenize(t) for t in tqdm(splits["train"].texts, desc="vocabulary", leave=False))
        vocab = Vocab.build(tokens, cfg.model.vocab_size)
    glove = load_glove(vocab, cfg.model.glove_path, tc.seed) if cfg.model.embeddings == "glove" else None
    model = build_model(cfg.model, len(vocab), glove.matrix if glove else None)
    info = runs.write_run_info(run_dir, "bilstm", cfg, splits, resuming=checkpoint is not None,
                               glove_source=glove.source if glove else None,
                               glove_coverage=glove.coverage if glove else None)
    if not checkpoint:
        with runs.atomic_path(run_dir / "vocab.json") as tmp:
            vocab.save(tmp)

    distill_args = cfg.distill if cfg.distill.enabled else None
    train_set, teacher = (distillation_set(cfg, splits["train"], vocab, teacher) if distill_args
                          else (encode(splits["train"], vocab, cfg.model), None))
    loaders = {
        "train": make_loader(train_set, cfg.model, tc.batch_size, True, tc.bucket_batches, tc.seed),
        "val": make_loader(encode(splits["val"], vocab, cfg.model), cfg.model, tc.eval_batch_size, False),
        "test": make_loader(encode(splits["test"], vocab, cfg.model), cfg.model, tc.eval_batch_size, False),
    }
    optimizer = torch.optim.Adam((p for p in model.parameters() if p.requires_grad), lr=tc.learning_rate,
                                 weight_decay=tc.weight_decay)
    model, optimizer, train_loader, val_loader, test_loader = accelerator.prepare(
        model, optimizer, loaders["train"], loaders["val"], loaders["test"])

    state = {"epoch": 0, "best_val_accuracy": -1.0, "best_epoch": 0, "bad_epochs": 0, "train_seconds": 0.0,
             "history": [], "stopped_by": None}
    if checkpoint:
        accelerator.load_state(str(checkpoint))
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        log.info("resumed from %s after epoch %d", checkpoint, state["epoch"])

    for epoch in range(state["epoch"] + 1, tc.max_epochs + 1):
        if state["bad_epochs"] >= tc.patience:
            break
        # The prepared loader re-seeds its sampler from its own pass counter, which a resumed process restarts at 0.
        train_loader.set_epoch(epoch - 1)
        start = time.perf_counter()
        train_loss, train_acc = run_epoch(model, train_loader, accelerator, optimizer, tc.max_grad_norm,
                                          desc=f"epoch {epoch}/{tc.max_epochs}", distill_args=distill_args, amp=amp)
        seconds = time.perf_counter() - start
        val_loss, val_acc = run_epoch(model, val_loader, accelerator, desc="validation", amp=amp)
        state["train_seconds"] += seconds
        state["history"].append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                                 "val_loss": val_loss, "val_accuracy": val_acc, "epoch_seconds": seconds})
        improved = val_acc > state["best_val_accuracy"]
        if improved:
            state.update(best_val_accuracy=val_acc, best_epoch=epoch, bad_epochs=0)
            if accelerator.is_main_process:
                with runs.atomic_path(run_dir / "model.safetensors") as tmp:
                    save_weights(accelerator.unwrap_model(model), tmp)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        accelerator.print(f"epoch {epoch}: train loss {train_loss:.4f} acc {train_acc:.4f} | "
                          f"val loss {val_loss:.4f} acc {val_acc:.4f}{' *' if improved else ''} | {seconds:.0f}s")
        _save_checkpoint(accelerator, run_dir, state)
        runs.write_json(run_dir / "history.json", state["history"])
    state["stopped_by"] = "early_stopping" if state["bad_epochs"] >= tc.patience else "max_epochs"

    accelerator.wait_for_everyone()
    load_weights(accelerator.unwrap_model(model), run_dir / "model.safetensors")
    test_probs = predict_probs(model, test_loader, accelerator, "test", amp)
    test = classification_metrics(splits["test"].labels, test_probs)
    metrics = {
        "model": "bilstm", "variant": cfg.model.variant,
        "val_accuracy": state["best_val_accuracy"], **test_fields(test),
        "epochs": state["epoch"], "best_epoch": state["best_epoch"], "stopped_by": state["stopped_by"],
        "precision": tc.precision, "train_seconds": round(state["train_seconds"], 1),
        "seconds_per_epoch": round(state["train_seconds"] / max(len(state["history"]), 1), 1),
        **count_parameters(accelerator.unwrap_model(model)),
        "glove_coverage": info["glove_coverage"], "train_samples": len(splits["train"]),
        "teacher": teacher, "augmented_samples": len(train_set) - len(splits["train"]),
        "hardware": hardware.hardware(), "command": command or runs.command_line(), "date": runs.today(),
    }
    if accelerator.is_main_process:
        runs.write_test_probabilities(run_dir, test_probs)
        runs.write_json(run_dir / "metrics.json", metrics)
        runs.finish_run_dir(run_dir, tc.keep_checkpoints)
    accelerator.print(f"test accuracy {test['accuracy']:.4f} (best epoch {state['best_epoch']}); run in {run_dir}")
    return run_dir


def _save_checkpoint(accelerator: Accelerator, run_dir: Path, state: dict) -> None:
    tmp = run_dir / "checkpoint.tmp"
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        runs.write_json(tmp / "trainer_state.json", state)
        runs.replace_dir(tmp, run_dir / "checkpoint")
