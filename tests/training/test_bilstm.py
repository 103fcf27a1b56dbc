import json

import pytest
from conftest import bilstm_test_config as tiny_config
from conftest import write_aclimdb

from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.inference.evaluate import evaluate_run
from imdb_sentiment.models.bilstm import load_bilstm_run
from imdb_sentiment.training.bilstm import train_bilstm


def test_training_learns_writes_a_run_and_reloads(bilstm_run):
    run_dir = bilstm_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.8  # the synthetic sentiment words are easy; chance is 0.5
    assert metrics["test_n"] == 120 and sum(metrics["test_confusion"].values()) == 120
    for key in ("model", "variant", "val_accuracy", "epochs", "train_seconds", "seconds_per_epoch", "params",
                "glove_coverage", "hardware", "command", "date"):
        assert key in metrics
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history) == metrics["epochs"] == 6
    assert metrics["val_accuracy"] == max(row["val_accuracy"] for row in history)
    # The saved run gives back the same test numbers.
    assert evaluate_run(run_dir)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    model, vocab, cfg = load_bilstm_run(run_dir, encoder="packed")
    assert model.encoder.mode == "packed" and len(vocab) > 10 and cfg.model.hidden_size == 16


def test_resume_continues_where_an_interrupted_run_stopped(imdb_dir, tmp_path):
    full = train_bilstm(tiny_config(imdb_dir, tmp_path / "full", max_epochs=3))
    interrupted = tiny_config(imdb_dir, tmp_path / "resumed", max_epochs=2, keep_checkpoints=True)
    train_bilstm(interrupted)
    with pytest.raises(RunError, match="finished run.*--resume continues it"):
        train_bilstm(interrupted)
    run_json = (tmp_path / "resumed" / "run.json").read_text()
    with pytest.raises(RunError, match=r"other settings \(train.learning_rate 0.02 -> 0.5\)"):
        train_bilstm(tiny_config(imdb_dir, tmp_path / "resumed", max_epochs=3, resume=True, learning_rate=0.5,
                                 keep_checkpoints=True))
    fewer_reviews = tiny_config(imdb_dir, tmp_path / "resumed", max_epochs=3, resume=True, keep_checkpoints=True)
    fewer_reviews.data.max_eval_samples = 20
    with pytest.raises(RunError, match="settings .data.max_eval_samples None -> 20"):
        train_bilstm(fewer_reviews)
    other_data = write_aclimdb(tmp_path / "other", per_class=50)  # the data path may change; the reviews may not
    with pytest.raises(RunError, match="the train reviews differ"):
        train_bilstm(tiny_config(other_data, tmp_path / "resumed", max_epochs=3, resume=True))
    assert (tmp_path / "resumed" / "run.json").read_text() == run_json  # a refused resume changes nothing
    # The epoch cap may change: that is how a finished run is given more epochs.
    train_bilstm(tiny_config(imdb_dir, tmp_path / "resumed", max_epochs=3, resume=True))
    assert not (tmp_path / "resumed" / "checkpoint").exists()  # finished, and no --keep_checkpoints this time
    assert not (full / "checkpoint").exists()
    expected = json.loads((full / "history.json").read_text())
    resumed = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert [row["epoch"] for row in resumed] == [1, 2, 3]
    for a, b in zip(expected, resumed):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


def test_early_stopping_stops_after_patience(imdb_dir, tmp_path):
    run_dir = train_bilstm(tiny_config(imdb_dir, tmp_path / "run", learning_rate=0.0, patience=1, max_epochs=5))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stopped_by"] == "early_stopping" and metrics["epochs"] == 2


def test_cli_reports_bad_input_clearly(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["train", "bilstm", "--data", str(tmp_path / "missing"), "--output_dir", str(tmp_path / "o")]) == 2
    assert "IMDB dataset not found" in capsys.readouterr().err


def test_a_run_stopped_before_its_first_checkpoint_starts_over_with_resume(imdb_dir, tmp_path, monkeypatch):
    import imdb_sentiment.training.bilstm as training

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_bilstm(tiny_config(imdb_dir, tmp_path / "run", max_epochs=2))
    monkeypatch.undo()
    assert (tmp_path / "run" / "run.json").exists() and not (tmp_path / "run" / "checkpoint").exists()
    with pytest.raises(RunError, match="stopped before its first checkpoint; pass --resume to start it over"):
        train_bilstm(tiny_config(imdb_dir, tmp_path / "run", max_epochs=2))
    run_dir = train_bilstm(tiny_config(imdb_dir, tmp_path / "run", max_epochs=2, resume=True))
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 2


def test_a_failed_start_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "bilstm", "--data", str(tmp_path / "nonexistent"), "--output_dir", str(out)]) == 2
    assert not out.exists() and "error:" in capsys.readouterr().err


def test_a_full_disk_gives_a_clear_error_and_no_partial_file(imdb_dir, tmp_path, monkeypatch):
    import imdb_sentiment.core.runs as runs

    real_replace = runs.os.replace

    def full_disk(src, dst):
        if str(dst).endswith("metrics.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(runs.os, "replace", full_disk)
    with pytest.raises(RunError, match="cannot write .*metrics.json: No space left on device"):
        train_bilstm(tiny_config(imdb_dir, tmp_path / "run", max_epochs=1))
    left = {p.name for p in (tmp_path / "run").iterdir()}
    assert "metrics.json" not in left and not any(name.endswith(".tmp") for name in left)


def test_precision_bf16_trains_the_bilstm_under_autocast_or_is_refused(imdb_dir, tmp_path, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("checks the CPU path")
    if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
        run = train_bilstm(tiny_config(imdb_dir, tmp_path / "bf16", precision="bf16"))
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["precision"] == "bf16" and metrics["test_accuracy"] >= 0.8  # it still learns
        _, _, cfg = load_bilstm_run(run)
        assert cfg.train.precision == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    with pytest.raises(RunError, match="neither AVX-512 BF16 nor AMX"):
        train_bilstm(tiny_config(imdb_dir, tmp_path / "refused", precision="bf16"))
    assert not (tmp_path / "refused").exists()  # refused before any work


def test_weights_held_in_one_flat_buffer_are_saved_and_loaded(tmp_path):
    """On CUDA, cuDNN keeps an LSTM's weights as views into one flat buffer; safetensors' save_model refuses those
    (a BiLSTM trained on a GPU could not be saved). Simulated here on the CPU with views of one tensor."""
    import torch
    from safetensors.torch import save_model

    from imdb_sentiment.core.config import BiLSTMArgs
    from imdb_sentiment.models.bilstm import build_model, load_weights, save_weights

    args = BiLSTMArgs(embeddings="random", embedding_dim=8, hidden_size=4)
    model = build_model(args, vocab_size=20)
    params = list(model.encoder.lstm.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    with pytest.raises(RuntimeError):
        save_model(model, str(tmp_path / "refused.safetensors"))
    save_weights(model, tmp_path / "model.safetensors")
    other = build_model(args, vocab_size=20)
    load_weights(other, tmp_path / "model.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
