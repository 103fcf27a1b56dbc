import subprocess
import sys
import textwrap

import pytest
import torch

from imdb_sentiment import cpu
from imdb_sentiment.runs import hardware

# Page faults taken by the last of twelve 64 MB tensors made one after another: fresh pages from the kernel cost one
# fault per 4 KB, reused ones none. (torch asks for aligned blocks, so glibc needs a few rounds to find one to reuse.)
LATER_ALLOCATION_FAULTS = textwrap.dedent("""
    import resource, sys, torch
    from imdb_sentiment import cpu
    if sys.argv[1] == "tuned":
        assert cpu.tune_glibc_allocator()
    def faults():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.ones(16 << 20)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print([faults() for _ in range(12)][-1])
""")


def later_allocation_faults(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", LATER_ALLOCATION_FAULTS, mode], capture_output=True, text=True,
                            check=True)
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_tuned_allocator_reuses_freed_large_blocks():
    default = later_allocation_faults("default")
    if default < 1000:
        pytest.skip(f"this kernel already serves 64 MB with {default} faults (huge pages?)")
    assert later_allocation_faults("tuned") < default / 10


def test_configure_sets_threads_and_hardware_says_so():
    threads = torch.get_num_threads()
    try:
        cpu.configure(num_threads=1)
        assert torch.get_num_threads() == 1
        assert "with 1 thread" in hardware()
        assert ("glibc malloc thresholds raised" in hardware()) == cpu.allocator_tuned()
    finally:
        torch.set_num_threads(threads)
