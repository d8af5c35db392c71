"""The checkpoint format (embforge.checkpoint) in-process: exact resumes,
N-rank checkpoints through a stand-in all_gather, hostile manifests and rank
files refused without changing anything, GloVe's training callbacks.
(tests/test_checkpoint_cli.py kills real processes.)"""
import dataclasses
import hashlib
import json
import os
import shutil
import threading

import numpy as np
import pytest

import embforge
from embforge import checkpoint as ckpt

from stale_files import stale_temp_name

SIZE = 16


@pytest.fixture(scope="module")
def toy_corpus(toy_corpus_path):
    return embforge.encode(toy_corpus_path, min_count=1)


@pytest.fixture(scope="module")
def toy_cooc(toy_corpus_path):
    return embforge.cooccurrence(toy_corpus_path, window=5, min_count=1, workers=1)


def word2vec(sg, **kwargs):
    kwargs = dict(dict(sg=sg, vector_size=SIZE, workers=1, min_count=1, epochs=4), **kwargs)
    return embforge.Word2Vec(**kwargs)


def glove(**kwargs):
    return embforge.GloVe(**dict(dict(vector_size=SIZE, workers=1, epochs=4, window=5,
                                      min_count=1), **kwargs))


class Crash(Exception):
    """Stands in for a kill right after a checkpoint (the real kill: test_checkpoint_cli.py)."""


def crash_after(epochs):
    def on_epoch_end(model):
        if model.epochs_trained == epochs:
            raise Crash
    return on_epoch_end


