from pathlib import Path

import pytest
import torch

from imdb_sentiment.core import allocator, runs
from imdb_sentiment.inference import quantize

pytest.importorskip("openvino", reason="--quantize int8 needs the int8 extra (pip install -e '.[int8]')")
pytest.importorskip("nncf", reason="--quantize int8 needs the int8 extra (pip install -e '.[int8]')")


@pytest.fixture
def bilstm(bilstm_run):
    from imdb_sentiment.models.bilstm import load_bilstm_run

    return load_bilstm_run(bilstm_run)[0]


def test_the_int8_bilstm_keeps_padding_and_batchmates_out_of_each_review(bilstm, tmp_path):
    ids, lengths = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([4, 2])
    int8 = quantize.bilstm_int8(bilstm, tmp_path)
    with torch.inference_mode():
        before, after = bilstm(ids, lengths), int8(ids, lengths)
    assert not torch.equal(before, after) and torch.allclose(before, after, atol=0.05)
    # Its scales are fixed, not measured per batch: more padding and other reviews change nothing.
    assert torch.allclose(after, int8(torch.nn.functional.pad(ids, (0, 4)), lengths), atol=1e-5)
    assert torch.allclose(after[1:], int8(ids[1:, :2], lengths[1:]), atol=1e-5)


def lstm_precisions(int8: quantize.OpenVinoModel) -> list[str]:
    """What each LSTM of the compiled model computes in."""
    runtime = int8.request.get_compiled_model().get_runtime_model()
    return [op.get_rt_info()["runtimePrecision"].astype(str) for op in runtime.get_ordered_ops()
            if op.get_rt_info()["layerType"].astype(str) == "RNNSeq"]


def test_the_int8_bilstm_runs_its_lstms_in_int8(bilstm, tmp_path):
    assert lstm_precisions(quantize.bilstm_int8(bilstm, tmp_path)) == ["u8", "u8"]


def test_the_naive_encoder_runs_in_int8_as_one_lstm_per_direction(bilstm, tmp_path):
    bilstm.encoder.mode = "naive"  # one bidirectional LSTM, which OpenVINO would run in float
    ids, lengths = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([4, 2])
    int8 = quantize.bilstm_int8(bilstm, tmp_path)
    with torch.inference_mode():
        before, after = bilstm(ids, lengths), int8(ids, lengths)
    assert lstm_precisions(int8) == ["u8", "u8"]
    assert not torch.equal(before, after) and torch.allclose(before, after, atol=0.05)


