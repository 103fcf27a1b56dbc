"""int8 for CPU inference, each model kind on the runtime that measured fastest here (docs/speed.md):

- BiLSTM: the whole classifier exported to ONNX, its LSTM given int8 weights by ONNX Runtime's dynamic quantization
  (`DynamicQuantizeLSTM`). PyTorch's dynamic int8 LSTM was slower than its fp32 oneDNN kernel (0.94x).
- Transformer: static int8 on OpenVINO, by NNCF's post-training quantization: weights per channel, activation scales
  calibrated once on 256 training reviews, attention's query-key product in int8 too, and what stays in floating point
  in bf16 where the CPU has it natively. torchao's static int8 (PyTorch 2 export, compiled by TorchInductor) was
  2.8-3.0x fp32 here: it leaves attention in floating point, where 40% of its time went (results/inference/).

Both are built once and cached in the run directory's `int8/` folder, stamped with a fingerprint of the weights and
library versions they came from, so a retrained run or an upgraded library rebuilds them; a run directory that
cannot be written (the built-in model, inside the installed package) caches under the user's cache folder.
"""

from __future__ import annotations

import contextlib
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

import torch
from torch import nn

from . import runs

CALIBRATION_REVIEWS = 256
INSTALL_HINT = "pip install 'imdb-sentiment[int8]'"


def fingerprint(model: nn.Module, *versions: str) -> str:
    """A digest of the model's weights and the versions of what converts them."""
    digest = hashlib.sha256("\n".join(versions).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:20]


def cache_folder(run_dir: Path, key: str) -> Path:
    package = Path(__file__).resolve().parent
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


def bilstm_int8(model: nn.Module, run_dir: Path) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The classifier's logits, (input_ids, lengths) -> (B,), from its int8 ONNX Runtime graph."""
    ort = _require("onnxruntime")
    _require("onnx")
    if model.encoder.mode == "packed":
        raise runs.RunError("--quantize int8 runs the padded_exact and naive encoders, not packed")
    key = fingerprint(model, f"torch {torch.__version__}", f"onnxruntime {ort.__version__}", model.encoder.mode)
    path = cached(run_dir, "bilstm.onnx", key, lambda out: _export_bilstm(model, out))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # ONNX Runtime's threads spin between calls by default and then compete with PyTorch's for the same cores:
    # with spinning on, the int8 model ran at 0.86x fp32 in a trial, against 1.66x without (results/inference/).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        feed = {"input_ids": input_ids.long().numpy(), "lengths": lengths.long().numpy()}
        return torch.from_numpy(session.run(None, feed)[0])

    return logits


def _export_bilstm(model: nn.Module, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    float_graph = out.with_name(out.name + ".fp32")
    example = (torch.ones(2, 8, dtype=torch.long), torch.tensor([8, 5]))
    with _quiet("root"), torch.no_grad():
        torch.onnx.export(model.eval(), example, str(float_graph), input_names=["input_ids", "lengths"],
                          output_names=["logits"], dynamo=False, opset_version=17,
                          dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "lengths": {0: "batch"},
                                        "logits": {0: "batch"}})
        quantize_dynamic(str(float_graph), str(out), op_types_to_quantize=["LSTM"], weight_type=QuantType.QInt8)
    float_graph.unlink()


class OpenVinoTransformer:
    """(input_ids, attention_mask) -> logits from the run's int8 OpenVINO model, one call at a time (an infer
    request is not safe to share between threads, and on a CPU a second one would only compete for its cores)."""

    def __init__(self, compiled):
        self.request = compiled.create_infer_request()
        self.lock = threading.Lock()

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with self.lock:
            outputs = self.request.infer({"input_ids": input_ids.long().numpy(),
                                          "attention_mask": attention_mask.long().numpy()})
        return torch.from_numpy(outputs[0]).float()


def transformer_int8(model: nn.Module, run_dir: Path, calibration: Callable[[], Iterable[dict]]) -> OpenVinoTransformer:
    """The run's Transformer in static int8 on OpenVINO, warmed up; `calibration` gives the batches (dicts of
    input_ids and attention_mask) whose activations set the int8 scales the first time."""
    from .allocator import SETTING, preloaded

    preloaded_allocator = preloaded(os.environ)  # --quantize int8 on the command line keeps tcmalloc out (allocator.py)
    if preloaded_allocator:
        raise runs.RunError(f"OpenVINO, which runs the int8 Transformer, crashes under a preloaded "
                            f"{preloaded_allocator} (LD_PRELOAD={os.environ['LD_PRELOAD']}); run without it, or set "
                            f"{SETTING}=system")
    ov = _require("openvino")
    versions = [f"{name} {_version(name)}" for name in ("torch", "openvino", "nncf")]  # nncf: imported to build only
    key = fingerprint(model, *versions, f"calibration {CALIBRATION_REVIEWS}")
    folder = cached(run_dir, "transformer.openvino", key, lambda out: _static_int8_openvino(model, calibration, out))
    core = ov.Core()
    compiled = core.compile_model(folder / "model.xml", "CPU", {
        # bf16 for what stays in floating point (layer norms, GELU, softmax) where the CPU has it natively.
        "INFERENCE_PRECISION_HINT": "bf16" if runs.cpu_has_bf16() else "f32",
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        # OpenVINO keeps the kernels it builds for each input shape, 5,000 per kind by default: about 3 MB a shape, so
        # a server meeting all 512 padded shapes grew to 2.4 GB. 64 held 300 shapes in 551 MB instead of 960 MB, at
        # 2-4% of throughput (results/serve/README.md).
        "CPU_RUNTIME_CACHE_CAPACITY": 64})
    int8 = OpenVinoTransformer(compiled)
    int8(torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))  # kernels chosen now, not later
    return int8


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
