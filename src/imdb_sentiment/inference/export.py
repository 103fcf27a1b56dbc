"""`imdb-sentiment export RUN --format openvino|onnx [--quantize int8] --out DIR`: a BiLSTM or Transformer run as a
folder that runs without torch or this package: the model (OpenVINO IR or ONNX, fp32 or int8), its vocabulary or
tokenizer, the settings that encode a review as training did, its calibration, a model card, and `predict.py`, an
example that needs only the runtime (openvino or onnxruntime) and numpy (and, for a Transformer, tokenizers).

int8 is what each runtime does best without calibration data at hand: OpenVINO gets the run's static int8 model
(`--quantize int8`, quantize.py: built once and cached in the run); ONNX gets onnxruntime's dynamic quantization of
the fp32 graph (int8 weights, activations quantized per batch as they come).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import torch

from imdb_sentiment.core import runs
from imdb_sentiment.inference.predictors import BiLSTMPredictor, Predictor, TransformerPredictor, load_predictor

RUNTIMES = {  # how each example loads its model, and `run(inputs)`: the model's first output for a list of arrays
    "openvino": ("OpenVINO", """import openvino as ov

compiled = ov.Core().compile_model(here / "model.xml", "CPU", {"INFERENCE_PRECISION_HINT": "f32"})  # not bf16


def run(inputs):
    return compiled(inputs)[0]
"""),
    "onnx": ("onnxruntime", """import onnxruntime as ort

session = ort.InferenceSession(str(here / "model.onnx"), providers=["CPUExecutionProvider"])


def run(inputs):
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), inputs)})[0]
"""),
}
CALIBRATE = """\
    p = 1 / (1 + np.exp(-margin / card["temperature"]))
    if card.get("confidence_in"):  # an isotonic map of the chosen label's confidence, fitted on validation reviews
        confidence = max(float(np.interp(max(p, 1 - p), card["confidence_in"], card["confidence_out"])),
                         float(np.nextafter(0.5, 1)))  # above 0.5: P(positive) stays on its label's side
        p = confidence if p >= 0.5 else 1 - confidence
    print(json.dumps({"label": "positive" if margin >= 0 else "negative", "p_positive": p}))
