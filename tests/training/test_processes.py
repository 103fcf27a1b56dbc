"""Training on several processes (accelerate launch --cpu, gloo) gives what one process gives with the same global
batch: the BiLSTM exactly (each process takes half of every batch and the gradients are averaged), the Transformer
to 1e-2 in P(positive) (the Trainer splits each epoch's reviews between the processes, so the same reviews meet the
weights in another order, and float sums differ)."""
import json
import socket
import subprocess
import sys

import numpy as np
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(processes: int, argv: list[str]) -> None:
    launcher = ([sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", str(processes),
                 "--main_process_port", str(free_port()), "-m", "imdb_sentiment.apps.cli"] if processes > 1
                else [sys.executable, "-m", "imdb_sentiment.apps.cli"])
    result = subprocess.run([*launcher, *argv], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


def outcome(run) -> tuple[list, np.ndarray]:
    return json.loads((run / "history.json").read_text()), np.load(run / "test_probabilities.npy")


def test_the_bilstm_on_two_processes_is_the_bilstm_on_one(imdb_dir, tmp_path):
    flags = ["train", "bilstm", "--data", str(imdb_dir), "--allow_partial_dataset", "--embeddings", "random",
             "--embedding_dim", "8", "--hidden_size", "8", "--max_length", "32", "--max_epochs", "2", "--dropout", "0",
             "--num_threads", "1", "--batch_size", "8"]
    launch(1, [*flags, "--output_dir", str(tmp_path / "one")])
    launch(2, [*flags, "--output_dir", str(tmp_path / "two")])
    (one, p_one), (two, p_two) = outcome(tmp_path / "one"), outcome(tmp_path / "two")
    for a, b in zip(one, two, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-6) and a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-6)
    np.testing.assert_allclose(p_one, p_two, atol=1e-6)


def test_the_transformer_on_two_processes_agrees_with_one(imdb_dir, tiny_distilbert, tmp_path):
    flags = ["train", "transformer", "--data", str(imdb_dir), "--allow_partial_dataset", "--model_name",
             str(tiny_distilbert), "--max_length", "64", "--num_epochs", "1", "--num_threads", "1",
             "--learning_rate", "1e-3", "--eval_batch_size", "16"]
    launch(1, [*flags, "--batch_size", "8", "--output_dir", str(tmp_path / "one")])
    launch(2, [*flags, "--batch_size", "4", "--output_dir", str(tmp_path / "two")])  # per process: 8 in all
    (one, p_one), (two, p_two) = outcome(tmp_path / "one"), outcome(tmp_path / "two")
    assert one[0]["train_loss"] == pytest.approx(two[0]["train_loss"], abs=1e-2)
    np.testing.assert_allclose(p_one, p_two, atol=1e-2)
