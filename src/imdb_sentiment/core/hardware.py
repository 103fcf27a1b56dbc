"""What the machine can run: its description for every recorded number, and the precisions it supports."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from imdb_sentiment.core.runs import RunError


# The instruction sets that decide bf16 and int8 speed: a number measured with them may not hold without them.
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


# oneDNN's ISA cap, read by PyTorch's bundled oneDNN and by OpenVINO's, makes a CPU run the kernels of an older one
# (ONEDNN_MAX_CPU_ISA=AVX2 on an AVX-512 CPU: the AVX2 kernels). The features each cap leaves, so that bf16 and
# `--quantize auto` decide as on that CPU, and every speed number says it was capped.
ISA_CAPS = {"SSE41": (), "AVX": (), "AVX2": ("avx2",), "AVX2_VNNI": ("avx2",), "AVX2_VNNI_2": ("avx2",),
            "AVX512_CORE": ("avx2", "avx512f"), "AVX512_CORE_VNNI": ("avx2", "avx512f", "avx512_vnni"),
            "AVX512_CORE_BF16": ("avx2", "avx512f", "avx512_vnni", "avx512_bf16"),
            "AVX512_CORE_FP16": ("avx2", "avx512f", "avx512_vnni", "avx512_bf16"),
            "AVX512_CORE_AMX": CPU_FEATURES, "AVX512_CORE_AMX_FP16": CPU_FEATURES}
ISA_CAP_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


def isa_cap() -> str | None:
    """The instruction-set cap set for oneDNN in the environment, if it is one oneDNN knows."""
    for variable in ISA_CAP_VARIABLES:
        value = os.environ.get(variable, "").upper()
        if value in ISA_CAPS:
            return value
    return None


def _cpu_flags() -> list[str]:
    try:
        return next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")), [])
    except OSError:
        return []


def cpu_features(capped: bool = True) -> list[str]:
    """Which of CPU_FEATURES this CPU has (Linux; empty elsewhere), less those above the ISA cap if one is set."""
    cap, flags = isa_cap() if capped else None, set(_cpu_flags())
    return [f for f in CPU_FEATURES if f in flags and (cap is None or f in ISA_CAPS[cap])]


def hardware() -> str:
    if torch.cuda.is_available():
        names = {torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())}
        return f"{torch.cuda.device_count()}x {', '.join(sorted(names))} (CUDA)"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    features, cap = ", ".join(cpu_features(capped=False)), isa_cap()
    if cap:
        features += f"; kernels capped at {cap} by ONEDNN_MAX_CPU_ISA"
    return (f"CPU: {cpu}{' (' + features + ')' if features else ''}, {os.cpu_count()} cores, "
            f"torch {torch.__version__} with {threads} thread{'s' * (threads != 1)}")


def cpu_has_bf16() -> bool:
    """bf16 on a CPU pays off only with native bf16 instructions (AVX-512 BF16 or AMX); elsewhere it is emulated.
    Under an ISA cap below them, oneDNN has no bf16 LSTM at all."""
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return native and (isa_cap() is None or bool({"avx512_bf16", "amx_bf16"} & set(cpu_features())))


def require_cpu_bf16() -> None:
    if not cpu_has_bf16():
        raise RunError("--precision bf16: this CPU has neither AVX-512 BF16 nor AMX, so bf16 would be emulated "
                       "and slower than fp32; use --precision fp32")


def mixed_precision(setting: str) -> str:
    """accelerate's mixed-precision mode ("no", "bf16", "fp16") for a `precision` setting of auto, fp32, bf16 or
    fp16, refusing one this machine cannot run: auto is bf16 (else fp16) on a GPU and fp32 on a CPU, where bf16's
    gain depends on the CPU and is opt-in."""
    if setting == "fp32":
        return "no"
    if not torch.cuda.is_available():
        if setting == "bf16":
            require_cpu_bf16()
            return "bf16"
        if setting == "fp16":
            raise RunError("--precision fp16 needs a CUDA GPU; on a CPU use bf16 or fp32")
        return "no"
    if setting in ("auto", "bf16") and torch.cuda.is_bf16_supported():
        return "bf16"
    if setting == "bf16":
        raise RunError("--precision bf16: this GPU has no bf16 support; use fp16 or fp32")
    return "fp16"
