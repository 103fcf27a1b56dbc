"""int8 for CPU inference, each model kind on the runtime that measured fastest here (docs/speed.md):

- BiLSTM: the whole classifier exported to ONNX, its LSTM given int8 weights by ONNX Runtime's dynamic quantization
  (`DynamicQuantizeLSTM`). PyTorch's dynamic int8 LSTM was slower than its fp32 oneDNN kernel (0.94x).
- Transformer: static int8 by PyTorch 2 export quantization (torchao's `X86InductorQuantizer`): weights per channel,
  activation scales calibrated once on 256 training reviews, the graph compiled by TorchInductor, and the layers
  left in floating point run in bf16 where the CPU has it natively. Dynamic int8 (weights only) was 1.9x fp32; this
  is 2.8-3.0x (results/inference/).

Both are built once and cached in the run directory's `int8/` folder, stamped with a fingerprint of the weights and
library versions they came from, so a retrained run or an upgraded library rebuilds them; a run directory that
cannot be written (the built-in model, inside the installed package) caches under the user's cache folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import sys
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
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")  # torch.export.save wants its suffix kept
    build(partial)
    partial.replace(path)  # an interrupted build leaves a .partial file, never a half-written cache
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


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise runs.RunError(f"--quantize int8 needs {module} ({INSTALL_HINT})") from err


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


def compiler() -> str | None:
    """The C++ compiler TorchInductor would use, if there is one."""
    return next(filter(None, (shutil.which(c) for c in (os.environ.get("CXX", ""), "g++", "c++", "clang++"))), None)


class CompiledInt8(nn.Module):
    """A calibrated int8 graph (`calibrated_int8`) compiled by TorchInductor, the layers it leaves in floating point
    run in bf16 if `bf16`."""

    def __init__(self, program: nn.Module, bf16: bool):
        super().__init__()
        self.program = torch.compile(program, dynamic=True)
        self.bf16 = bf16

    def forward(self, *args, **kwargs):
        from torch._inductor import config

        # Freezing folds the weights into the graph as constants, which is what lets Inductor pack them for
        # oneDNN's int8 kernels; set for these calls only, as it would change any other compiled model's behaviour.
        with config.patch(freezing=True), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.program(*args, **kwargs)


class Int8Transformer(CompiledInt8):
    """A statically quantized, compiled sequence classifier: (input_ids, attention_mask) -> logits."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids=input_ids, attention_mask=attention_mask).logits.float()


def transformer_int8(model: nn.Module, run_dir: Path, calibration: Callable[[], Iterable[dict]]) -> Int8Transformer:
    """The run's Transformer in static int8, compiled and warmed up; `calibration` gives the batches (dicts of
    input_ids and attention_mask) whose activations set the int8 scales the first time."""
    torchao = _require("torchao")
    if compiler() is None:
        raise runs.RunError("--quantize int8 compiles the Transformer with TorchInductor, which needs a C++ compiler "
                            "(g++ or clang++); none was found on PATH")
    key = fingerprint(model, f"torch {torch.__version__}", f"torchao {torchao.__version__}",
                      f"calibration {CALIBRATION_REVIEWS}")
    path = cached(run_dir, "transformer.pt2", key,
                  lambda out: torch.export.save(_static_int8_program(model, list(calibration())), out))
    print("int8: compiling the Transformer with TorchInductor (about half a minute on 2 cores)", file=sys.stderr)
    with torch.inference_mode():  # as predictions run: grad mode is part of what a compiled graph is valid for
        int8 = Int8Transformer(torch.export.load(path).module(), bf16=runs.cpu_has_bf16())
        # Compile now, for a batch and for a single review (size 1 is specialised), not on a user's first request.
        for batch_size in (2, 1):
            int8(torch.ones(batch_size, 16, dtype=torch.long), torch.ones(batch_size, 16, dtype=torch.long))
    return int8


def calibrated_int8(graph: nn.Module, examples: Iterable[tuple[tuple, dict]]) -> nn.Module:
    """An exported graph (`torch.export.export(...).module()`) with int8 weights per channel and int8 activations
    whose scales are observed on `examples` ((args, kwargs) pairs): torchao's X86InductorQuantizer recipe, which
    TorchInductor lowers to oneDNN's int8 kernels."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
    graph = prepare_pt2e(graph, quantizer)
    for args, kwargs in examples:  # observers record each activation's range
        graph(*args, **kwargs)
    return convert_pt2e(graph)


def _static_int8_program(model: nn.Module, batches: list[dict]):
    inputs = [{k: b[k] for k in ("input_ids", "attention_mask")} for b in batches]
    batch, length = torch.export.Dim("batch", max=4096), torch.export.Dim.DYNAMIC
    shapes = {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}}
    with torch.no_grad():
        graph = torch.export.export(model.eval(), (), inputs[0], dynamic_shapes=shapes).module()
        graph = calibrated_int8(graph, [((), example) for example in inputs])
        return torch.export.export(graph, (), inputs[0], dynamic_shapes=shapes)
