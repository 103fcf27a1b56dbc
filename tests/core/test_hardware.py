import os
import subprocess
import sys

import pytest
import torch

from imdb_sentiment.core import hardware

EVERY_FLAG = ["sse4_2", "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"]


@pytest.fixture
def full_cpu(monkeypatch):
    """A CPU with every feature the project looks at, whatever this one has."""
    monkeypatch.setattr(hardware, "_cpu_flags", lambda: EVERY_FLAG)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    for variable in hardware.ISA_CAP_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_an_isa_cap_leaves_the_features_of_the_cpu_it_imitates(full_cpu):
    assert hardware.cpu_features() == list(hardware.CPU_FEATURES) and hardware.cpu_has_bf16()
    full_cpu.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert hardware.cpu_features() == ["avx2"] and not hardware.cpu_has_bf16()
    assert hardware.cpu_features(capped=False) == list(hardware.CPU_FEATURES)
    assert "capped at AVX2 by ONEDNN_MAX_CPU_ISA" in hardware.hardware()  # every speed number records it
    full_cpu.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_VNNI")
    assert hardware.cpu_features() == ["avx2", "avx512f", "avx512_vnni"]
    full_cpu.setenv("ONEDNN_MAX_CPU_ISA", "nonsense")  # oneDNN ignores a value it does not know; so do we
    assert hardware.cpu_features() == list(hardware.CPU_FEATURES)


def test_quantize_auto_decides_as_on_the_capped_cpu(full_cpu):
    pytest.importorskip("openvino")
    from imdb_sentiment.inference.predictors import auto_quantization

    assert auto_quantization("transformer") == "int8"
    full_cpu.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # no VNNI: the Transformer's int8 did not pay there
    assert (auto_quantization("transformer"), auto_quantization("bilstm")) == (None, "int8")


@pytest.mark.skipif(not hardware.cpu_has_bf16(), reason="needs a CPU with native bf16 to cap")
def test_under_an_avx2_cap_bf16_is_refused_where_onednn_has_no_bf16_lstm():
    """The failure reported from an AVX2-only CPU, reproduced by the cap, and the check that avoids it."""
    script = ("import torch\n"
              "from imdb_sentiment.core.hardware import cpu_has_bf16\n"
              "lstm = torch.nn.LSTM(4, 4, batch_first=True, bidirectional=True)\n"
              "try:\n"
              "    with torch.autocast('cpu', dtype=torch.bfloat16):\n"
              "        lstm(torch.randn(2, 3, 4))\n"
              "    ran = True\n"
              "except RuntimeError:\n"
              "    ran = False\n"
              "print(ran, cpu_has_bf16())\n")
    for cap, expected in ((None, ["True", "True"]), ("AVX2", ["False", "False"])):
        env = {k: v for k, v in os.environ.items() if k not in hardware.ISA_CAP_VARIABLES}
        if cap:
            env["ONEDNN_MAX_CPU_ISA"] = cap
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.split()[-2:] == expected, (cap, out.stdout, out.stderr)
