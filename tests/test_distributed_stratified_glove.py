"""GloVe across real gloo processes, stratified: the updates of one process.

Each of W ranks owns the rows r with r % W == rank and trains their pairs;
with `stratify` (the default) it trains them in W strata an epoch, the pairs
of context words c with c % W == (rank + k) % W in the k-th, so that no two
ranks change the same row between syncs, and passes the stratum's context
rows on to the rank that trains them next. The oracle is one process holding
one model and training the same ranks' pairs, stratum by stratum, one rank
after the other: the distributed run must end where it ends, bit for bit,
since every row is taken from the one rank that holds it (no sum of changes
rounds it: w0 + (w1 - w0) need not be w1 in float32).
"""
import types

import numpy as np
import pytest

from conftest import make_leaky_toy_corpus, topic_margin
from distributed_harness import run_ranks, values
from fake_device import host

torch = pytest.importorskip("torch", reason="distributed training runs on torch.distributed")

GLOVE = dict(vector_size=12, window=5, min_count=1, epochs=6, workers=1, seed=2, progress=False)


@pytest.fixture(scope="module")
def leaky_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("strata") / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in make_leaky_toy_corpus(3000)) + "\n")
    return str(path)


def _glove(rank, world, path, options, stop_at_sync=None, watching_rank=None):
    import embforge
    model = embforge.GloVe(distributed=True, **dict(GLOVE, **options))
    seen = []  # the model after each epoch, as a callback on `watching_rank` reads it
    if rank == watching_rank:
        model.callbacks = [lambda m: seen.append(host(m.weights).copy())]
    if stop_at_sync is not None:  # rank 0 asks to stop at its stop_at_sync-th sync
        sync, calls = model._replicas.sync, []

        def stopping(arrays, stop, **kwargs):
            calls.append(1)
            return sync(arrays, stop or (rank == 0 and len(calls) == stop_at_sync), **kwargs)
        model._replicas.sync = stopping
    model.fit(path)
    return {"cost": model.cost_history, "weights": host(model.weights),
            "gradsq": host(model.gradsq), "margin": topic_margin(model.wv),
            "syncs": model._replicas.syncs, "bytes": model._replicas.bytes_sent, "seen": seen}


def serial_oracle(path, world, epochs, steps=None, out_of_core=False, device="cpu"):
    """One model, every rank's pairs trained in turn: for each stratum step
    k, rank 0's stratum (0 + k) % W, then rank 1's (1 + k) % W, ...; the
    last epoch only `steps` steps when given."""
    import embforge
    from embforge import _native
    from embforge.backends import get_backend
    from embforge._checks import parse_memory
    model = embforge.GloVe(**GLOVE)
    whole = embforge.cooccurrence(path, window=GLOVE["window"], min_count=GLOVE["min_count"],
                                  workers=1, progress=False)
    backend = get_backend(device)
    weights, gradsq, _ = backend.init_glove(len(whole.vocab), model.vector_size, model.seed)
    pairs = [backend.glove_pairs(whole.own_rows(types.SimpleNamespace(rank=r, world_size=world)),
                                 x_max=model.x_max, alpha=model.alpha, memory_bytes=parse_memory("64MB"),
                                 vector_size=model.vector_size, out_of_core=out_of_core,
                                 seed=model.seed, workers=1, temp_dir=None, strata=world)
             for r in range(world)]
    costs = []
    for epoch in range(epochs):
        params = _native.core.GloveParams(
            vector_size=model.vector_size, learning_rate=model.learning_rate,
            grad_clip=model.grad_clip, bias_learning_rate=model.bias_learning_rate,
            seed=model.seed, epoch=epoch, workers=1)
        cost = 0.0
        for k in range(world if steps is None or epoch < epochs - 1 else steps):
            for rank in range(world):
                cost += pairs[rank].train_epoch(weights, gradsq, params, progress=None,
                                                stratum=(rank + k) % world)["cost"]
        costs.append(cost / whole.nnz)
    return host(weights), host(gradsq), costs


# 3 ranks: the strata rotate (rank r trains (r + k) % 3 in step k), which 2 cannot show
@pytest.mark.parametrize("world", [2, 3])
def test_stratified_ranks_make_the_updates_of_one_process(tmp_path, leaky_file, world):
    ranks = values(run_ranks(_glove, tmp_path, world, args=(leaky_file, {})))
    for other in ranks[1:]:
        np.testing.assert_array_equal(ranks[0]["weights"], other["weights"])
        np.testing.assert_array_equal(ranks[0]["gradsq"], other["gradsq"])
    weights, gradsq, costs = serial_oracle(leaky_file, world, GLOVE["epochs"])
    # W strata an epoch, each ending with a sync; no other syncs at the default interval
    assert ranks[0]["syncs"] == world * GLOVE["epochs"]
    # Every row is its holder's: the oracle's weights and sums exactly
    # (when the epoch's last sync summed changes, each rounded an ulp, and
    # they ended up to 2.4e-7 away). The costs are summed in another order:
    # measured 3e-9 relative (2 ranks).
    np.testing.assert_array_equal(ranks[0]["weights"], weights)
    np.testing.assert_array_equal(ranks[0]["gradsq"], gradsq)
    np.testing.assert_allclose(ranks[0]["cost"], costs, rtol=1e-6)


