"""Run directories: what a training run leaves behind, written atomically, and how it is read back.

    RUN_DIR/run.json          kind ("bilstm" | "transformer"), format version, config, data fingerprints
    RUN_DIR/vocab.json        BiLSTM vocabulary (Transformers keep their tokenizer files instead)
    RUN_DIR/model.safetensors best weights (Transformers: save_pretrained files)
    RUN_DIR/history.json      one row per epoch
    RUN_DIR/metrics.json      final validation and test numbers
    RUN_DIR/test_probabilities.npy  P(positive) per test review, in the test split's order
    RUN_DIR/checkpoint/       last epoch's full state, for --resume; deleted when the run finishes unless
                              --keep_checkpoints (Transformers: RUN_DIR/checkpoints/, the Trainer's)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shlex
import shutil
import sys
from pathlib import Path

FORMAT_VERSION = 1
log = logging.getLogger(__name__)


class RunError(RuntimeError):
    """A run directory is missing, incomplete, or from an incompatible version."""


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yields a temporary path to write; it becomes `path` only once fully written. A full disk or a read-only
    folder gives a RunError naming the file and leaves neither a partial file nor the temporary one behind."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunError(f"cannot write {path}: {err.strerror or err}") from err


def write_json(path: str | Path, document) -> None:
    """Write-then-rename, so an interrupted run never leaves half a file."""
    text = json.dumps(document, indent=2, default=float) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def replace_dir(tmp: Path, target: Path) -> None:
    """Move a fully written `tmp` folder to `target`, keeping the old one until the new one is in place."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)


