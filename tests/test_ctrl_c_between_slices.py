"""A real Ctrl-C (SIGINT to this process) that lands in the Python code
between two native calls of a training loop, not inside one: training must
stop as after any Ctrl-C, with the vectors usable, instead of raising
KeyboardInterrupt out of train() (which lost them: the CLI then wrote
nothing). The signal is sent from a callback, so it lands between epochs
every time."""
import os
import signal
import threading

import numpy as np
import pytest

import embforge


class CtrlCAtEpochEnd:
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, model):
        if model.epochs_trained == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def main_thread_default_handler():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Python delivers SIGINT to the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("another SIGINT handler is installed")


@pytest.mark.parametrize("sg", [1, 0])
def test_word2vec_stops_on_a_ctrl_c_between_epochs(toy_corpus_path, main_thread_default_handler,
                                                   sg):
    model = embforge.Word2Vec(sg=sg, vector_size=16, min_count=1, workers=1, epochs=5, seed=1,
                              progress=False, callbacks=[CtrlCAtEpochEnd(2)])
    model.fit(toy_corpus_path)  # no KeyboardInterrupt
    # the third epoch's native call saw the stop at once (Word2Vec counts an
    # epoch cut short as trained)
    assert model.interrupted and model.epochs_trained == 3
    assert np.isfinite(model.wv.vectors).all() and model.wv.vectors.any()
    # the handler is Python's own again: a later Ctrl-C raises as usual
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_glove_stops_on_a_ctrl_c_between_epochs(toy_corpus_path, main_thread_default_handler):
    model = embforge.GloVe(vector_size=16, min_count=1, workers=1, epochs=5, seed=1,
                           progress=False, callbacks=[CtrlCAtEpochEnd(2)])
    model.fit(toy_corpus_path)
    assert model.interrupted and model.epochs_trained == 2
    assert np.isfinite(model.wv.vectors).all() and model.wv.vectors.any()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