def test_a_stop_within_an_epoch_keeps_every_rank_s_strata(tmp_path, leaky_file):
    # 3 ranks, one sync a step: rank 0 asks to stop at the 5th sync, after
    # step 1 of epoch 2, when each rank holds a stratum the others lack
    ranks = values(run_ranks(_glove, tmp_path, 3, args=(leaky_file, {}, 5)))
    for other in ranks[1:]:
        np.testing.assert_array_equal(ranks[0]["weights"], other["weights"])
    assert len(ranks[0]["cost"]) == 1  # one complete epoch
    weights, _, _ = serial_oracle(leaky_file, 3, 2, steps=2)
    np.testing.assert_array_equal(ranks[0]["weights"], weights)
    done, _, _ = serial_oracle(leaky_file, 3, 2)
    assert np.abs(ranks[0]["weights"] - done).max() > 1e-3  # not the whole epoch either


def test_a_stop_at_an_epoch_s_last_sync_gathers_the_whole_model(tmp_path, leaky_file):
    # An epoch that is not the last ends by passing its stratum on, without
    # the gather: a stop asked at that sync (3 ranks, the 3rd) still leaves
    # every rank with the whole model of one epoch.
    ranks = values(run_ranks(_glove, tmp_path, 3, args=(leaky_file, {}, 3)))
    for other in ranks[1:]:
        np.testing.assert_array_equal(ranks[0]["weights"], other["weights"])
        np.testing.assert_array_equal(ranks[0]["gradsq"], other["gradsq"])
    assert ranks[0]["cost"] == []  # a stop ends the epoch it lands in as stopped, as anywhere
    weights, gradsq, _ = serial_oracle(leaky_file, 3, 1)  # yet all of its pairs trained
    np.testing.assert_array_equal(ranks[0]["weights"], weights)
    np.testing.assert_array_equal(ranks[0]["gradsq"], gradsq)


def test_a_callback_on_one_rank_sees_the_whole_model_after_each_epoch(tmp_path, leaky_file):
    # Only rank 1 has a callback; every rank must then gather each epoch
    # (the ranks agree on it, or their collectives would not match).
    epochs = 3
    ranks = values(run_ranks(_glove, tmp_path, 2,
                             args=(leaky_file, {"epochs": epochs}, None, 1)))
    seen = ranks[1]["seen"]
    assert len(seen) == epochs and ranks[0]["seen"] == []
    for epoch, weights in enumerate(seen, start=1):
        np.testing.assert_array_equal(weights, serial_oracle(leaky_file, 2, epoch)[0])
    np.testing.assert_array_equal(ranks[0]["weights"], seen[-1])
    # each epoch's gather: more bytes than the run without a callback
    (tmp_path / "plain").mkdir()
    plain = values(run_ranks(_glove, tmp_path / "plain", 2, args=(leaky_file, {"epochs": epochs})))
    np.testing.assert_array_equal(plain[0]["weights"], seen[-1])
    assert ranks[0]["syncs"] == plain[0]["syncs"] == 2 * epochs
    assert ranks[0]["bytes"] > plain[0]["bytes"]


def test_without_strata_the_ranks_change_shared_rows_and_drift_from_it(tmp_path, leaky_file):
    ranks = values(run_ranks(_glove, tmp_path, 2, args=(leaky_file, {"stratify": False})))
    weights, _, _ = serial_oracle(leaky_file, 2, GLOVE["epochs"])
    assert np.abs(ranks[0]["weights"] - weights).max() > 1e-2


def test_float16_rounds_the_summed_changes_only(tmp_path, leaky_file):
    # with strata no change is summed (rows pass along and are gathered as
    # they are): float16 changes nothing
    ranks = values(run_ranks(_glove, tmp_path, 2, args=(leaky_file, {"sync_dtype": "float16"})))
    np.testing.assert_array_equal(ranks[0]["weights"], ranks[1]["weights"])
    weights, _, costs = serial_oracle(leaky_file, 2, GLOVE["epochs"])
    np.testing.assert_array_equal(ranks[0]["weights"], weights)
    # without strata the context rows' changes are summed, in float16
    summed = {"stratify": False}
    (tmp_path / "32").mkdir()
    (tmp_path / "16").mkdir()
    single = values(run_ranks(_glove, tmp_path / "32", 2, args=(leaky_file, summed)))[0]
    half = values(run_ranks(_glove, tmp_path / "16", 2,
                            args=(leaky_file, dict(summed, sync_dtype="float16"))))[0]
    # Measured: 1.8e-3 at most on the weights, 2.4e-4 relative on the
    # costs (6 epochs, one sync each), where this run without strata is
    # itself 1.09 from the oracle on the weights
    difference = np.abs(half["weights"] - single["weights"]).max()
    assert 1e-6 < difference < 1e-2  # rounded, and no more than that
    np.testing.assert_allclose(half["cost"], single["cost"], rtol=2e-3)