def prepare_run_dir(run_dir: Path, resume: bool, checkpoint, kind: str) -> None:
    """Check that `run_dir` may take this run of `kind`; `checkpoint` is its last checkpoint, found whether resuming
    or not.

    A new or empty folder, a run resumed from its checkpoint, or, with --resume, a run that stopped before its first
    checkpoint, which starts over in place. Anything else is refused, so no file the run did not write is ever
    overwritten or deleted. Nothing is created here: a run that fails before writing its first file leaves no
    folder behind."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a folder; choose another --output_dir.")
    if (run_dir / "run.json").exists():
        found = read_run(run_dir)["kind"]
        if found != kind:
            raise RunError(f"{run_dir} holds a {found} run, not a {kind} run; choose another --output_dir.")
    elif run_dir.exists() and any(p.name != LOCK for p in run_dir.iterdir()):
        raise RunError(f"{run_dir} is not empty and holds no run; choose a new or empty --output_dir.")
    finished = (run_dir / "metrics.json").exists()
    if checkpoint is not None and resume:
        return
    if finished:
        extend = "; --resume continues it from its checkpoint (with a higher epoch cap)" if checkpoint else ""
        raise RunError(f"{run_dir} holds a finished run; choose another --output_dir{extend}.")
    if checkpoint is not None:
        raise RunError(f"{run_dir} holds an unfinished run; pass --resume to continue it from its last checkpoint, "
                       f"or choose another --output_dir.")
    if not (run_dir / "run.json").exists():
        if resume and kind != "tfidf":  # a TF-IDF run always starts over: seconds, nothing to resume
            log.warning("--resume: no run in %s yet; starting one", run_dir)
        return
    if not resume:
        raise RunError(f"{run_dir} holds a run that stopped before its first checkpoint; pass --resume to start "
                       f"it over in place, or choose another --output_dir.")
    log.warning("--resume: %s stopped before its first checkpoint; starting it over", run_dir)
    for name in STARTED_FILES:
        path = run_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


# What a run writes before its first checkpoint: cleared when such a run starts over.
STARTED_FILES = ("run.json", "vocab.json", "model.safetensors", "model.safetensors.tmp", "checkpoint.tmp",
                 "checkpoints", "run.json.tmp")


LOCK = ".lock"  # the pid of the process writing the run


@contextlib.contextmanager
def locked(run_dir: Path):
    """Hold `run_dir` for one training process: a second one pointed at it refuses at once instead of mixing its
    files with the first's. A lock whose process is gone (killed, or on another boot) is taken over. Under several
    processes (torchrun, accelerate) rank 0 holds it for all."""
    if int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    created = not run_dir.exists()
    lock = run_dir / LOCK
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        _take(lock)
    except OSError as err:
        raise RunError(f"cannot write to {run_dir}: {err.strerror or err}") from err
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
            if created and not any(run_dir.iterdir()):
                run_dir.rmdir()  # a run that failed before writing anything leaves no folder behind


def _take(lock: Path) -> None:
    for _ in range(2):
        try:
            with open(lock, "x") as f:
                f.write(str(os.getpid()))
            return
        except FileExistsError:
            owner = lock.read_text().strip()
            if owner.isdigit() and _alive(int(owner)):
                raise RunError(f"{lock.parent} is being written by process {owner}; wait for it to finish, or "
                               f"choose another --output_dir") from None
            log.warning("%s: taking over a lock left by process %s, which is gone", lock.parent, owner or "?")
            lock.unlink(missing_ok=True)
    raise RunError(f"cannot lock {lock.parent}: another process keeps taking it")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def finish_run_dir(run_dir: Path, keep_checkpoints: bool) -> None:
    """Delete the finished run's checkpoints (optimizer state included, often several times the model's size)."""
    if keep_checkpoints:
        return
    for name in ("checkpoint", "checkpoint.old", "checkpoints"):
        if (run_dir / name).is_dir():
            shutil.rmtree(run_dir / name)


# What a resumed run may change: where the run and the data live, how the work is spread, and how long it goes on.
# Anything else would make the finished run's record describe a run that never happened.
CHANGEABLE_ON_RESUME = {"train.output_dir", "data.data", "data.allow_partial_dataset", "train.resume",
                        "train.num_threads", "train.max_epochs", "train.num_epochs", "train.max_steps",
                        "train.patience", "train.eval_batch_size", "train.keep_checkpoints", "train.dataloader_num_workers", "train.save_steps",
                        "train.score_test"}


def write_run_info(run_dir: Path, kind: str, cfg, splits: dict, resuming: bool = False, **extra) -> dict:
    """run.json: what a later command needs to rebuild the model and to tell whether runs saw the same data.

    When `resuming`, the run must go on with the settings and reviews it started with."""
    from dataclasses import asdict

    # Through JSON and back, so a resumed run's config compares equal to the one read from run.json (tuples as lists).
    run_dir.mkdir(parents=True, exist_ok=True)
    info = {"kind": kind, "format_version": FORMAT_VERSION, "config": json.loads(json.dumps(asdict(cfg))),
            "data_fingerprint": {split: reviews.fingerprint() for split, reviews in splits.items()}, **extra}
    if resuming:
        _check_same_run(run_dir, read_run(run_dir), info)
    write_json(run_dir / "run.json", info)
    return info


def _check_same_run(run_dir: Path, started: dict, now: dict) -> None:
    if started["kind"] != now["kind"]:
        raise RunError(f"{run_dir} holds a {started['kind']} run; it cannot be resumed as a {now['kind']} run")
    before, after = _dotted_fields(started["config"]), _dotted_fields(now["config"])
    # Only fields the run was started with: a field added to the config since then cannot have changed.
    changed = [f"{name} {before[name]!r} -> {after[name]!r}" for name in before
               if name in after and before[name] != after[name] and name not in CHANGEABLE_ON_RESUME]
    if changed:
        raise RunError(f"{run_dir} was started with other settings ({'; '.join(changed)}). Resume it with the "
                       f"config and flags it started with (they are in its run.json), or train into another "
                       f"--output_dir.")
    for split, fingerprint in started["data_fingerprint"].items():
        if now["data_fingerprint"].get(split, fingerprint) != fingerprint:
            raise RunError(f"{run_dir}: the {split} reviews differ from the ones the run started on "
                           f"(another dataset, subset or split); resume it on the same data.")


def _dotted_fields(config: dict) -> dict:
    """{"section.field": value}, the names the config's CLI flags and overrides use."""
    return {f"{section}.{name}": value for section, fields in config.items() for name, value in fields.items()}


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The last complete checkpoint, including one left as `.old` by a crash in the middle of a swap."""
    for candidate in (run_dir / "checkpoint", run_dir / "checkpoint.old"):
        if (candidate / "trainer_state.json").exists():
            return candidate
    return None


def latest_trainer_checkpoint(checkpoints: Path) -> str | None:
    """The Trainer's last complete `checkpoint-STEP` folder. The Trainer writes a checkpoint in place, its
    trainer_state.json last, so a process killed mid-save leaves a newer folder without a readable one: resuming
    from that would fail on every attempt."""
    if not checkpoints.is_dir():
        return None
    steps = sorted((int(p.name.split("-")[1]), p) for p in checkpoints.glob("checkpoint-*")
                   if p.name.split("-")[1].isdigit())
    for _, candidate in reversed(steps):
        try:
            json.loads((candidate / "trainer_state.json").read_text())
        except (OSError, ValueError):
            log.warning("skipping %s: written only in part (the run was stopped while saving it)", candidate)
            continue
        return str(candidate)
    return None


TEST_PROBABILITIES = "test_probabilities.npy"


def test_probabilities_path(run_dir: str | Path, variant: str = "") -> Path:
    """Where a run keeps its test scores: as trained, or as scored in another form (`variant` "int8", "bf16")."""
    return Path(run_dir) / (f"test_probabilities-{variant}.npy" if variant else TEST_PROBABILITIES)


def write_test_probabilities(run_dir: str | Path, probs, variant: str = "") -> None:
    """The test set is scored once, when training ends (or, for `variant`, when first scored so); reports reuse
    these scores instead of re-running it."""
    import numpy as np

    with atomic_path(test_probabilities_path(run_dir, variant)) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(probs, dtype=np.float64))


def tested_on(run_dir: str | Path, test_fingerprint: str) -> bool:
    """Whether the run's test split is these reviews (their `Reviews.fingerprint()`)."""
    return read_run(run_dir)["data_fingerprint"]["test"] == test_fingerprint


