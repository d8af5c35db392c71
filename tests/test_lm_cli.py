"""`embforge lm train`, `embforge lm generate` and `embforge chat`: in this
process (main()), and as real processes where it matters (chat reading its
stdin, Ctrl-C)."""
import contextlib
import io
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch", reason="the language model needs PyTorch")
pytest.importorskip("safetensors", reason="models are saved with safetensors")

from embforge.cli import main  # noqa: E402
from lm_toys import toy_texts, toy_vectors  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args, stdin=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "embforge", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=timeout)


def call(capsys, *args, stdin=None, monkeypatch=None):
    """main(args) in this process: (exit status, stdout, stderr)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_torch_thread):
    where = tmp_path_factory.mktemp("lmcli")
    (where / "train.txt").write_text("\n".join(toy_texts(200)) + "\n")
    (where / "valid.txt").write_text("\n".join(toy_texts(20, seed=1)) + "\n")
    toy_vectors().save_word2vec_format(str(where / "v.txt"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["lm", "train", "--vectors", str(where / "v.txt"), "--train", str(where / "train.txt"),
                     "--valid", str(where / "valid.txt"), "--epochs", "2", "--context", "32", "--heads", "2",
                     "--lr", "0.01", "--quiet", "-o", str(where / "lm")])
    assert code == 0
    return where, out.getvalue()


def test_train_reports_held_out_perplexity_and_saves(trained):
    where, out = trained
    assert "epoch 2: train loss" in out and "held-out perplexity" in out
    assert "(0.0% of the words unknown)" in out and os.path.exists(where / "lm" / "model.safetensors")


def test_generate_continues_every_prompt(trained, capsys):
    where, _ = trained
    args = ("lm", "generate", str(where / "lm"), "--prompt", "the cat", "--prompt", "a zebra",
            "--seed", "1", "--max-new-tokens", "5")
    code, out, err = call(capsys, *args)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("the cat ") and lines[1].startswith("a zebra")
    assert "1 word(s) of 'a zebra' are not in the vocabulary" in err
    assert call(capsys, *args)[1] == out


def test_chat_answers_each_line_and_ends_with_its_input(trained):
    where, _ = trained
    done = run("chat", str(where / "lm"), "--max-new-tokens", "6", "--seed", "0", "--history", "2",
               stdin="the cat\n\n   \nwhere is the dog\nthe driver\n")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    answers = done.stdout.splitlines()
    assert len(answers) == 3 and all(a.strip() for a in answers)   # blank lines are skipped
    assert "not in the vocabulary" in done.stderr                   # "where", "is"


def test_chat_with_no_input_ends_at_once(trained, capsys, monkeypatch):
    where, _ = trained
    assert call(capsys, "chat", str(where / "lm"), stdin="", monkeypatch=monkeypatch) == (0, "", "")


def test_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys, monkeypatch):
    where, _ = trained
    code, _, err = call(capsys, "lm", "generate", str(where / "lm"), "--prompt", "   ")
    assert code == 2 and err.strip() == "embforge lm: error: prompt 0 is empty ('   '): give at least one word"
    code, _, err = call(capsys, "lm", "generate", str(tmp_path / "nothing"), "--prompt", "the")
    assert code == 2 and "does not exist" in err
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "model.safetensors").write_bytes(b"\x00" * 20)
    code, _, err = call(capsys, "chat", str(tmp_path / "fake"), stdin="hello\n", monkeypatch=monkeypatch)
    assert code == 2 and "is not a readable embforge tensor file" in err
    code, _, err = call(capsys, "lm", "generate", str(where / "lm"), "--prompt", " ".join(["cat"] * 40))
    assert code == 2 and "too long for the model's context of 32" in err
    code, _, err = call(capsys, "lm", "train", "--vectors", str(where / "v.txt"), "--train",
                        str(where / "train.txt"), "--resume", "-o", str(tmp_path / "x"))
    assert code == 2 and "--resume needs --checkpoint" in err


def test_ctrl_c_during_training_saves_the_model(trained, tmp_path):
    where, _ = trained
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), OMP_NUM_THREADS="1")
    log = open(tmp_path / "stderr.txt", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "embforge", "-v", "lm", "train", "--vectors", str(where / "v.txt"),
         "--train", str(where / "train.txt"), "--epochs", "100000", "--patience", "100000",
         "--context", "32", "--heads", "2", "--quiet", "-o", str(tmp_path / "lm")],
        stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 120
        while "fine-tuning" not in (tmp_path / "stderr.txt").read_text():
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr.txt").read_text()
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    err = (tmp_path / "stderr.txt").read_text()
    assert code == 130 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("embforge lm train: stopped early (Ctrl-C) after ")
    from embforge.lm import load_lm
    assert load_lm(tmp_path / "lm").context == 32