"""
EXAMPLES = {"bilstm": '''"""Label reviews with this exported BiLSTM, on {runtime} and NumPy alone: python predict.py "A moving film." ..."""
import json, re, sys
from pathlib import Path

import numpy as np

here = Path(__file__).parent
{load}
card = json.loads((here / "model.json").read_text())
vocab = {{token: i for i, token in enumerate(json.loads((here / "vocab.json").read_text()))}}
TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\\b|[^\\W_]+(?:-[^\\W_]+)*|[^\\w\\s]")


def encode(text):  # lower case, no <br />, "don't" -> "do n't", as in training; head+tail keeps both ends
    text = re.sub(r"n't\\b", " n't", re.sub(r"<br\\s*/?>", " ", text.lower(), flags=re.I))
    ids, n, head = [vocab.get(t, 1) for t in TOKEN.findall(text)], card["max_length"], card["max_length"] // 4
    if len(ids) > n:
        ids = ids[:n] if card["truncation"] == "head" else ids[:head] + ids[len(ids) - (n - head):]
    return ids or [1]


for text in sys.argv[1:]:
    ids = encode(text)
    margin = float(run([np.array([ids]), np.array([len(ids)])]).reshape(-1)[0])
{calibrate}''', "transformer": '''"""Label reviews with this exported Transformer, on {runtime}, tokenizers and NumPy alone:
python predict.py "A moving film." ..."""
import json, sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

here = Path(__file__).parent
{load}
card = json.loads((here / "model.json").read_text())
tokenizer = Tokenizer.from_file(str(here / "tokenizer.json"))
tokenizer.no_truncation()
for text in sys.argv[1:]:
    encoded = tokenizer.encode(text)  # special tokens around the review's own; head+tail keeps both its ends
    ids, special = encoded.ids, encoded.special_tokens_mask
    first, last = special.index(0), len(ids) - special[::-1].index(0)
    room, head, content = card["max_length"] - (len(ids) - (last - first)), card["head_tokens"], ids[first:last]
    if len(content) > room:
        content = content[:room] if card["truncation"] == "head" else content[:head] + content[len(content) - (room - head):]
    ids = ids[:first] + content + ids[last:]
    logits = run([np.array([ids]), np.ones((1, len(ids)), dtype=np.int64)])[0]
    margin = float(logits[1] - logits[0])
{calibrate}'''}


FORMATS = ("openvino", "onnx")


def export_run(run_dir: str | Path, out: str | Path, fmt: str = "openvino", quantize: str | None = None) -> Path:
    """Write the exported folder `out` (refused if it exists and is not empty)."""
    if fmt not in FORMATS:
        raise runs.RunError(f"--format {fmt}: export writes {' or '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise runs.RunError(f"{out} is not empty; choose a new folder")
    predictor = load_predictor(run_dir)
    if predictor.kind not in EXAMPLES:
        raise runs.RunError(f"{run_dir}: a {predictor.kind} run is exported as it is (its model.json and "
                            f"model.safetensors); export takes BiLSTM and Transformer runs")
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        (_onnx if fmt == "onnx" else _openvino)(predictor, out, quantize)
    m = predictor.cfg.model
    precision = "int8" if quantize else "fp32"
    settings = {"kind": predictor.kind, "format": fmt, "precision": precision, "max_length": m.max_length,
                "truncation": m.truncation, "head_tokens": getattr(m, "head_tokens", None),
                "temperature": 1.0, **predictor.calibration.settings(), "labels": ["negative", "positive"],
                "source_run": str(predictor.run_dir.name)}
    if isinstance(predictor, BiLSTMPredictor):
        shutil.copy(predictor.run_dir / "vocab.json", out / "vocab.json")
    else:
        predictor.tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    runs.write_json(out / "model.json", settings)
    runtime, load = RUNTIMES[fmt]
    (out / "predict.py").write_text(EXAMPLES[predictor.kind].format(runtime=runtime, load=load, calibrate=CALIBRATE))
    package = "openvino" if fmt == "openvino" else "onnxruntime"
    (out / "README.md").write_text(
        f"# {predictor.run_dir.name}, exported\n\nA {predictor.kind} sentiment classifier for English movie reviews "
        f"(positive or negative), from `imdb-sentiment export`: {runtime} ({fmt}) in {precision}, reading "
        f"{m.max_length} tokens ({m.truncation}). P(positive) = sigmoid(margin) with the run's "
        f"calibration ({predictor.calibration.describe()}; fitted on its validation split). `python predict.py \"A moving "
        f"film.\"` runs it with {package}{' and tokenizers' if predictor.kind == 'transformer' else ''} and numpy "
        f"only.\n")
    return out


def _openvino(predictor: Predictor, out: Path, quantize: str | None) -> None:
    if quantize:  # the run's static int8 model, as `--quantize int8` runs it
        predictor.quantize(quantize)
        for name in ("model.xml", "model.bin"):
            shutil.copy(predictor.int8.folder / name, out / name)
        return
    import openvino as ov

    ov.save_model(ov.convert_model(_exportable(predictor), example_input=_example(predictor)), out / "model.xml",
                  compress_to_fp16=False)


def _onnx(predictor: Predictor, out: Path, quantize: str | None) -> None:
    names = ["input_ids", "attention_mask" if isinstance(predictor, TransformerPredictor) else "lengths"]
    fp32 = out / ("model.fp32.onnx" if quantize else "model.onnx")
    torch.onnx.export(_exportable(predictor), _example(predictor), fp32, dynamo=False, input_names=names,
                      output_names=["logits"], opset_version=17,
                      dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, names[1]: {0: "batch", 1: "tokens"}
                                    if names[1] == "attention_mask" else {0: "batch"}, "logits": {0: "batch"}})
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(fp32, out / "model.onnx", weight_type=QuantType.QInt8)
        fp32.unlink()


def _exportable(predictor: Predictor) -> torch.nn.Module:
    if isinstance(predictor, TransformerPredictor):
        return _Logits(predictor.model).eval()
    return predictor.model.eval()


class _Logits(torch.nn.Module):
    """A Hugging Face classifier as (input_ids, attention_mask) -> logits, the two inputs the example feeds."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def _example(predictor: Predictor) -> tuple:
    if isinstance(predictor, TransformerPredictor):
        return torch.ones(2, 12, dtype=torch.long), torch.ones(2, 12, dtype=torch.long)
    return torch.ones(2, 8, dtype=torch.long), torch.tensor([8, 5])