def read_test_probabilities(run_dir: str | Path, test_fingerprint: str, variant: str = ""):
    """The saved test scores, or None when there are none or the run was tested on other reviews."""
    import numpy as np

    path = test_probabilities_path(run_dir, variant)
    if not path.exists() or not tested_on(run_dir, test_fingerprint):
        return None
    return np.load(path)


# The model that ships inside the package (see imdb_sentiment.apps.builtin): a run directory named "builtin" anywhere a
# run directory is asked for.
BUILTIN = "builtin"
BUILTIN_DIR = Path(__file__).parent.parent / "builtin"


def resolve(run_dir: str | Path) -> Path:
    return BUILTIN_DIR if str(run_dir) == BUILTIN else Path(run_dir)


def read_run(run_dir: str | Path) -> dict:
    run_dir = resolve(run_dir)
    info_path = run_dir / "run.json"
    if not info_path.exists():
        raise RunError(f"{run_dir} is not a run directory (no run.json); train one with `imdb-sentiment train`.")
    try:
        info = json.loads(info_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunError(f"{info_path} is not valid JSON ({err}); the run cannot be read") from err
    if info.get("format_version") != FORMAT_VERSION:
        raise RunError(f"{run_dir} was written by an incompatible version (run format "
                       f"{info.get('format_version')}, this version reads {FORMAT_VERSION}); retrain it.")
    return info


def load_run_config(run_dir: str | Path, kind: str, config_cls, weights: str):
    """The config of a finished run of `kind`, after checking its weights file was written."""
    from imdb_sentiment.core.fields import from_dict

    run_dir = resolve(run_dir)
    info = read_run(run_dir)
    if info["kind"] != kind:
        raise RunError(f"{run_dir} holds a {info['kind']} run, not a {kind} run")
    if not (run_dir / weights).exists():
        raise RunError(f"{run_dir} has no {weights}: its training never finished; continue it with the "
                       f"`imdb-sentiment train {kind}` command that started it, plus --resume")
    return from_dict(config_cls, info["config"])


def command_line() -> str:
    # the command itself, or the same command re-executed under tcmalloc as `python -m imdb_sentiment.apps.cli`
    command = sys.argv[0].endswith(("imdb-sentiment", str(Path("imdb_sentiment") / "apps" / "cli.py"),
                                      str(Path("imdb_sentiment") / "__main__.py")))
    return shlex.join(["imdb-sentiment" if command else sys.argv[0], *sys.argv[1:]])


def today() -> str:
    return dt.date.today().isoformat()
