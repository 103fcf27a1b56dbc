"""`imdb-sentiment export RUN --out DIR`: a BiLSTM or Transformer run as a folder that runs without torch or this
package: the model as OpenVINO IR (fp32), its vocabulary or tokenizer, the settings that encode a review as training
did, its calibration, a model card, and `predict.py`, an example that needs only openvino and numpy (and, for a
Transformer, tokenizers).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import torch

from imdb_sentiment.core import runs
from imdb_sentiment.inference.predictors import BiLSTMPredictor, Predictor, TransformerPredictor, load_predictor

EXAMPLES = {"bilstm": '''"""Label reviews with this exported BiLSTM, on OpenVINO and NumPy alone: python predict.py "A moving film." ..."""
import json, re, sys
from pathlib import Path

import numpy as np
import openvino as ov

here = Path(__file__).parent
card = json.loads((here / "model.json").read_text())
vocab = {token: i for i, token in enumerate(json.loads((here / "vocab.json").read_text()))}
TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\\b|[^\\W_]+(?:-[^\\W_]+)*|[^\\w\\s]")


def encode(text):  # lower case, no <br />, "don't" -> "do n't", as in training; head+tail keeps both ends
    text = re.sub(r"n't\\b", " n't", re.sub(r"<br\\s*/?>", " ", text.lower(), flags=re.I))
    ids, n, head = [vocab.get(t, 1) for t in TOKEN.findall(text)], card["max_length"], card["max_length"] // 4
    if len(ids) > n:
        ids = ids[:n] if card["truncation"] == "head" else ids[:head] + ids[len(ids) - (n - head):]
    return ids or [1]


model = ov.Core().compile_model(here / "model.xml", "CPU", {"INFERENCE_PRECISION_HINT": "f32"})  # not bf16
for text in sys.argv[1:]:
    ids = encode(text)
    margin = float(model([np.array([ids]), np.array([len(ids)])])[0].reshape(-1)[0])
    p = 1 / (1 + np.exp(-margin / card["temperature"]))
    print(json.dumps({"label": "positive" if margin >= 0 else "negative", "p_positive": p}))
''', "transformer": '''"""Label reviews with this exported Transformer, on OpenVINO, tokenizers and NumPy alone:
python predict.py "A moving film." ..."""
import json, sys
from pathlib import Path

import numpy as np
import openvino as ov
from tokenizers import Tokenizer

here = Path(__file__).parent
card = json.loads((here / "model.json").read_text())
tokenizer = Tokenizer.from_file(str(here / "tokenizer.json"))
tokenizer.no_truncation()
model = ov.Core().compile_model(here / "model.xml", "CPU", {"INFERENCE_PRECISION_HINT": "f32"})  # not bf16
for text in sys.argv[1:]:
    encoded = tokenizer.encode(text)  # special tokens around the review's own; head+tail keeps both its ends
    ids, special = encoded.ids, encoded.special_tokens_mask
    first, last = special.index(0), len(ids) - special[::-1].index(0)
    room, head, content = card["max_length"] - (len(ids) - (last - first)), card["head_tokens"], ids[first:last]
    if len(content) > room:
        content = content[:room] if card["truncation"] == "head" else content[:head] + content[len(content) - (room - head):]
    ids = ids[:first] + content + ids[last:]
    logits = model([np.array([ids]), np.ones((1, len(ids)), dtype=np.int64)])[0][0]
    margin = float(logits[1] - logits[0])
    p = 1 / (1 + np.exp(-margin / card["temperature"]))
    print(json.dumps({"label": "positive" if margin >= 0 else "negative", "p_positive": p}))
'''}


def export_run(run_dir: str | Path, out: str | Path, fmt: str = "openvino") -> Path:
    """Write the exported folder `out` (refused if it exists and is not empty)."""
    if fmt != "openvino":
        raise runs.RunError(f"--format {fmt}: only openvino is exported in this version")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise runs.RunError(f"{out} is not empty; choose a new folder")
    predictor = load_predictor(run_dir)
    if predictor.kind not in EXAMPLES:
        raise runs.RunError(f"{run_dir}: a {predictor.kind} run is exported as it is (its model.json and "
                            f"model.safetensors); export takes BiLSTM and Transformer runs")
    import openvino as ov

    out.mkdir(parents=True, exist_ok=True)
    m = predictor.cfg.model
    settings = {"kind": predictor.kind, "max_length": m.max_length, "truncation": m.truncation,
                "head_tokens": getattr(m, "head_tokens", None), "temperature": predictor.temperature,
                "labels": ["negative", "positive"], "source_run": str(predictor.run_dir.name)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        ov.save_model(ov.convert_model(_exportable(predictor), example_input=_example(predictor)),
                      out / "model.xml", compress_to_fp16=False)
    if isinstance(predictor, BiLSTMPredictor):
        shutil.copy(predictor.run_dir / "vocab.json", out / "vocab.json")
    else:
        predictor.tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    runs.write_json(out / "model.json", settings)
    (out / "predict.py").write_text(EXAMPLES[predictor.kind])
    (out / "README.md").write_text(
        f"# {predictor.run_dir.name}, exported\n\nA {predictor.kind} sentiment classifier for English movie reviews "
        f"(positive or negative), from `imdb-sentiment export`: OpenVINO IR in fp32, reading {m.max_length} tokens "
        f"({m.truncation}). P(positive) = sigmoid(margin / {predictor.temperature:g}) (temperature scaling fitted on "
        f"the run's validation split; 1 means none). `python predict.py \"A moving film.\"` runs it with openvino"
        f"{' and tokenizers' if predictor.kind == 'transformer' else ''} and numpy only.\n")
    return out


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
