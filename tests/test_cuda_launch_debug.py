"""The opt-in per-launch check (EMBFORGE_CUDA_SYNC=1, csrc/cuda/launch_debug.h):
after every kernel launch the launcher waits for the kernel and, when it
failed, raises naming the kernel and its launch arguments. Without a GPU no
kernel can fail, so the host half runs here through the emulation module:
the variable's parsing, read from the environment as the launchers read it,
and the message a failure raises. On a GPU, a failing launch under the mode
is provoked in test_cuda_word2vec.py (needs_gpu).
"""
import re

import pytest


from conftest import needs_gpu


@pytest.mark.parametrize("value,on", [(None, False), ("", False), ("0", False), ("1", True)])
def test_sync_mode_values(emulation, value, on):
    assert emulation.parse_sync_mode(value) is on


@pytest.mark.parametrize("value", ["yes", "true", "2", " 1", "on"])
def test_sync_mode_refuses_other_values_naming_them(emulation, value):
    with pytest.raises(ValueError, match=f"EMBFORGE_CUDA_SYNC must be 0 or 1 \\(or unset\\), got '{value}'"):
        emulation.parse_sync_mode(value)


def test_sync_mode_reads_the_environment_at_each_call(emulation, monkeypatch):
    monkeypatch.delenv("EMBFORGE_CUDA_SYNC", raising=False)
    assert emulation.sync_mode() is False
    monkeypatch.setenv("EMBFORGE_CUDA_SYNC", "1")
    assert emulation.sync_mode() is True
    monkeypatch.setenv("EMBFORGE_CUDA_SYNC", "0")
    assert emulation.sync_mode() is False
    monkeypatch.setenv("EMBFORGE_CUDA_SYNC", "maybe")
    with pytest.raises(ValueError, match="got 'maybe'"):
        emulation.sync_mode()


def test_failure_names_the_kernel_and_its_launch(emulation):
    error = "cudaErrorIllegalAddress: an illegal memory access was encountered"
    text = emulation.describe_word2vec_failure(132, 128, 24576, 0x1F, 0, 4194304, True, 0.025, 0x7F00,
                                               error, True)
    assert text == ("embforge CUDA: word2vec_kernel<4><<<132, 128, 24576 B, stream 0x1f>>>(begin=0, "
                    "end=4194304, skip_gram=true, alpha=0.025, input=0x7f00) failed while running: "
                    + error)
    text = emulation.describe_word2vec_failure(0, 32, 0, 0, 5, 6, False, 1.0, 0, "cudaErrorInvalidValue: x",
                                               False)
    assert "<<<0, 32, 0 B, stream 0x0>>>" in text and "skip_gram=false" in text
    assert text.endswith(" failed to launch: cudaErrorInvalidValue: x")


FAULTING_LAUNCH = """
import torch
cuda = _native.cuda_module()
vocab, dim = 8, 4
inp, out = torch.zeros((vocab, dim), device="cuda"), torch.zeros((vocab, dim), device="cuda")
table = torch.full((vocab,), -1, dtype=torch.int32, device="cuda")
loss = torch.zeros(1, dtype=torch.float64, device="cuda")
counts = torch.zeros(2, dtype=torch.int64, device="cuda")
offsets = torch.tensor([0, 1 << 20], dtype=torch.int64, device="cuda")
params = _native.core.Word2VecParams(vector_size=dim)
launch = cuda.Launch(device=0, stream=torch.cuda.current_stream().cuda_stream)
bogus_ids = 0x10  # not device memory: the kernel faults reading the corpus
try:
    cuda.word2vec_train_range(bogus_ids, offsets.data_ptr(), 1 << 20, 1, inp.data_ptr(), out.data_ptr(),
                              vocab, table.data_ptr(), table.data_ptr(), table.data_ptr(),
                              loss.data_ptr(), counts.data_ptr(), params, launch, begin=0, end=1 << 20)
except RuntimeError as error:
    print(error)
"""


@pytest.mark.cuda
@needs_gpu
def test_sync_mode_names_a_faulting_kernel(tmp_path):
    """A corpus pointer outside device memory faults inside the kernel; the
    mode reports it at the launch, naming word2vec_kernel and its range. In
    a child process: the fault leaves its CUDA context unusable."""
    pytest.importorskip("torch")
    import os
    import subprocess
    import sys
    env = dict(os.environ, EMBFORGE_CUDA_SYNC="1")
    result = subprocess.run([sys.executable, "-c", FAULTING_LAUNCH], env=env, capture_output=True,
                            text=True, timeout=300)
    assert re.search(r"word2vec_kernel<4, skip-gram><<<.*begin=0, end=1048576.* failed while running: cudaError",
                     result.stdout), result.stdout + result.stderr
