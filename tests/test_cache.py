"""The result cache (lecturekit.cache): keys that follow the config, the code and torch; files safe to share."""

from pathlib import Path

import pytest
import torch

from lecturekit import cache, data, encoders, progress, training

TINY_SSL = training.TrainConfig(method="simclr", epochs=1, batch_size=512, seed=0)


@pytest.fixture
def few_digits(monkeypatch):
    """The training split shrinks to 30 digits (40 before the split): a training run takes a moment."""
    few = data.digits().subset(torch.arange(40))
    monkeypatch.setattr(data, "digits", lambda size=28: few)
    return few


@pytest.fixture
def tiny_training(monkeypatch, few_digits):
    """The registry's SSL encoder trains one epoch on a few digits: these tests stay fast (they test the cache)."""
    monkeypatch.setattr(encoders, "SSL", TINY_SSL)


def test_cache_key_tracks_config_and_seed():
    base = cache.key(TINY_SSL, training.train)
    assert cache.key(TINY_SSL, training.train) == base
    assert cache.key(training.TrainConfig("simclr", epochs=1, batch_size=512, seed=1), training.train) != base
    assert cache.key(training.TrainConfig("simclr", epochs=2, batch_size=512, seed=0), training.train) != base


def test_cache_key_follows_every_module_the_training_runs(tmp_path, monkeypatch):
    """Editing any module the training code imports, or the architecture's module, retrains; nothing else does."""
    import shutil

    import importgraph

    src = tmp_path / "src"
    shutil.copytree(Path(cache.__file__).parent, src / "lecturekit")
    monkeypatch.setattr(cache, "_library", lambda: importgraph.Library(src, "lecturekit"))
    fit = training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
    base = cache.key(TINY_SSL, fit)
    reached = {m.split(":", 1)[1] for m in importgraph.reach(fit, cache._library())}
    # The trainer, what it imports, and the architecture -- derived, not listed.
    assert {
        "lecturekit.training",
        "lecturekit.encoders",
        "lecturekit.losses",
        "lecturekit.transforms",
        "lecturekit.data",
    } <= reached
    for module in sorted(reached):
        f = cache._library().file(module)
        original = f.read_text()
        f.write_text(original + "\n# edited\n")
        assert cache.key(TINY_SSL, fit) != base, f"editing {module} did not change the key"
        f.write_text(original)
    assert cache.key(TINY_SSL, fit) == base
    for module in ("lecturekit.ebm", "lecturekit.plotting"):  # not run by the training
        assert module not in reached
        f = cache._library().file(module)
        f.write_text(f.read_text() + "\n# edited\n")
    assert cache.key(TINY_SSL, fit) == base


def test_corrupt_cache_file_is_retrained_not_used(tiny_training, monkeypatch):
    reported = []
    monkeypatch.setattr(progress, "report", reported.append)
    path = cache.file("digits-ssl", TINY_SSL, training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half-written")
    model = encoders.load("digits-ssl")
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 128)
    assert torch.load(path, weights_only=True)  # replaced by a readable state dict
    # what progress reports names the encoder: the unreadable file (read before and again after
    # taking the lock), what it computes and where it goes, and the epoch
    assert reported[0].startswith(f"digits-ssl: cache file {path} unreadable (")
    assert f"digits-ssl: computing ({TINY_SSL}), result will be cached at {path}" in reported
    assert reported[-1].startswith("digits-ssl: epoch 1/1, loss ")
    assert all(line.startswith("digits-ssl: ") for line in reported), reported


UNPICKLED = []


def _record(what):
    UNPICKLED.append(what)


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (_record, ("code ran",))


def test_cache_file_that_would_run_code_is_recomputed_not_unpickled():
    """Cache files load with ``weights_only``: a pickle that calls a function is refused and recomputed."""
    config = ("pickled", 1)

    def compute():
        return {"w": torch.ones(2)}

    path = cache.file("pickled", config, compute)
    path.parent.mkdir(parents=True)
    torch.save({"w": _RunsCodeWhenUnpickled()}, path)
    assert torch.equal(cache.result("pickled", config, compute)["w"], torch.ones(2))
    assert UNPICKLED == []