def test_int8_directions_with_different_weights_both_stay_close_to_float(bilstm, tmp_path):
    # One weight scale serves every LSTM: OpenVINO ran a second LSTM of the same shape with the first one's scales.
    # Weights four times smaller in one direction would then be read four times too large.
    with torch.no_grad():
        for name, weight in bilstm.encoder.lstm.named_parameters():
            if name.endswith("_reverse"):
                weight.mul_(0.25)
            else:
                weight.mul_(2.0)
    # Drawn from their own seed: from the global generator, the draw depended on the tests run before this one,
    # and one draw in the full suite came to 2.3% of the largest output.
    ids = torch.randint(2, bilstm.embedding.num_embeddings, (8, 12), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([12, 11, 10, 9, 8, 7, 6, 5])
    with torch.inference_mode():
        before, after = bilstm(ids, lengths), quantize.bilstm_int8(bilstm, tmp_path)(ids, lengths)
    assert (after - before).abs().max() < 0.02 * before.abs().max()


def test_the_int8_model_is_cached_with_its_weights_fingerprint(bilstm, tmp_path, monkeypatch, capsys):
    quantize.bilstm_int8(bilstm, tmp_path)
    assert "int8: building" in capsys.readouterr().err  # the one slow step says what it is doing
    folder = tmp_path / "int8" / "bilstm.openvino"
    assert (folder / "model.xml").exists() and folder.with_name("bilstm.openvino.fingerprint").read_text().strip()

    def no_build(*_):
        raise AssertionError("rebuilt a model that was cached")

    monkeypatch.setattr(quantize, "_static_int8_lstm", no_build)
    quantize.bilstm_int8(bilstm, tmp_path)  # same weights: the cached model
    with monkeypatch.context() as upgraded:
        version = quantize._version
        upgraded.setattr(quantize, "_version", lambda name: "99.0" if name == "openvino" else version(name))
        with pytest.raises(AssertionError, match="rebuilt"):  # another converter: a new model
            quantize.bilstm_int8(bilstm, tmp_path)
    with torch.no_grad():
        bilstm.head.bias.add_(1.0)
    with pytest.raises(AssertionError, match="rebuilt"):  # retrained weights: a new model
        quantize.bilstm_int8(bilstm, tmp_path)


def test_an_interrupted_build_leaves_no_cache_behind(bilstm, tmp_path):
    def interrupted(out: Path):
        out.write_bytes(b"half a graph")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quantize.cached(tmp_path, "bilstm.onnx", "key", interrupted)
    assert not (tmp_path / "int8" / "bilstm.onnx").exists() and (tmp_path / "int8" / "bilstm.partial.onnx").exists()
    assert quantize.cached(tmp_path, "bilstm.onnx", "key", lambda out: out.write_bytes(b"graph")).read_bytes() == b"graph"


def test_a_cached_folder_built_for_other_weights_is_replaced_whole(tmp_path):
    def build(files):
        def write(out: Path):
            out.mkdir()
            for name in files:
                (out / name).write_text(name)
        return write

    quantize.cached(tmp_path, "model.openvino", "old", build(["model.xml", "stale.bin"]))
    folder = quantize.cached(tmp_path, "model.openvino", "new", build(["model.xml"]))
    assert sorted(p.name for p in folder.iterdir()) == ["model.xml"]


def test_the_installed_built_in_model_caches_in_the_users_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builtin = runs.BUILTIN_DIR
    assert quantize.cache_folder(builtin, "abc") == tmp_path / "imdb-sentiment" / "int8" / "builtin-abc"
    (tmp_path / "run").mkdir()
    assert quantize.cache_folder(tmp_path / "run", "abc") == tmp_path / "run" / "int8"


def test_the_packed_encoder_is_refused_with_a_reason(bilstm, tmp_path):
    bilstm.encoder.mode = "packed"
    with pytest.raises(runs.RunError, match="padded_exact and naive encoders, not packed"):
        quantize.bilstm_int8(bilstm, tmp_path)


def test_int8_calibration_without_the_dataset_says_what_it_needs(transformer_run, tmp_path, monkeypatch):
    import shutil

    from imdb_sentiment.core import data
    from imdb_sentiment.inference.predictors import load_predictor

    run = shutil.copytree(transformer_run, tmp_path / "run", ignore=shutil.ignore_patterns("int8"))

    def missing(*_, **__):
        raise data.DataError("no aclImdb folder or archive at /nowhere")

    monkeypatch.setattr(data, "splits_for", missing)
    with pytest.raises(runs.RunError, match="calibrates once on 256 training reviews.*/nowhere"):
        load_predictor(run, quantize="int8")


@pytest.mark.parametrize("fixture", ["bilstm_run", "transformer_run"])
def test_int8_refuses_a_preloaded_allocator_instead_of_crashing(fixture, request, monkeypatch):
    from imdb_sentiment.inference.predictors import load_predictor

    run = request.getfixturevalue(fixture)
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")
    with pytest.raises(runs.RunError, match="crashes under a preloaded tcmalloc.*IMDB_SENTIMENT_ALLOCATOR=system"):
        load_predictor(run, quantize="int8")


@pytest.mark.skipif(allocator.find_library("tcmalloc") is None, reason="tcmalloc is not installed here "
                    "(Debian: libtcmalloc-minimal4; .ci/run installs it)")
def test_the_int8_transformer_runs_from_the_command_where_tcmalloc_is_installed(transformer_run):
    import subprocess
    import sys

    # The installed command preloads tcmalloc, under which OpenVINO aborts: an int8 command must run without it.
    command = [sys.executable, "-m", "imdb_sentiment.apps.launcher", "predict", "--run", str(transformer_run),
               "--quantize", "int8", "A wonderful, moving film."]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "-int8: " in done.stdout and "P(positive)=" in done.stdout


def test_the_int8_transformer_keeps_padding_out_of_each_review(transformer_run):
    from imdb_sentiment.inference.predictors import load_predictor

    # The graph is traced once, on a calibration batch with no padding: padding must still be masked afterwards.
    int8 = load_predictor(transformer_run, quantize="int8")
    texts = ["A wonderful, moving film.", "Dull and far too long. " * 20]
    alone = [int8.predict([text])[0].p_positive for text in texts]
    assert [p.p_positive for p in int8.predict(texts)] == pytest.approx(alone, abs=1e-4)


def test_the_int8_transformer_is_cached_and_needs_no_data_once_built(transformer_run, tmp_path, monkeypatch, capfd):
    import shutil

    from imdb_sentiment.core import data
    from imdb_sentiment.inference.predictors import load_predictor

    transformer_run = shutil.copytree(transformer_run, tmp_path / "run", ignore=shutil.ignore_patterns("int8"))
    texts = ["A wonderful, moving film.", "Dull and far too long."]
    first = [p.p_positive for p in load_predictor(transformer_run, quantize="int8").predict(texts)]
    assert capfd.readouterr().out == ""  # building it draws on stderr: stdout is where predict writes its results
    assert (Path(transformer_run) / "int8" / "transformer.openvino" / "model.xml").exists()
    monkeypatch.setattr(data, "splits_for", lambda *_, **__: pytest.fail("calibrated again"))
    again = [p.p_positive for p in load_predictor(transformer_run, quantize="int8").predict(texts)]
    assert again == pytest.approx(first, abs=1e-6)


def test_torchaos_cpu_build_notices_are_dropped_and_its_other_warnings_kept(caplog):
    import logging

    import imdb_sentiment  # noqa: F401  (installs the filter)

    logging.getLogger("torchao").warning("Failed to load %s: Could not load this library", "_C_mxfp8.so")
    logging.getLogger("torchao").warning("a real problem")
    assert [r.getMessage() for r in caplog.records] == ["a real problem"]


@pytest.mark.parametrize("features, bilstm, transformer", [
    (["avx2", "avx512f", "avx512_vnni", "avx512_bf16"], "int8", "int8"),
    (["avx2"], "int8", None),  # int8 matrix products without VNNI: no faster than fp32 (0.98x measured)
    (["avx2", "amx_int8"], "int8", "int8"),
    ([], None, None),  # not x86 with AVX2: the int8 kernels were never measured there
])
def test_auto_quantization_picks_int8_where_it_pays(monkeypatch, features, bilstm, transformer):
    from imdb_sentiment.core import hardware
    from imdb_sentiment.inference.predictors import auto_quantization

    monkeypatch.setattr(hardware, "cpu_features", lambda: features)
    assert (auto_quantization("bilstm"), auto_quantization("transformer"), auto_quantization("tfidf")) == \
        (bilstm, transformer, None)


def test_quantize_auto_loads_the_built_in_model(capsys):
    from imdb_sentiment.apps.cli import main
    from imdb_sentiment.inference.predictors import auto_quantization

    assert main(["predict", "--quantize", "auto", "A superb film."]) == 0
    expected = "builtin-int8" if auto_quantization("bilstm") else "builtin"
    assert f"{expected}: positive" in capsys.readouterr().out


def test_an_int8_teacher_labels_with_the_int8_predictors_logits(transformer_run):
    import numpy as np

    from imdb_sentiment.inference.predictors import load_predictor, teacher_logits

    texts = ["A wonderful, moving film.", "Dull and far too long. " * 20, "not bad at all"]
    logits = teacher_logits(transformer_run, texts, progress=False, precision="int8")
    int8 = load_predictor(transformer_run, quantize="int8")
    assert logits[:, 1] - logits[:, 0] == pytest.approx([r.margin for r in int8.predict(texts)], abs=1e-4)
    fp32 = teacher_logits(transformer_run, texts, progress=False)
    assert not np.allclose(logits, fp32, atol=1e-6)  # quantized, not the fp32 model under another name


def test_int8_test_scores_are_saved_apart_from_the_runs_own(transformer_run, tmp_path):
    import shutil

    import numpy as np

    from imdb_sentiment.core.data import splits_for
    from imdb_sentiment.inference.evaluate import test_scores
    from imdb_sentiment.inference.predictors import load_predictor

    run = shutil.copytree(transformer_run, tmp_path / "run")
    int8 = load_predictor(run, quantize="int8")
    test = splits_for(int8.cfg)["test"]
    probs = test_scores(int8, test)
    assert np.array_equal(np.load(run / "test_probabilities-int8.npy"), probs)
    assert np.array_equal(test_scores(load_predictor(run), test), np.load(transformer_run / runs.TEST_PROBABILITIES))
    runs.write_test_probabilities(run, np.full(len(test), 0.25), "int8")  # what the next report reads
    assert np.array_equal(test_scores(load_predictor(run, quantize="int8"), test), np.full(len(test), 0.25))


def test_a_run_is_calibrated_on_its_int8_models_scores(transformer_run, tmp_path):
    import json
    import shutil

    from imdb_sentiment.core.data import splits_for
    from imdb_sentiment.inference.evaluate import calibrate_run, test_scores
    from imdb_sentiment.inference.predictors import load_predictor

    run = shutil.copytree(transformer_run, tmp_path / "run")
    (run / "calibration.json").unlink(missing_ok=True)
    int8 = load_predictor(run, quantize="int8")
    test_scores(int8, splits_for(int8.cfg)["test"])  # what the report reads, scored once
    result = calibrate_run(run, quantize="int8")
    saved = json.loads((run / "calibration.json").read_text())
    assert saved["fitted_on"] == "validation split, int8 model" and saved["temperature"] == result["temperature"]
    assert "test_ece_after" in result  # from the int8 test scores
    assert load_predictor(run, quantize="int8").calibration.temperature == pytest.approx(result["temperature"])
