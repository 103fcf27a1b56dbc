"""What the machine can run: its description for every recorded number, and the precisions it supports."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from imdb_sentiment.core.runs import RunError


# The instruction sets that decide bf16 and int8 speed: a number measured with them may not hold without them.
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_features() -> list[str]:
    """Which of CPU_FEATURES this CPU has (Linux; empty elsewhere)."""
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        return []
    return [feature for feature in CPU_FEATURES if feature in flags]


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
    features = cpu_features()
    return (f"CPU: {cpu}{' (' + ', '.join(features) + ')' if features else ''}, {os.cpu_count()} cores, "
            f"torch {torch.__version__} with {threads} thread{'s' * (threads != 1)}")


def cpu_has_bf16() -> bool:
    """bf16 on a CPU pays off only with native bf16 instructions (AVX-512 BF16 or AMX); elsewhere it is emulated."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


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
