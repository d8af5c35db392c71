"""The compiled CUDA kernels, read from their PTX: what no emulation can show.

nvcc compiles csrc/cuda/word2vec.cu, glove.cu and fasttext.cu to PTX with the CUDA flags
and the newest architecture of CMakeLists.txt (so --use_fast_math included),
and the tests read the kernels' instructions:
- the init kernels hold no approximate division (--use_fast_math turns a
  plain 1.0f / dim into rcp.approx, up to 1 ulp off the CPU's init);
- the training kernels write the model only with atomic adds and read it only
  through L2 (group.cuh, "Model memory": L1 is not coherent across SMs, and a
  plain read-modify-write loses other warps' increments).
Skipped where nvcc is missing (CI has it). A few seconds: one architecture,
three files, compiled once per session.
"""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUDA_DIR = os.path.join(ROOT, "csrc", "cuda")


def nvcc():
    found = shutil.which("nvcc")
    if found is None and os.path.exists("/usr/local/cuda/bin/nvcc"):
        found = "/usr/local/cuda/bin/nvcc"
    return found


def cmake_cuda_flags():
    """(flags, newest architecture) as CMakeLists.txt compiles the CUDA module."""
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        text = f.read()
    flags = re.search(r"\$<\$<COMPILE_LANGUAGE:CUDA>:([^>]*)>", text).group(1).split()
    arches = re.search(r"set\(CMAKE_CUDA_ARCHITECTURES ([0-9 ]+)\)", text).group(1).split()
    standard = re.search(r"set\(CMAKE_CUDA_STANDARD (\d+)\)", text).group(1)
    return flags + [f"-std=c++{standard}"], max(int(a) for a in arches)


def functions(ptx: str) -> dict:
    """Each .entry / .func of a PTX file: its mangled name -> its body."""
    out, name, body = {}, None, []
    for line in ptx.splitlines():
        match = re.match(r"^(?:\.visible\s+|\.weak\s+)?\.(?:entry|func)\s+(?:\([^)]*\)\s*)?([\w$]+)", line)
        if match:
            name, body = match.group(1), []
        elif name is not None:
            body.append(line)
            if line.startswith("}"):
                out[name] = "\n".join(body)
                name = None
    return out


@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    compiler = nvcc()
    if compiler is None:
        pytest.skip("nvcc not found: the PTX checks need the CUDA compiler")
    flags, arch = cmake_cuda_flags()
    folder = tmp_path_factory.mktemp("ptx")
    kernels = {}
    for name in ("word2vec", "glove", "fasttext"):
        target = folder / f"{name}.ptx"
        command = [compiler, "-ptx", f"-arch=sm_{arch}", *flags,
                   f"-I{os.path.join(ROOT, 'csrc', 'include')}", f"-I{CUDA_DIR}",
                   os.path.join(CUDA_DIR, f"{name}.cu"), "-o", str(target)]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr[-4000:]}"
        kernels.update(functions(target.read_text()))
    return kernels


def kernel(ptx, part):
    """The one function whose mangled name holds `part` (e.g. "glove_init_kernel")."""
    found = [body for name, body in ptx.items() if part in name]
    assert len(found) == 1, f"{len(found)} functions named like {part}: {sorted(ptx)}"
    return found[0]


APPROXIMATE_DIVISION = re.compile(r"\b(rcp\.approx|div\.approx|div\.full)")


def test_function_split_reads_entries():
    text = """.visible .entry _Z3fooPf(
\t.param .u64 _Z3fooPf_param_0
)
{
\trcp.approx.ftz.f32 \t%f1, %f2;
\tret;
}
.func  (.param .b32 func_retval0) _Z3barf(
\t.param .b32 _Z3barf_param_0
)
{
\tret;
}
"""
    found = functions(text)
    assert set(found) == {"_Z3fooPf", "_Z3barf"}
    assert APPROXIMATE_DIVISION.search(found["_Z3fooPf"])
    assert not APPROXIMATE_DIVISION.search(found["_Z3barf"])


@pytest.mark.parametrize("name", ["word2vec_init_kernel", "glove_init_kernel", "fasttext_init_kernel"])
def test_init_kernels_divide_exactly(ptx, name):
    """The initial weights must be the CPU's bit for bit (rounding.h)."""
    body = kernel(ptx, name)
    assert "call" not in body, "the init kernel calls a function the check does not read"
    assert not APPROXIMATE_DIVISION.search(body), APPROXIMATE_DIVISION.search(body).group(0)


def test_fasttext_init_kernel_is_exact(ptx):
    """1 / dim as rcp.rn and the scale's product as mul.rn (rounding.h's
    helpers; neither approximate nor fused with a neighbour): the CPU's init
    times the scale, bit for bit. (.ftz flushes subnormals: the init's
    nonzero values are >= 2^-24 / dim, far above them.)"""
    body = kernel(ptx, "fasttext_init_kernel")
    assert re.search(r"\brcp\.rn\.", body)
    assert re.search(r"\bmul\.rn(?:\.ftz)?\.f32\b", body)
    assert "ld.global" not in body, "the row is written once, never read back"


