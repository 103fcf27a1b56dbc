"""int8 for CPU inference, on OpenVINO for both model kinds (docs/speed.md):

- BiLSTM: static int8 for its LSTMs (oneDNN's int8 LSTM): input and hidden state as uint8, weights as int8, with
  scales known beforehand, so no calibration. ONNX Runtime's dynamic int8 LSTM, used before, reached 1.6-1.8x fp32
  here; PyTorch's dynamic int8 LSTM was slower than its fp32 oneDNN kernel (0.94x).
- Transformer: static int8 by NNCF's post-training quantization: weights per channel, activation scales calibrated
  once on 256 training reviews, attention's query-key product in int8 too, and what stays in floating point in bf16
  where the CPU has it natively. torchao's static int8 (PyTorch 2 export, compiled by TorchInductor) was 2.8-3.0x
  fp32 here: it leaves attention in floating point, where 40% of its time went (results/inference/).

Both are built once and cached in the run directory's `int8/` folder, stamped with a fingerprint of the weights and
library versions they came from, so a retrained run or an upgraded library rebuilds them; a run directory that
cannot be written (the built-in model, inside the installed package) caches under the user's cache folder.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.metadata
import logging
import os
import shutil
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from imdb_sentiment.core import hardware, runs

CALIBRATION_REVIEWS = 256
INSTALL_HINT = "pip install 'imdb-sentiment[int8]'"
EMBEDDING_CLIP_QUANTILE = 1.0  # the largest magnitude: nothing clipped (bench/bilstm_int8_scales.py)
# OpenVINO keeps the kernels it builds for each input shape, 5,000 per kind by default: about 3 MB a shape for the
# Transformer, so a server meeting all 512 padded shapes grew to 2.4 GB. 64 held 300 shapes in 551 MB instead of
# 960 MB, at 2-4% of throughput. The BiLSTM's take about 0.2 MB a shape, and rebuilding them cost 7-9% of its
# throughput at 64: it keeps 1,024, as oneDNN does for the fp32 LSTM (results/serve/README.md).
TRANSFORMER_CACHE_SHAPES = 64
LSTM_CACHE_SHAPES = 1024


def fingerprint(model: nn.Module, *versions: str) -> str:
    """A digest of the model's weights and the versions of what converts them."""
    digest = hashlib.sha256("\n".join(versions).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:20]


def cache_folder(run_dir: Path, key: str) -> Path:
    package = runs.BUILTIN_DIR.resolve().parent  # the installed package, often read-only
    if os.access(run_dir, os.W_OK) and package not in run_dir.resolve().parents:
        return run_dir / "int8"
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "imdb-sentiment" / "int8" / f"{run_dir.name}-{key}"


def cached(run_dir: Path, filename: str, key: str, build: Callable[[Path], None]) -> Path:
    """`filename` in the run's int8 cache, built by `build(path)` unless a copy stamped with `key` is there."""
    path = cache_folder(run_dir, key) / filename
    stamp = path.with_name(filename + ".fingerprint")
    if path.exists() and stamp.exists() and stamp.read_text().strip() == key:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"int8: building {path} (once for these weights)", file=sys.stderr)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    build(partial)
    if path.is_dir():  # a folder (an OpenVINO model's files) built for other weights
        shutil.rmtree(path)
    partial.replace(path)  # an interrupted build leaves a .partial file or folder, never a half-written cache
    stamp.write_text(key + "\n")
    return path


@contextlib.contextmanager
def _quiet(*loggers: str):
    """Silence libraries' advice to the person writing the conversion, not to its user."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _missing(package: str) -> runs.RunError:
    return runs.RunError(f"--quantize int8 needs {package} ({INSTALL_HINT})")


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise _missing(module) from err


def _version(package: str) -> str:
    """An installed package's version, without the cost of importing it."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError as err:
        raise _missing(package) from err