def test_a_stratum_longer_than_the_interval_goes_in_parts_that_pass_only_the_stop_flag(
        tmp_path, leaky_file):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = values(run_ranks(_glove, tmp_path / "a", 2, args=(leaky_file, {})))
    parts = values(run_ranks(_glove, tmp_path / "b", 2, args=(leaky_file, {"sync_interval": 300})))
    # the same updates in the same order: the parts' syncs combine nothing
    np.testing.assert_array_equal(parts[0]["weights"], whole[0]["weights"])
    assert parts[0]["syncs"] >= 3 * whole[0]["syncs"]
    # a stop-flag sync is one byte (the rows pass along and sum as before)
    assert parts[0]["bytes"] - whole[0]["bytes"] <= parts[0]["syncs"]


def test_a_stratum_s_rows_pass_to_one_rank_and_each_row_is_gathered_once(tmp_path, leaky_file):
    passed = values(run_ranks(_glove, tmp_path, 3, args=(leaky_file, {})))[0]
    vocab, width = len(passed["weights"]) // 2, passed["weights"].shape[1]
    row, third = width * 4, -(-vocab // 3)  # bytes a row; the most rows a rank holds
    # Every epoch but the last: 3 passes of a stratum's context rows
    # (weights and sums), the last back to the rank that starts the next
    # epoch with it, and 3 stop flags. The last: 2 passes, then the gather
    # of each rank's third of the 4 halves (padded to the largest third),
    # the ranks' offsets of them (int64) and 3 stop flags.
    epochs = GLOVE["epochs"]
    least = ((epochs - 1) * (3 * 2 * (vocab // 3) * row + 3)
             + 2 * 2 * (vocab // 3) * row + 4 * third * row + 4 * 8 + 3)
    most = ((epochs - 1) * (3 * 2 * third * row + 3)
            + 2 * 2 * third * row + 4 * third * row + 4 * 8 + 3)
    assert least <= passed["bytes"] <= most
    # about half what one all-reduce of the whole model an epoch would put
    # in (a gather every epoch made it two thirds)
    assert passed["bytes"] < epochs * 4 * vocab * row * 0.55


def _glove_out_of_core(rank, world, path):
    import embforge
    model = embforge.GloVe(distributed=True, out_of_core=True, memory="64MB", **GLOVE).fit(path)
    return {"weights": model.weights.copy(), "syncs": model._replicas.syncs}


def test_pairs_out_of_core_train_in_strata_too(tmp_path, leaky_file):
    ranks = values(run_ranks(_glove_out_of_core, tmp_path, 2, args=(leaky_file,)))
    np.testing.assert_array_equal(ranks[0]["weights"], ranks[1]["weights"])
    assert ranks[0]["syncs"] == 2 * GLOVE["epochs"]  # a stratum is one pass over its blocks
    weights, _, _ = serial_oracle(leaky_file, 2, GLOVE["epochs"], out_of_core=True)
    np.testing.assert_array_equal(ranks[0]["weights"], weights)


def _glove_on_the_fake_device(rank, world, path):
    import builtins
    from fake_device import install_fake_device
    install_fake_device(builtins.setattr)  # this process only: torch CPU tensors play the GPU
    return _glove(rank, world, path, {"device": "cuda", "epochs": 2})


def test_pairs_on_a_gpu_train_in_strata_too(tmp_path, leaky_file, emulation, fake_device):
    # the CUDA backend's pairs, grouped and trained by stratum on the device
    # (here the host stand-in running the kernels' emulated code, in each rank)
    ranks = values(run_ranks(_glove_on_the_fake_device, tmp_path, 2, args=(leaky_file,),
                             timeout=120))
    np.testing.assert_array_equal(ranks[0]["weights"], ranks[1]["weights"])
    assert ranks[0]["syncs"] == 2 * 2  # 2 strata an epoch, 2 epochs (the emulation is slow)
    weights, gradsq, costs = serial_oracle(leaky_file, 2, 2, device="cuda")
    np.testing.assert_array_equal(ranks[0]["weights"], weights)
    np.testing.assert_array_equal(ranks[0]["gradsq"], gradsq)
    np.testing.assert_allclose(ranks[0]["cost"], costs, rtol=1e-6)
    # the device's order is its own (a keyed permutation, not the CPU's shuffle)
    cpu, _, _ = serial_oracle(leaky_file, 2, 2)
    assert np.abs(cpu - weights).max() > 1e-4