# word2vec_kernel<V, SkipGram, Pipelined, Queue> and word2vec_bounded_kernel<SkipGram, Pipelined, Queue>
# (the variants: pack 4 only)
W2V_DEFAULT = {"word2vec_kernelILi1ELb1ELb0ELb0E": "pack 1, skip-gram",
               "word2vec_kernelILi1ELb0ELb0ELb0E": "pack 1, CBOW",
               "word2vec_kernelILi4ELb1ELb0ELb0E": "pack 4, skip-gram",
               "word2vec_kernelILi4ELb0ELb0ELb0E": "pack 4, CBOW"}
W2V_PACKED = [f"word2vec_kernelILi4ELb{sg}ELb{p}ELb{q}E" for sg in (0, 1) for p in (0, 1) for q in (0, 1)]
W2V_BOUNDED = [f"word2vec_bounded_kernelILb{sg}ELb{p}ELb{q}E" for sg in (0, 1) for p in (0, 1) for q in (0, 1)]
W2V_KERNELS = sorted({*W2V_DEFAULT, *W2V_PACKED, *W2V_BOUNDED})
W2V_PIPELINED = [f"word2vec_kernelILi4ELb{sg}ELb1ELb{q}E" for sg in (0, 1) for q in (0, 1)] + \
    [f"word2vec_bounded_kernelILb{sg}ELb1ELb{q}E" for sg in (0, 1) for q in (0, 1)]


GLOVE_KERNELS = [f"glove_train_kernelILb{staged}ELb{tight}E" for staged in (0, 1) for tight in (0, 1)]

# fasttext_kernel<V, SkipGram>
FASTTEXT_KERNELS = [f"fasttext_kernelILi{v}ELb{sg}E" for v in (1, 4) for sg in (0, 1)]


@pytest.mark.parametrize("name", [*W2V_KERNELS, *GLOVE_KERNELS, *FASTTEXT_KERNELS])
def test_training_kernels_add_atomically_and_read_through_l2(ptx, name):
    """Every global write of a training kernel is an atomic add (the model's
    write-backs; the loss and counters too), and every float it reads from
    global memory (only model rows are floats there) bypasses L1 (.cg)."""
    body = kernel(ptx, name)
    assert "call" not in body, "the kernel calls a function the check does not read"
    stores = re.findall(r"\bst\.global\S*", body)
    assert stores == [], f"plain global stores: {sorted(set(stores))}"
    adds = [op for op in re.findall(r"\b(?:red|atom)\.global\S*", body) if ".add" in op and "f32" in op]
    assert adds, "no atomic float adds: the write-backs are not atomic"
    float_loads = re.findall(r"\bld\.global\S*\.f32", body)
    assert float_loads, "no float loads from global memory found"
    uncached = [op for op in float_loads if ".cg." not in op]
    assert uncached == [], f"model reads that may hit a stale L1 line: {sorted(set(uncached))}"


def test_intended_approximations_remain(ptx):
    """CBOW's 1/n_contexts, FastText's mean and the sigmoid stay approximate
    on purpose (only the init must be exact): a check that the PTX is read
    at all."""
    assert APPROXIMATE_DIVISION.search(kernel(ptx, "word2vec_kernelILi4ELb0ELb0ELb0E"))
    for name in FASTTEXT_KERNELS:
        assert APPROXIMATE_DIVISION.search(kernel(ptx, name))


@pytest.mark.parametrize("v", [1, 4])
def test_fasttext_vectors_kernel_reads_rows_through_l2(ptx, v):
    """The composed word vectors read the input rows as training does (.cg);
    they write `out`, which no other kernel touches, with plain stores."""
    body = kernel(ptx, f"fasttext_vectors_kernelILi{v}E")
    loads = re.findall(r"\bld\.global\S*\.f32", body)
    assert loads and all(".cg." in op for op in loads), sorted(set(loads))
    assert re.findall(r"\bst\.global\S*\.f32", body)


def test_fasttext_kernels_add_16_bytes_at_once_on_sm90(ptx):
    """The pack-4 kernels' write-backs are float4 atomics on sm_90 (one per
    lane and row instead of four): FastText spreads each gradient over ~20
    rows, so this is most of its atomic traffic."""
    for sg in (0, 1):
        assert re.search(r"\b(?:red|atom)\.global\S*\.v4\.f32", kernel(ptx, f"fasttext_kernelILi4ELb{sg}E"))


@pytest.mark.parametrize("name", W2V_BOUNDED)
def test_bounded_word2vec_kernels_carry_their_launch_bounds(ptx, name):
    """kBoundedRegisters: blocks of at most 4 warps, registers for 8 blocks
    per SM (word2vec.cu); the default kernels have no bounds."""
    body = kernel(ptx, name)
    assert re.search(r"\.maxntid\s+128,\s*1,\s*1", body)
    assert re.search(r"\.minnctapersm\s+8\b", body)
    for default in W2V_DEFAULT:
        assert ".maxntid" not in kernel(ptx, default)


@pytest.mark.parametrize("name", W2V_KERNELS)
def test_only_pipelined_word2vec_kernels_prefetch(ptx, name):
    """kPipelinedLoads prefetches the next centre's rows into L2; the other
    kernels issue no prefetch."""
    prefetches = re.findall(r"\bprefetch\.global\.L2\b", kernel(ptx, name))
    assert bool(prefetches) == (name in W2V_PIPELINED)