def bilstm_int8(model: nn.Module, run_dir: Path) -> OpenVinoModel:
    """The BiLSTM classifier in static int8 on OpenVINO, warmed up: (input_ids, lengths) -> logits (B,)."""
    if model.encoder.mode == "packed":
        raise runs.RunError("--quantize int8 runs the padded_exact and naive encoders, not packed")
    ov = _openvino()
    key = fingerprint(model, f"torch {torch.__version__}", f"openvino {_version('openvino')}",
                      f"embedding clip {EMBEDDING_CLIP_QUANTILE}")
    folder = cached(run_dir, "bilstm.openvino", key, lambda out: _static_int8_lstm(model, out))
    compiled = ov.Core().compile_model(folder / "model.xml", "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": torch.get_num_threads(), "CPU_RUNTIME_CACHE_CAPACITY": LSTM_CACHE_SHAPES})
    int8 = OpenVinoModel(compiled, ("input_ids", "lengths"), folder)
    int8(torch.ones(2, 16, dtype=torch.long), torch.tensor([16, 9]))  # kernels chosen now, not on the first request
    return int8


def _static_int8_lstm(model: nn.Module, out: Path, weight_scales: str = "one",
                      clip_quantile: float = EMBEDDING_CLIP_QUANTILE) -> None:
    """Every LSTM in int8 (oneDNN's int8 LSTM through OpenVINO): inputs and hidden state as uint8 over [-1, 1],
    weights as int8 with one scale. No calibration is needed: the hidden state is a tanh, and the embedding table
    is known, so it is rescaled into [-1, 1] by its largest magnitude, with the first layer's input weights scaled up
    to match (the same function). Clipping its rarest values for a finer input scale lost more than it gained.

    oneDNN's int8 LSTM shares one input scale between the layer's input and its hidden state, and one weight scale
    between input and recurrent weights. OpenVINO 2026.4 also applies one LSTM's weight scales to another of the
    same shape (tests/test_quantize.py), and per-channel scales lost more accuracy than one scale: hence one scale
    for all of them. `weight_scales` ("one", "per_lstm", "per_channel") and `clip_quantile` are there for
    bench/bilstm_int8_scales.py, which measured the alternatives (docs/speed.md).
    """
    import openvino as ov
    from openvino import opset13 as ops
    from openvino.passes import ConstantFolding, Manager

    scaled = copy.deepcopy(model).eval()
    # A bidirectional LSTM is split in two by OpenVINO before its int8 rewrite looks for LSTMs, and stays in float.
    scaled.encoder.split_directions = True
    with torch.no_grad():
        table = scaled.embedding.weight
        # numpy: torch.quantile refuses tables over 16.8 million values (a 300d embedding of 60,000 words)
        clip = float(np.quantile(table.abs().float().numpy(), clip_quantile))
        table /= clip
        lstm = scaled.encoder.lstm
        for name in ("weight_ih_l0", "weight_ih_l0_reverse"):
            getattr(lstm, name).mul_(clip)
        example = (torch.ones(2, 8, dtype=torch.long), torch.tensor([8, 5]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            graph = ov.convert_model(scaled, example_input=example)
    folding = Manager()
    folding.register_pass(ConstantFolding())
    folding.run_passes(graph)  # the LSTM weights as plain constants, which the int8 rewrite looks for
    cells = [op for op in graph.get_ordered_ops() if op.get_type_name() == "LSTMSequence"]
    # (directions, 4H, 1) for each LSTM: the largest input or recurrent weight of each gate unit
    row_max = [np.maximum(*(np.abs(op.input_value(k).get_node().get_data()).max(-1, keepdims=True) for k in (4, 5)))
               for op in cells]
    ranges = {"one": [np.float32(max(r.max() for r in row_max))] * len(cells),
              "per_lstm": [r.max() for r in row_max],
              "per_channel": [np.maximum.reduce(row_max)] * len(cells)}[weight_scales]

    def fake_quantize(port, high, levels: int):
        bounds = [ops.constant(np.asarray(v, dtype=np.float32)) for v in (-high, high, -high, high)]
        port.replace_source_output(ops.fake_quantize(port.get_source_output(), *bounds, levels).output(0))

    for op, weight_range in zip(cells, ranges):
        for k in (0, 1):  # the layer's input and its initial hidden state: uint8
            fake_quantize(op.input(k), 1.0, 256)
        for k in (4, 5):  # input and recurrent weights: symmetric int8
            fake_quantize(op.input(k), weight_range, 255)
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(graph, out / "model.xml", compress_to_fp16=False)


class OpenVinoModel:
    """A compiled int8 OpenVINO model called like the torch one, one call at a time (an infer request is not safe to
    share between threads, and on a CPU a second one would only compete for its cores)."""

    def __init__(self, compiled, input_names: tuple[str, ...], folder: Path | None = None):
        self.request = compiled.create_infer_request()
        self.input_names = input_names
        self.folder = folder  # the cached IR (model.xml, model.bin) it was compiled from: what export copies
        self.lock = threading.Lock()

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feed = {name: x.long().numpy() for name, x in zip(self.input_names, inputs, strict=True)}
        with self.lock:
            outputs = self.request.infer(feed)
        return torch.from_numpy(outputs[0]).float()


def transformer_int8(model: nn.Module, run_dir: Path, calibration: Callable[[], Iterable[dict]]) -> OpenVinoModel:
    """The run's Transformer in static int8 on OpenVINO, warmed up; `calibration` gives the batches (dicts of
    input_ids and attention_mask) whose activations set the int8 scales the first time."""
    ov = _openvino()
    versions = [f"{name} {_version(name)}" for name in ("torch", "openvino", "nncf")]  # nncf: imported to build only
    key = fingerprint(model, *versions, f"calibration {CALIBRATION_REVIEWS}")
    folder = cached(run_dir, "transformer.openvino", key, lambda out: _static_int8_openvino(model, calibration, out))
    compiled = ov.Core().compile_model(folder / "model.xml", "CPU", {
        # bf16 for what stays in floating point (layer norms, GELU, softmax) where the CPU has it natively.
        "INFERENCE_PRECISION_HINT": "bf16" if hardware.cpu_has_bf16() else "f32",
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        "CPU_RUNTIME_CACHE_CAPACITY": TRANSFORMER_CACHE_SHAPES})
    int8 = OpenVinoModel(compiled, ("input_ids", "attention_mask"), folder)
    int8(torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))  # kernels chosen now, not later
    return int8


def _openvino():
    """The openvino module, where it can run: its CPU plugin crashes under a preloaded tcmalloc (allocator.py)."""
    from imdb_sentiment.core.allocator import SETTING, preloaded

    preloaded_allocator = preloaded(os.environ)  # --quantize int8 on the command line keeps tcmalloc out (allocator.py)
    if preloaded_allocator:
        raise runs.RunError(f"OpenVINO, which runs int8 models, crashes under a preloaded {preloaded_allocator} "
                            f"(LD_PRELOAD={os.environ['LD_PRELOAD']}); run without it, or set {SETTING}=system")
    return _require("openvino")


def _static_int8_openvino(model: nn.Module, calibration: Callable[[], Iterable[dict]], out: Path) -> None:
    """NNCF's post-training int8 for Transformers: weights per channel, activation scales observed on the
    calibration batches, for every linear layer and attention's query-key product."""
    import openvino as ov

    nncf = _require("nncf")
    batches = [{k: b[k].long().numpy() for k in ("input_ids", "attention_mask")} for b in calibration()]
    # NNCF draws its progress bars on stdout, where predict writes its results; tracing notes are for library authors.
    with _quiet("nncf"), contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        example = {k: torch.from_numpy(v) for k, v in batches[-1].items()}
        float_model = ov.convert_model(model.eval(), example_input=example)
        int8 = nncf.quantize(float_model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER,
                             subset_size=len(batches))
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(int8, out / "model.xml")
