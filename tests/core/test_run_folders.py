"""Training never clobbers a folder that is not its own run, and two trainings never share one."""
import subprocess

import pytest
from conftest import bilstm_test_config as tiny_config

from imdb_sentiment.apps.cli import main
from imdb_sentiment.apps.train import train
from imdb_sentiment.core import runs
from imdb_sentiment.core.runs import RunError


def tiny_flags(imdb_dir, out):
    return ["--data", str(imdb_dir), "--allow_partial_dataset", "--embeddings", "random", "--embedding_dim", "8",
            "--hidden_size", "8", "--max_length", "32", "--max_epochs", "1", "--output_dir", str(out)]


def test_a_folder_with_other_files_is_refused_and_left_as_it_was(imdb_dir, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "history.json").write_text("my notes")
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "precious.txt").write_text("keep")
    assert main(["train", "bilstm", *tiny_flags(imdb_dir, out)]) == 2
    assert "is not empty and holds no run" in capsys.readouterr().err
    assert (out / "history.json").read_text() == "my notes" and (out / "checkpoints" / "precious.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "history.json"]  # no lock left behind


def test_a_run_of_another_kind_is_refused_and_keeps_its_files(imdb_dir, tmp_path, capsys, monkeypatch):
    import imdb_sentiment.training.bilstm as training

    out = tmp_path / "bilstm"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train("bilstm", tiny_config(imdb_dir, out, max_epochs=2))
    monkeypatch.undo()
    before = sorted(p.name for p in out.iterdir())
    assert "vocab.json" in before
    assert main(["train", "tfidf", "--data", str(imdb_dir), "--allow_partial_dataset", "--output_dir", str(out)]) == 2
    assert "holds a bilstm run, not a tfidf run" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_second_training_into_a_held_folder_refuses_at_once(imdb_dir, tmp_path, capsys):
    out = tmp_path / "held"
    out.mkdir()
    writer = subprocess.Popen(["sleep", "30"])  # a live process holds it
    (out / runs.LOCK).write_text(str(writer.pid))
    try:
        assert main(["train", "bilstm", *tiny_flags(imdb_dir, out)]) == 2
    finally:
        writer.kill()
    err = capsys.readouterr().err
    assert "is being written by process" in err and len(err.strip().splitlines()) == 1
    assert not (out / "run.json").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(imdb_dir, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    out = tmp_path / "stale"
    out.mkdir()
    (out / runs.LOCK).write_text(str(dead.pid))
    assert main(["train", "bilstm", *tiny_flags(imdb_dir, out)]) == 0
    assert (out / "metrics.json").exists() and not (out / runs.LOCK).exists()


def test_the_lock_is_released_when_training_fails(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RunError):
        with runs.locked(out):
            assert (out / runs.LOCK).read_text().isdigit()
            raise RunError("failed")
    assert not out.exists()  # it made the folder, and nothing was written in it
