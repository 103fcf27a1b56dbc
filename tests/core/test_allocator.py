import subprocess
import sys

import pytest

from imdb_sentiment.core import allocator

FAKE = "/opt/lib/libtcmalloc_minimal.so.4"


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(allocator, "find_library", lambda name: FAKE if name == "tcmalloc" else None)
    monkeypatch.setattr(allocator.sys, "platform", "linux")


def test_tcmalloc_is_preloaded_in_front_of_what_was_there(installed):
    env = allocator.preload_env({"PATH": "/bin", "LD_PRELOAD": "/opt/lib/libother.so"})
    assert env["LD_PRELOAD"] == f"{FAKE}:/opt/lib/libother.so" and env["PATH"] == "/bin"
    assert int(env["TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD"]) >= 1 << 40  # no report per large score array
    assert allocator.preload_env({})["LD_PRELOAD"] == FAKE


def test_nothing_changes_when_opted_out_already_chosen_or_not_installed(installed, monkeypatch):
    assert allocator.preload_env({allocator.SETTING: "system"}) is None
    assert allocator.preload_env({"LD_PRELOAD": FAKE}) is None  # after the re-execution: no loop
    assert allocator.preload_env({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}) is None  # a benchmark's choice
    monkeypatch.setattr(allocator, "find_library", lambda name: None)
    assert allocator.preload_env({}) is None
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.preload_env({}) is None


def test_int8_commands_keep_the_c_librarys_allocator_as_openvino_needs(installed):
    assert allocator.preload_env({}, ["serve", "--quantize", "int8"]) is None
    assert allocator.preload_env({}, ["predict", "--quantize=int8", "fine film"]) is None
    assert allocator.preload_env({}, ["predict", "--quantize", "auto", "fine film"]) is None  # may pick int8
    assert allocator.preload_env({}, ["export", "builtin", "--out", "x"]) is None  # OpenVINO converts the model
    assert allocator.preload_env({}, ["predict", "--quantize"])["LD_PRELOAD"] == FAKE  # argparse will say what is wrong
    assert allocator.preload_env({}, ["predict", "int8"])["LD_PRELOAD"] == FAKE  # a review that says int8


def test_a_student_whose_teacher_labels_in_int8_keeps_the_c_librarys_allocator(installed, tmp_path):
    assert allocator.preload_env({}, ["train", "bilstm", "--teacher_precision", "int8"]) is None
    config = tmp_path / "student.toml"
    config.write_text('[distill]\nteacher = "runs/mpnet-base"\nteacher_precision = "int8"\n')
    assert allocator.preload_env({}, ["train", "bilstm", f"--config={config}"]) is None
    config.write_text('[distill]\nteacher = "runs/mpnet-base"\nteacher_precision = "bf16"\n')
    assert allocator.preload_env({}, ["train", "bilstm", "--config", str(config)])["LD_PRELOAD"] == FAKE
    (tmp_path / "logits.npz").write_bytes(b"cached")  # the teacher never runs: tcmalloc's speed is kept
    config.write_text(f'[distill]\nteacher_precision = "int8"\nlogits_cache = "{tmp_path / "logits.npz"}"\n')
    assert allocator.preload_env({}, ["train", "bilstm", "--config", str(config)])["LD_PRELOAD"] == FAKE


@pytest.mark.skipif(allocator.find_library("tcmalloc") is None or not sys.platform.startswith("linux"),
                    reason="tcmalloc is not installed here (Debian: libtcmalloc-minimal4; .ci/run installs it)")
def test_the_environment_really_loads_tcmalloc():
    code = "print('tcmalloc' in open('/proc/self/maps').read())"
    env = allocator.preload_env({"PATH": "/usr/bin:/bin"})
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout == "True\n"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}).stdout == "False\n"
