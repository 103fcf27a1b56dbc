"""An exported run runs with OpenVINO alone (no torch, no imdb_sentiment) and scores as the predictor does."""
import json
import shutil
import subprocess
import sys

import pytest
from scipy.special import expit

from imdb_sentiment.core.runs import RunError
from imdb_sentiment.inference.export import export_run
from imdb_sentiment.inference.predictors import load_predictor

pytest.importorskip("openvino")
TEXTS = ["A moving, beautifully acted film.", "Dull, and far too long.", "Not bad at all.",
         "The plot wanders for an hour. " * 60 + "Still, a wonderful ending."]  # longer than either model reads
# Imports of what the example must not need fail, so a hidden dependency shows up as an error.
BLOCK = """import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "imdb_sentiment", "transformers", "sklearn"):
            raise ImportError(f"the exported example imported {name}")
sys.meta_path.insert(0, Block())
"""


def run_alone(out, tmp_path) -> list[dict]:
    """The exported example's output for TEXTS, run with torch and this package made unimportable."""
    (tmp_path / "block").mkdir(exist_ok=True)
    (tmp_path / "block" / "sitecustomize.py").write_text(BLOCK)
    result = subprocess.run([sys.executable, str(out / "predict.py"), *TEXTS], capture_output=True, text=True,
                            env={"PYTHONPATH": str(tmp_path / "block"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("fmt", ["openvino", "onnx"])
@pytest.mark.parametrize("run_name", ["builtin", "transformer_run"])
def test_the_example_runs_alone_and_agrees_with_the_predictor(run_name, fmt, request, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    run = "builtin" if run_name == "builtin" else request.getfixturevalue(run_name)
    exported = run_alone(export_run(run, tmp_path / "exported", fmt), tmp_path)
    expected = load_predictor(run).predict(TEXTS)
    for e, p in zip(exported, expected):
        assert e["label"] == p.label and e["p_positive"] == pytest.approx(p.p_positive, abs=1e-4)


@pytest.mark.parametrize("fmt", ["openvino", "onnx"])
@pytest.mark.parametrize("run_name", ["builtin", "transformer_run"])
def test_an_int8_export_stays_close_to_the_fp32_predictor(run_name, fmt, request, tmp_path):
    """int8 agrees with fp32 to what quantization allows: on the tiny test Transformer (random embeddings, few
    training steps) and the built-in BiLSTM, P(positive) within 0.05 and the same labels on clear reviews; on the
    real models, the agreement is measured on the test set (docs/speed.md, results/inference/export.json)."""
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    run = "builtin" if run_name == "builtin" else request.getfixturevalue(run_name)
    out = export_run(run, tmp_path / "exported", fmt, quantize="int8")
    assert json.loads((out / "model.json").read_text())["precision"] == "int8"
    exported = run_alone(out, tmp_path)
    expected = load_predictor(run).predict(TEXTS)
    for e, p in zip(exported, expected):
        assert e["p_positive"] == pytest.approx(p.p_positive, abs=0.05)
        if abs(p.p_positive - 0.5) > 0.1:
            assert e["label"] == p.label


def test_the_example_applies_an_isotonic_calibration(transformer_run, tmp_path):
    run = shutil.copytree(transformer_run, tmp_path / "calibrated")
    (run / "calibration.json").write_text(json.dumps({"method": "isotonic", "temperature": 1.0,
                                                      "confidence_in": [0.5, 0.52, 0.6],
                                                      "confidence_out": [0.5, 0.7, 0.9]}))
    exported = run_alone(export_run(run, tmp_path / "exported"), tmp_path)
    expected = load_predictor(run).predict(TEXTS)
    assert any(abs(p.p_positive - expit(p.margin)) > 0.01 for p in expected)  # the map is not a no-op here
    for e, p in zip(exported, expected):
        assert e["label"] == p.label and e["p_positive"] == pytest.approx(p.p_positive, abs=1e-4)


def test_export_refuses_a_used_folder_and_other_kinds(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    with pytest.raises(RunError, match="not empty"):
        export_run("builtin", tmp_path / "used")
    with pytest.raises(RunError, match="export writes openvino or onnx"):
        export_run("builtin", tmp_path / "new", fmt="tflite")