def snapshot(directory):
    """Every file under `directory` with its bytes' hash: a refusal must change nothing."""
    state = {}
    for folder, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                state[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return state


# ------------------------------------------------------------------ exact resume
@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
def test_word2vec_resume_is_bit_identical(tmp_path, toy_corpus, sg):
    whole = word2vec(sg)
    whole.build_vocab(toy_corpus)
    whole.train(toy_corpus)

    directory = tmp_path / "ckpt"
    model = word2vec(sg, callbacks=[ckpt.Checkpointer(directory), crash_after(2)])
    model.build_vocab(toy_corpus)
    with pytest.raises(Crash):
        model.train(toy_corpus)
    info = ckpt.latest(directory)
    assert (info.epochs_done, info.remaining_epochs, info.world_size) == (2, 2, 1)
    assert sorted(os.listdir(directory)) == ["epoch-0002", "manifest.json"]  # epoch 1 pruned
    resumed = ckpt.load_model(info)
    resumed.train(toy_corpus, **info.train_arguments())
    assert resumed.epochs_trained == 4
    np.testing.assert_array_equal(resumed.wv.vectors, whole.wv.vectors)
    np.testing.assert_array_equal(resumed.syn1neg, whole.syn1neg)
    assert resumed.training_loss == whole.training_loss


@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
def test_fasttext_resume_is_bit_identical(tmp_path, toy_corpus, sg):
    def fasttext(**kwargs):
        return embforge.FastText(sg=sg, vector_size=SIZE, workers=1, min_count=1, epochs=4,
                                 bucket=2000, **kwargs)
    whole = fasttext()
    whole.build_vocab(toy_corpus)
    whole.train(toy_corpus)

    directory = tmp_path / "ckpt"
    model = fasttext(callbacks=[ckpt.Checkpointer(directory), crash_after(2)])
    model.build_vocab(toy_corpus)
    with pytest.raises(Crash):
        model.train(toy_corpus)
    info = ckpt.latest(directory)
    assert (info.model, info.epochs_done, info.remaining_epochs) == ("FastText", 2, 2)
    assert info.settings["bucket"] == 2000 and info.schedule["start_alpha"] == whole.alpha
    resumed = ckpt.load_model(info)
    assert isinstance(resumed, embforge.FastText)
    resumed.train(toy_corpus, **info.train_arguments())
    assert resumed.epochs_trained == 4
    # the n-gram rows too: an unseen word's vector is the uninterrupted run's
    np.testing.assert_array_equal(resumed.wv.input_rows, whole.wv.input_rows)
    np.testing.assert_array_equal(resumed.syn1neg, whole.syn1neg)
    np.testing.assert_array_equal(resumed.wv["unseenword"], whole.wv["unseenword"])
    # a Word2Vec run cannot continue a FastText checkpoint
    with pytest.raises(ValueError, match="model='FastText'"):
        ckpt.check_settings(info, ckpt.training_settings(word2vec(sg)))


def test_start_epoch_continues_the_learning_rate_schedule(tmp_path, toy_corpus):
    # train(start_epoch=k) computes epoch e's rates with the very expression
    # of the uninterrupted call (e / N), so they are equal by construction.
    # (Restarting a schedule at the rate reached, over the epochs left,
    # equals it in exact arithmetic only; in float32 it rounded alike in
    # every case tried, with no guarantee.)
    whole = word2vec(1, epochs=5)
    whole.build_vocab(toy_corpus)
    whole.train(toy_corpus)

    stopped = word2vec(1, epochs=5, callbacks=[crash_after(2)])
    stopped.build_vocab(toy_corpus)
    with pytest.raises(Crash):
        stopped.train(toy_corpus)
    stopped.save(tmp_path / "after2.npz")

    exact = embforge.Word2Vec.load(tmp_path / "after2.npz")
    exact.train(toy_corpus, epochs=3, start_alpha=0.025, end_alpha=1e-4, start_epoch=2)
    np.testing.assert_array_equal(exact.wv.vectors, whole.wv.vectors)
    # without start_epoch the 3 epochs run the whole schedule again: not a resume
    restarted = embforge.Word2Vec.load(tmp_path / "after2.npz")
    restarted.train(toy_corpus, epochs=3, start_alpha=0.025, end_alpha=1e-4)
    assert not np.array_equal(restarted.wv.vectors, whole.wv.vectors)
    with pytest.raises(ValueError, match="start_epoch"):
        restarted.train(toy_corpus, epochs=1, start_epoch=-1)


def test_glove_resume_is_bit_identical(tmp_path, toy_cooc):
    whole = glove().fit(toy_cooc)
    directory = tmp_path / "ckpt"
    model = glove(callbacks=[ckpt.Checkpointer(directory), crash_after(3)])
    with pytest.raises(Crash):
        model.fit(toy_cooc)
    info = ckpt.latest(directory)
    assert info.train_arguments() == {"epochs": 1}
    resumed = ckpt.load_model(info)
    resumed.fit(toy_cooc, **info.train_arguments())
    np.testing.assert_array_equal(resumed.weights, whole.weights)
    np.testing.assert_array_equal(resumed.gradsq, whole.gradsq)
    np.testing.assert_array_equal(resumed.wv.vectors, whole.wv.vectors)
    assert resumed.cost_history == whole.cost_history


def test_glove_callbacks(toy_cooc):
    calls = []

    class Hooks:
        def on_train_begin(self, model):
            calls.append(("train_begin", model.epochs_trained))

        def on_epoch_begin(self, model):
            calls.append(("epoch_begin", model.epochs_trained))

        def on_epoch_end(self, model):
            # wv is up to date for the callback: the sum of main and context rows
            n = len(model.vocab)
            expected = model.weights[:n, :SIZE] + model.weights[n:, :SIZE]
            np.testing.assert_array_equal(model.wv.vectors, expected)
            calls.append(("epoch_end", model.epochs_trained))

        def on_train_end(self, model):
            calls.append(("train_end", model.epochs_trained))

    plain = []
    model = glove(epochs=2, callbacks=[Hooks(), lambda m: plain.append(m.epochs_trained)])
    model.fit(toy_cooc)
    assert calls == [("train_begin", 0), ("epoch_begin", 0), ("epoch_end", 1),
                     ("epoch_begin", 1), ("epoch_end", 2), ("train_end", 2)]
    assert plain == [1, 2]
    model.train(1, callbacks=[])  # train()'s callbacks replace the model's for that call
    assert len(calls) == 6


# ------------------------------------------------------------------ N ranks
def run_ranks(world_size, work):
    """Runs work(rank, all_gather) on `world_size` threads joined by an
    all_gather made of a barrier (the shape torch.distributed's would have);
    returns each rank's result or exception."""
    slots = [None] * world_size
    barrier = threading.Barrier(world_size, timeout=30)
    results = [None] * world_size

    def gatherer(rank):
        def all_gather(obj):
            slots[rank] = obj
            barrier.wait()
            gathered = list(slots)
            barrier.wait()
            return gathered
        return all_gather

    def target(rank):
        try:
            results[rank] = work(rank, gatherer(rank))
        except BaseException as error:
            results[rank] = error

    threads = [threading.Thread(target=target, args=(r,)) for r in range(world_size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_ranks_write_one_checkpoint(tmp_path, toy_corpus):
    directory = tmp_path / "ckpt"

    def work(rank, all_gather):
        model = word2vec(1, epochs=3)
        model.build_vocab(toy_corpus)
        model.train(toy_corpus, epochs=2)
        model.wv.vectors[0] += rank   # the ranks' replicas differ
        saver = ckpt.Checkpointer(directory, rank=rank, world_size=2, all_gather=all_gather,
                                  schedule={"epochs": 3, "start_alpha": 0.025, "end_alpha": 1e-4})
        info = saver.save(model)
        return model, info

    results = run_ranks(2, work)
    for result in results:
        assert not isinstance(result, BaseException), result
    info = ckpt.latest(directory)
    assert info == results[0][1] == results[1][1]
    assert info.world_size == 2
    assert sorted(os.listdir(info.folder)) == ["rank-00000-of-00002.npz",
                                               "rank-00001-of-00002.npz"]
    for rank in (0, 1):
        loaded = ckpt.load_model(info, rank=rank, world_size=2)
        np.testing.assert_array_equal(loaded.wv.vectors, results[rank][0].wv.vectors)
    with pytest.raises(ValueError, match="written by 2 process.*this run has 1; resume with 2"):
        ckpt.load_model(info)
    with pytest.raises(ValueError, match="this run has 3"):
        ckpt.load_model(info, rank=0, world_size=3)


def test_ranks_with_other_settings_are_refused(tmp_path, toy_corpus):
    def work(rank, all_gather):
        model = word2vec(1, epochs=3, window=5 + rank)
        model.build_vocab(toy_corpus)
        return ckpt.Checkpointer(tmp_path, rank=rank, world_size=2,
                                 all_gather=all_gather).save(model, 0)

    for result in run_ranks(2, work):
        assert isinstance(result, ValueError)
        assert "rank 1 has window=6, rank 0 has window=5" in str(result)
    assert ckpt.latest(tmp_path) is None


def test_a_failing_rank_fails_every_rank_and_keeps_the_previous_checkpoint(tmp_path, toy_corpus):
    directory = tmp_path / "ckpt"
    models = []
    for rank in range(2):
        model = word2vec(1, epochs=3)
        model.build_vocab(toy_corpus)
        models.append(model)

    def save_all(epochs_done, failing_rank=None):
        def work(rank, all_gather):
            model = models[rank]
            if rank == failing_rank:
                def broken(path):
                    with open(path + ".partial", "wb") as f:
                        f.write(b"half")
                    raise OSError(28, "No space left on device", path)
                model.save = broken
            try:
                return ckpt.Checkpointer(directory, rank=rank, world_size=2,
                                         all_gather=all_gather).save(model, epochs_done)
            finally:
                model.__dict__.pop("save", None)
        return run_ranks(2, work)

    assert all(not isinstance(r, BaseException) for r in save_all(1))
    before = ckpt.latest(directory)
    results = save_all(2, failing_rank=1)
    assert isinstance(results[1], OSError)
    assert isinstance(results[0], RuntimeError) and "rank 1 failed" in str(results[0])
    assert ckpt.latest(directory) == before   # the manifest still names epoch 1
    assert os.path.isdir(before.folder)


def test_checkpointer_arguments():
    with pytest.raises(ValueError, match="needs all_gather"):
        ckpt.Checkpointer("x", rank=0, world_size=2)
    with pytest.raises(ValueError, match="rank must be"):
        ckpt.Checkpointer("x", rank=2, world_size=2, all_gather=list)
    with pytest.raises(ValueError, match="world_size"):
        ckpt.Checkpointer("x", world_size=0)
    with pytest.raises(ValueError, match="only FastText, Word2Vec and GloVe"):
        ckpt.Checkpointer("x").save(object())


def test_the_checkpoint_names_the_torchrun_job_that_wrote_it(tmp_path, toy_corpus, monkeypatch):
    # a restart of that job continues it (cli/resume.py); outside torchrun
    # there is no job id, and checkpoints from before it existed have none
    model = word2vec(1, epochs=1)
    model.build_vocab(toy_corpus)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "3f2c-job")
    assert ckpt.Checkpointer(tmp_path / "a").save(model).run_id == "3f2c-job"
    assert ckpt.latest(tmp_path / "a").run_id == "3f2c-job"
    assert ckpt.Checkpointer(tmp_path / "b", run_id="mine").save(model).run_id == "mine"
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    assert ckpt.Checkpointer(tmp_path / "c").save(model).run_id is None
    with open(tmp_path / "c" / "manifest.json") as f:
        assert "run" not in json.load(f)
    for bad in ("", "x" * 257, 5):
        with pytest.raises(ValueError, match="run_id must be a string"):
            ckpt.Checkpointer(tmp_path / "d", run_id=bad)


def test_what_torchrun_tells_its_workers_about_their_start():
    from embforge.distributed.launch import Launch, torchrun_launch
    assert torchrun_launch({}) == Launch(None, 0)
    assert torchrun_launch({"TORCHELASTIC_RUN_ID": "abc", "TORCHELASTIC_RESTART_COUNT": "3"}) \
        == Launch("abc", 3)
    for odd in ("-1", "two", "\u00b2", ""):   # not what torchrun writes: the first start
        assert torchrun_launch({"TORCHELASTIC_RESTART_COUNT": odd}).restart == 0
    assert torchrun_launch({"TORCHELASTIC_RUN_ID": "x" * 257}).run_id is None


# ------------------------------------------------------------------ hostile input
@pytest.fixture
def saved(tmp_path, toy_corpus):
    """A complete single-rank checkpoint after 1 of 3 epochs."""
    model = word2vec(1, epochs=3)
    model.build_vocab(toy_corpus)
    model.train(toy_corpus, epochs=1)
    directory = tmp_path / "ckpt"
    ckpt.Checkpointer(directory, corpus=[{"name": "toy.txt", "size": 1}]).save(model)
    return str(directory)


def edit_manifest(directory, change):
    path = os.path.join(directory, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    change(manifest)
    with open(path, "w") as f:
        json.dump(manifest, f)


def file_entry(manifest):
    return manifest["files"][0]


HOSTILE_MANIFESTS = {
    "format": (lambda m: m.update(format="gensim"), "not an embforge checkpoint manifest"),
    "version": (lambda m: m.update(version=2), "version 2 is not supported"),
    "model": (lambda m: m.update(model="Doc2Vec"), "model 'Doc2Vec'"),
    "epochs": (lambda m: m.update(epochs_done=-1), "epochs_done -1"),
    "folder": (lambda m: m.update(checkpoint="../../etc"), "checkpoint '../../etc'"),
    "world": (lambda m: m.update(world_size=2), "must list the 2 ranks"),
    "world_zero": (lambda m: m.update(world_size=0), "world_size 0"),
    "name": (lambda m: file_entry(m).update(name="../rank-00000-of-00001.npz"), "file entry 0"),
    "size_type": (lambda m: file_entry(m).update(size="12"), "file entry 0"),
    "hash_form": (lambda m: file_entry(m).update(sha256="zz"), "file entry 0"),
    "size": (lambda m: file_entry(m).update(size=file_entry(m)["size"] + 1),
             "the manifest says .* \\(damaged checkpoint\\)"),
    "schedule": (lambda m: m["schedule"].update(epochs=0), "schedule"),
    "rates": (lambda m: m["schedule"].pop("end_alpha"), "end_alpha"),
    "done_past_schedule": (lambda m: m.update(epochs_done=5, checkpoint="epoch-0005"),
                           "more than the 3"),
    "settings": (lambda m: m["settings"].pop("window"), "settings lack window"),
    "not_object": (lambda m: m.clear(), "format None"),
    "run_type": (lambda m: m.update(run=7), "run 7"),
    "run_empty": (lambda m: m.update(run=""), "run ''"),
    "run_long": (lambda m: m.update(run="x" * 257), "run 'xxx"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MANIFESTS))
def test_hostile_manifest_is_refused_and_nothing_changes(saved, case):
    change, message = HOSTILE_MANIFESTS[case]
    edit_manifest(saved, change)
    before = snapshot(saved)
    with pytest.raises(ValueError, match=message):
        ckpt.latest(saved)
    assert snapshot(saved) == before


def test_a_checkpoint_from_before_a_setting_existed_reads_as_trained(saved):
    # hot_average_rows came after the first Word2Vec checkpoints: one without
    # it was trained adding every row's changes, 0 rows averaged; resuming one
    # written by several ranks with the new default is refused as a change of
    # settings (one rank's trained the same either way: see the test above)
    edit_manifest(saved, lambda m: m["settings"].pop("hot_average_rows"))
    info = ckpt.latest(saved)
    assert info.settings["hot_average_rows"] == 0
    fresh = word2vec(1, epochs=3)
    assert fresh.hot_average_rows != 0  # None: by the number of ranks
    settings = dict(ckpt.training_settings(fresh), corpus=info.settings["corpus"])
    ckpt.check_settings(info, settings)
    with pytest.raises(ValueError, match="hot_average_rows"):
        ckpt.check_settings(dataclasses.replace(info, world_size=2), settings)


def test_a_checkpoint_from_before_the_averaged_rows_momentum_reads_as_none(saved):
    # several ranks' checkpoints from before it resume by naming the old value
    edit_manifest(saved, lambda m: m["settings"].pop("hot_average_momentum"))
    info = ckpt.latest(saved)
    assert info.settings["hot_average_momentum"] == 0.0
    fresh = word2vec(1, epochs=3)
    settings = dict(ckpt.training_settings(fresh), corpus=info.settings["corpus"])
    with pytest.raises(ValueError, match="hot_average_momentum"):
        ckpt.check_settings(dataclasses.replace(info, world_size=2), settings)
    fresh.hot_average_momentum = 0.0
    settings = dict(ckpt.training_settings(fresh), corpus=info.settings["corpus"])
    ckpt.check_settings(dataclasses.replace(info, world_size=2), settings)


def test_a_checkpoint_from_before_float16_syncs_reads_as_float32(saved):
    edit_manifest(saved, lambda m: m["settings"].pop("sync_dtype"))
    info = ckpt.latest(saved)
    assert info.settings["sync_dtype"] == "float32"
    settings = dict(ckpt.training_settings(word2vec(1, epochs=3)), corpus=info.settings["corpus"])
    ckpt.check_settings(dataclasses.replace(info, world_size=2), settings)
    # several ranks' replicas synced float32: resuming them in float16 is another run
    settings["sync_dtype"] = "float16"
    with pytest.raises(ValueError, match="sync_dtype"):
        ckpt.check_settings(dataclasses.replace(info, world_size=2), settings)
    ckpt.check_settings(info, settings)  # one process: no syncs, nothing changes


def test_a_glove_checkpoint_from_before_strata_reads_as_trained_without(tmp_path, toy_cooc):
    directory = tmp_path / "ckpt"
    glove(epochs=1, callbacks=[ckpt.Checkpointer(directory)]).fit(toy_cooc)
    edit_manifest(str(directory), lambda m: m["settings"].pop("stratify"))
    info = ckpt.latest(directory)
    assert info.settings["stratify"] is False
    settings = dict(ckpt.training_settings(glove(epochs=1)), corpus=info.settings.get("corpus"))
    assert settings["stratify"] is True  # the default now
    ckpt.check_settings(info, settings)  # one process: no strata, nothing changes
    # several ranks trained without strata: resuming them with strata is another run
    with pytest.raises(ValueError, match="stratify"):
        ckpt.check_settings(dataclasses.replace(info, world_size=2), settings)


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b"[1, 2]", b"null", b"1e999999"])
def test_manifest_that_is_not_json_is_refused(saved, content):
    with open(os.path.join(saved, "manifest.json"), "wb") as f:
        f.write(content)
    with pytest.raises(ValueError, match="manifest"):
        ckpt.latest(saved)


def test_huge_or_odd_manifest_is_refused_before_reading(saved):
    path = os.path.join(saved, "manifest.json")
    os.truncate(path, (1 << 24) + 1)   # sparse: its size alone must refuse it
    with pytest.raises(ValueError, match="more than"):
        ckpt.latest(saved)
    os.unlink(path)
    os.mkdir(path)
    with pytest.raises(ValueError, match="not a regular file"):
        ckpt.latest(saved)


def test_damaged_rank_files_are_refused(saved):
    info = ckpt.latest(saved)
    path = info.path(0)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x40   # same size, other bytes: only the hash sees it
    with open(path, "wb") as f:
        f.write(data)
    before = snapshot(saved)
    with pytest.raises(ValueError, match="SHA-256"):
        ckpt.load_model(info)
    os.unlink(path)
    with pytest.raises(ValueError, match="missing"):
        ckpt.latest(saved)
    os.mkfifo(path)   # a FIFO would hang a reader: refused from its stat
    with pytest.raises(ValueError, match="not a regular file"):
        ckpt.latest(saved)
    os.unlink(path)
    assert set(snapshot(saved)) == set(before) - {os.path.relpath(path, saved)}


def test_rank_file_that_disagrees_with_its_manifest_is_refused(saved, toy_corpus):
    info = ckpt.latest(saved)
    other = word2vec(1, epochs=3, window=3)    # a valid model of other settings
    other.build_vocab(toy_corpus)
    other.train(toy_corpus, epochs=1)
    other.save(info.path(0))
    size, digest = ckpt.manifest.size_and_hash(info.path(0))
    edit_manifest(saved, lambda m: file_entry(m).update(size=size, sha256=digest))
    with pytest.raises(ValueError, match="window=3, the manifest says 5"):
        ckpt.load_model(ckpt.latest(saved))


def test_settings_mismatch_names_the_field(saved):
    info = ckpt.latest(saved)
    settings = dict(info.settings)
    ckpt.check_settings(info, settings)   # the same settings pass
    for name, value in (("window", 7), ("corpus", [{"name": "toy.txt", "size": 2}]),
                        ("model", "GloVe"), ("sg", 0)):
        changed = dict(settings, **{name: value})
        with pytest.raises(ValueError, match=f"trained with {name}=.*this run has {name}="):
            ckpt.check_settings(info, changed)


def test_sync_settings_matter_only_across_ranks(saved):
    # a checkpoint of one process trained the same whatever the sync
    # settings: a run checkpointed before a default changed resumes with the
    # new one; written by 2 ranks, the same change is refused
    info = ckpt.latest(saved)
    assert info.world_size == 1
    settings = dict(info.settings, sync_interval=2_200_000, hot_sync_interval=1, combine="average")
    ckpt.check_settings(info, settings)
    with pytest.raises(ValueError, match="trained with sync_interval=None, this run has "
                                         "sync_interval=2200000"):
        ckpt.check_settings(dataclasses.replace(info, world_size=2), settings)


def test_no_checkpoint_yet(tmp_path):
    assert ckpt.latest(tmp_path / "missing") is None
    (tmp_path / "empty" / "epoch-0001").mkdir(parents=True)   # a first save killed early
    assert ckpt.latest(tmp_path / "empty") is None
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        ckpt.latest(tmp_path / "file")


def test_a_later_save_cleans_what_a_killed_save_left(saved, toy_corpus):
    info = ckpt.latest(saved)
    # a save killed while writing: a torn temporary file, a half folder, a
    # manifest temporary; none of it is named by the manifest
    half = os.path.join(saved, "epoch-0002")
    os.mkdir(half)
    open(os.path.join(half, stale_temp_name("rank-00000-of-00001.npz")), "wb").write(b"torn")
    open(os.path.join(saved, stale_temp_name("manifest.json")), "wb").write(b"{")
    assert ckpt.latest(saved) == info
    model = ckpt.load_model(info)
    model.train(toy_corpus, **dict(info.train_arguments(), epochs=1))
    ckpt.Checkpointer(saved, corpus=info.settings["corpus"]).save(model)
    assert sorted(os.listdir(saved)) == ["epoch-0002", "manifest.json"]
    assert os.listdir(half) == ["rank-00000-of-00001.npz"]
    shutil.rmtree(saved)
