"""What importing embforge loads, each case in a fresh interpreter: the
package alone loads neither numpy nor the native modules, its public names
load on first use (the names users import stay the same), and the counting
commands start OpenBLAS with one thread unless the user chose otherwise."""
import json
import os
import subprocess
import sys

import pytest

import embforge

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def run_python(code, **env):
    environ = {k: v for k, v in ENV.items() if k != "OPENBLAS_NUM_THREADS"}
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_package_or_its_cli_loads_no_numpy():
    out = run_python("import sys, embforge, embforge.cli\n"
                     "print(sorted(m for m in ('numpy', 'embforge._core', 'embforge.word2vec')"
                     " if m in sys.modules))")
    assert out.strip() == "[]"


def test_public_names_load_on_first_use():
    out = run_python(
        "import embforge.cooccurrence as module_first\n"  # the submodule before any name
        "import embforge, types\n"
        "from embforge import KeyedVectors, Word2Vec, cooccurrence, simd_level\n"
        "print(type(cooccurrence).__name__, cooccurrence is embforge.cooccurrence,\n"
        "      isinstance(module_first, types.FunctionType), KeyedVectors.__module__,\n"
        "      type(simd_level()).__name__)")
    # `import embforge.cooccurrence as m` names the function, as it did when
    # the package loaded everything at import (import_module gives the module).
    assert out.split() == ["function", "True", "True", "embforge.keyedvectors", "str"]
    # Every listed name resolves in a fresh interpreter, one by one and
    # through `import *`; the package shows no names of its own machinery.
    out = run_python("import embforge\n"
                     "missing = [n for n in embforge.__all__ if not hasattr(embforge, n)]\n"
                     "from embforge import *\n"
                     "import embforge.fasttext\n"
                     "print(missing, embforge.fasttext.FastText is FastText,\n"
                     "      [n for n in ('sys', 'types', 'Any', 'List') if n in dir(embforge)])")
    assert out.split() == ["[]", "True", "[]"]
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        getattr(embforge, "not_a_name")


# What OpenBLAS was told: the environment after the command ran (numpy read
# it when it loaded, after main() had looked at the command).
PROBE = ("import json, os, sys\n"
         "from embforge.cli import main\n"
         "try:\n"
         "    status = main(%r)\n"
         "except SystemExit as leaving:\n"
         "    status = leaving.code\n"
         "print(json.dumps([status, 'numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS')]))\n")


@pytest.mark.parametrize("command, own, expected", [
    (["cooccur", "{corpus}", "-o", "{out}/x.bin", "--min-count", "1"], None, "1"),
    (["-v", "vocab", "{corpus}", "-o", "{out}/v.txt", "--min-count", "1"], None, "1"),
    (["cooccur", "{corpus}", "-o", "{out}/x.bin", "--min-count", "1"], "3", "3"),  # the user's wins
    (["train", "--help"], None, None),  # evaluation there multiplies matrices
    (["eval", "--help"], None, None),
])
def test_counting_commands_start_blas_with_one_thread(tmp_path, command, own, expected):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c a b\nc a b\n")
    argv = [a.format(corpus=corpus, out=tmp_path) for a in command]
    env = {} if own is None else {"OPENBLAS_NUM_THREADS": own}
    status, numpy_loaded, blas_threads = json.loads(run_python(PROBE % (argv,), **env).splitlines()[-1])
    assert status == 0 and numpy_loaded and blas_threads == expected


@pytest.mark.parametrize("command", ["cooccur", "vocab"])
def test_counting_scripts_end_at_once_with_their_output_whole(tmp_path, command):
    # `python -m embforge` is the script: a counting command ends through
    # os._exit (cli.script), so everything must be written and flushed first.
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c a b\nc a b d\n" * 50)
    out = tmp_path / ("x.bin" if command == "cooccur" else "v.txt")
    done = subprocess.run([sys.executable, "-m", "embforge", command, str(corpus), "-o", str(out),
                           "--min-count", "1"], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    # the status line, written to stderr before the process ended
    assert ("14 nonzeros" if command == "cooccur" else "4 words from 450 tokens") in done.stderr
    if command == "cooccur":
        assert out.stat().st_size == 16 * 14  # 4 words, 14 nonzero pairs, 16-byte records
    else:
        assert out.read_text().split("\n")[:4] == ["a 150", "b 150", "c 100", "d 50"]
    failed = subprocess.run([sys.executable, "-m", "embforge", command, str(tmp_path / "none.txt"),
                             "-o", str(out)], capture_output=True, text=True, env=ENV, timeout=300)
    assert failed.returncode == 2 and f"embforge {command}: error" in failed.stderr