def test_weights_file_is_named_by_the_result_and_its_key():
    from lecturekit import profile

    fit = training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
    key = cache.key(TINY_SSL, fit)
    assert len(key) == 16 and set(key) <= set("0123456789abcdef")  # 16 hex digits
    assert cache.file("digits-ssl", TINY_SSL, fit) == profile.cache_dir() / "weights" / f"digits-ssl-{key}.pt"
    assert (
        cache.file("digits-ssl", TINY_SSL, training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl")).name
        == f"digits-ssl-{key}.pt"
    )


def test_cache_key_ignores_only_the_local_build_tag_of_torch(monkeypatch):
    """The CPU and CUDA wheels of one torch release compute the same on CPU; another release does not."""
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    cpu = cache.key(TINY_SSL, training.train)
    monkeypatch.setattr(torch, "__version__", "2.5.1+cu121")
    assert cache.key(TINY_SSL, training.train) == cpu
    monkeypatch.setattr(torch, "__version__", "2.6.0+cpu")
    assert cache.key(TINY_SSL, training.train) != cpu


def test_concurrent_requests_for_one_result_compute_it_once():
    # Two chapters executing side by side that need the same trained weights: one trains, the
    # other waits for the file instead of training the same thing again.
    import threading
    import time

    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.5)
        return {"w": torch.full((3,), float(len(calls)))}

    results = []
    workers = [
        threading.Thread(target=lambda: results.append(cache.result("shared", ("shared", 1), compute)))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(calls) == 1
    assert len(results) == 2 and all(torch.equal(r["w"], torch.ones(3)) for r in results)


def test_cache_key_changes_with_the_thread_count(monkeypatch):
    """CPU reductions split differently across threads: weights trained with another count are kept apart."""
    compute = training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
    base = cache.key(TINY_SSL, compute)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 7)
    seven = cache.key(TINY_SSL, compute)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert len({base, seven, cache.key(TINY_SSL, compute)}) == 3


def test_cache_key_changes_with_the_seed_and_every_other_config_field():
    import dataclasses

    compute = training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
    base = cache.key(TINY_SSL, compute)
    changes = {"seed": 1, "epochs": 2, "batch_size": 256, "lr": 1e-3, "weight_decay": 0.1, "temperature": 0.5}
    for name, value in {**changes, "max_angle": 10.0, "method": "supervised"}.items():
        assert cache.key(dataclasses.replace(TINY_SSL, **{name: value}), compute) != base, name


def test_a_cached_result_is_read_without_waiting_for_the_lock():
    """A kernel computing another result under the lock does not hold up one that only reads: the cache
    file is read before the lock is taken (the lock file, ``<file>.lock``, is the name every process uses)."""
    import threading

    config = ("read", 1)

    def compute():
        return {"w": torch.ones(2)}

    cache.result("read", config, compute)
    path = cache.file("read", config, compute)
    lock = path.with_name(path.name + ".lock")
    assert lock.exists()
    got = []
    with cache._exclusive(lock):
        reader = threading.Thread(target=lambda: got.append(cache.result("read", config, compute)))
        reader.start()
        reader.join(timeout=10)
        assert got and torch.equal(got[0]["w"], torch.ones(2)), "the reader waited for the lock"


def test_cache_files_are_loaded_onto_the_cpu_without_running_code(monkeypatch):
    """Results computed on a GPU load on a CPU-only machine; a cache file never runs code when read.
    (There is no GPU here to compute one, so the arguments are checked.)"""
    config = ("spy", 1)

    def compute():
        return {"w": torch.zeros(1)}

    cache.result("spy", config, compute)
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    cache.result("spy", config, compute)
    assert calls == [{"map_location": "cpu", "weights_only": True}]
