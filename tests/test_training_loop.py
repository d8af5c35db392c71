"""The shared training loop: per-epoch training state (safetensors) that a
resumed run continues exactly, Ctrl-C after the batch in progress, refusals."""
import signal

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the training loop needs PyTorch (pip install 'embforge[torch]')")
pytest.importorskip("safetensors", reason="training states are written with safetensors")

from embforge import lm  # noqa: E402
from embforge.lm.data import encode_texts  # noqa: E402
from embforge.training import checkpoints  # noqa: E402
from embforge.training.tensor_files import read_tensors, write_tensors  # noqa: E402
from lm_toys import TINY, toy_texts, toy_vectors  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def kv():
    return toy_vectors()


def setup(kv):
    model = lm.DecoderLM.from_vectors(kv, seed=0, **{**TINY, "dropout": 0.1})
    train = encode_texts(model.tokenizer, toy_texts(80), model.bos_id, model.eos_id)
    valid = encode_texts(model.tokenizer, toy_texts(10, seed=1), model.bos_id, model.eos_id)
    return model, train, valid


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def interrupt_at(monkeypatch, batch: int):
    """Ctrl-C (a real SIGINT to this process) during the `batch`-th training batch."""
    from embforge.lm.task import LMTask
    original, seen = LMTask.loss, []

    def loss(self, model, starts):
        seen.append(1)
        if len(seen) == batch:
            signal.raise_signal(signal.SIGINT)
        return original(self, model, starts)
    monkeypatch.setattr(LMTask, "loss", loss)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(kv, tmp_path, monkeypatch):
    options = dict(epochs=3, batch_size=4, lr=5e-3, seed=7, progress=False, patience=None)
    model, train, valid = setup(kv)
    whole = lm.train_lm(model, train, valid, **options)
    expected = weights(model)

    model, train, valid = setup(kv)
    steps = len(train.windows(16)) // 4 + 1
    with monkeypatch.context() as patch:
        interrupt_at(patch, steps + 2)           # during epoch 2: epoch 1's state is on disk
        cut = lm.train_lm(model, train, valid, checkpoint_dir=tmp_path, **options)
    assert cut.interrupted and len(cut.history) == 1

    model, train, valid = setup(kv)
    resumed = lm.train_lm(model, train, valid, checkpoint_dir=tmp_path, resume=True, **options)
    assert resumed.resumed_from == 2 and not resumed.interrupted
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in whole.history]
    for name, tensor in weights(model).items():
        assert torch.equal(tensor, expected[name]), name   # dropout draws and Adam moments included


def test_ctrl_c_stops_after_the_batch_in_progress(kv, monkeypatch):
    model, train, valid = setup(kv)
    before = weights(model)
    interrupt_at(monkeypatch, 3)
    result = lm.train_lm(model, train, valid, epochs=2, batch_size=4, seed=0, progress=False)
    assert result.interrupted and result.history == []
    assert any(not torch.equal(v, before[k]) for k, v in weights(model).items())  # 3 steps were taken
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resuming_with_other_settings_or_a_damaged_state_is_refused(kv, tmp_path):
    model, train, valid = setup(kv)
    lm.train_lm(model, train, epochs=1, batch_size=4, seed=0, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"other settings: lr=0.001 \(now 0.002\)"):
        lm.train_lm(model, train, epochs=1, batch_size=4, seed=0, lr=2e-3, progress=False,
                    checkpoint_dir=tmp_path, resume=True)
    other = lm.DecoderLM.from_vectors(kv, seed=0, **{**TINY, "num_layers": 1})
    with pytest.raises(ValueError, match="another model's weights"):
        lm.train_lm(other, train, epochs=1, batch_size=4, seed=0, progress=False,
                    checkpoint_dir=tmp_path, resume=True)
    state = tmp_path / checkpoints.FILE
    state.write_bytes(state.read_bytes()[:-100])
    with pytest.raises(ValueError, match="training.safetensors is not a readable embforge tensor file"):
        lm.train_lm(model, train, epochs=1, batch_size=4, seed=0, progress=False,
                    checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        lm.train_lm(model, train, epochs=1, resume=True, progress=False)


def test_tied_tensors_are_stored_once_and_come_back_tied(tmp_path):
    shared = torch.arange(6.0).reshape(2, 3)
    write_tensors(tmp_path / "t.safetensors", {"a": shared, "b": shared, "c": torch.ones(2)}, {"x": 1})
    tensors, meta = read_tensors(tmp_path / "t.safetensors")
    assert meta == {"x": 1} and tensors["a"] is tensors["b"] and torch.equal(tensors["b"], shared)
    header = (tmp_path / "t.safetensors").read_bytes()[:400]
    assert b'"a"' in header and b'"b":{' not in header


def test_early_stopping_restores_the_best_epoch(kv):
    model, train, valid = setup(kv)
    # lr=0 after the warm-up step: the held-out loss never improves on epoch 1
    result = lm.train_lm(model, train, valid, epochs=6, lr=0.0, patience=2, seed=0, progress=False)
    assert result.stopped_early and len(result.history) == 3 and result.best_epoch == 1
    assert np.isclose(result.best_val_perplexity, result.history[0]["val_perplexity"])


def test_resuming_a_finished_run_trains_no_more(kv, tmp_path):
    model, train, valid = setup(kv)
    done = lm.train_lm(model, train, valid, epochs=2, batch_size=4, seed=0, progress=False,
                       checkpoint_dir=tmp_path)
    trained = weights(model)
    again = lm.train_lm(model, train, valid, epochs=2, batch_size=4, seed=0, progress=False,
                        checkpoint_dir=tmp_path, resume=True)
    assert again.resumed_from == 3 and again.history == done.history and again.best_epoch == done.best_epoch
    assert all(torch.equal(v, trained[k]) for k, v in weights(model).items())
