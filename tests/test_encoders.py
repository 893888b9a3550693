import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lecturekit import data, encoders, losses, training, transforms

TINY_SSL = training.TrainConfig(method="simclr", epochs=1, batch_size=512, seed=0)
TINY_SUP = training.TrainConfig(method="supervised", epochs=1, batch_size=512, seed=0)


@pytest.fixture
def few_digits(monkeypatch):
    """The training split shrinks to 30 digits (40 before the split): a training run takes a moment."""
    few = data.digits().subset(torch.arange(40))
    monkeypatch.setattr(data, "digits", lambda size=28: few)
    return few


@pytest.fixture
def tiny_training(monkeypatch, few_digits):
    """Registry encoders train for one epoch on a few digits, so these tests stay fast (they test the cache)."""
    monkeypatch.setattr(encoders, "SSL", TINY_SSL)
    monkeypatch.setattr(encoders, "SUPERVISED", TINY_SUP)


def test_names_per_profile():
    lite = ["pixels", "random-cnn", "digits-supervised", "digits-ssl"]
    assert encoders.names() == lite
    assert encoders.names("full") == lite + ["resnet18-imagenet", "dinov2-vits14"]
    assert set(encoders.describe("lite")) == set(lite)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown encoder 'vit-huge'.*pixels, random-cnn, digits-supervised, digits-ssl"
    ):
        encoders.load("vit-huge")
    with pytest.raises(ValueError, match="needs the full profile"):
        encoders.load("resnet18-imagenet")


def test_embed_shapes_and_batch_size_do_not_change_the_result():
    x = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    cnn = encoders.load("random-cnn")
    z_full, z_small = encoders.embed(cnn, x, batch_size=64), encoders.embed(cnn, x, batch_size=3)
    assert z_full.shape == (10, 128)
    assert torch.allclose(z_full, z_small, atol=1e-6)
    assert encoders.embed(encoders.load("pixels"), x).shape == (10, 784)


def test_embed_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(n, 1, H, W\)"):
        encoders.embed(encoders.load("pixels"), torch.zeros(3, 28, 28))
    with pytest.raises(ValueError, match="batch_size"):
        encoders.embed(encoders.load("pixels"), torch.zeros(3, 1, 28, 28), batch_size=0)


def test_random_cnn_is_deterministic_and_does_not_touch_global_rng():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = encoders.load("random-cnn"), encoders.load("random-cnn")
    assert torch.equal(torch.random.get_rng_state(), before)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=False):
        assert torch.equal(pa, pb)


def test_trained_encoder_is_cached_and_not_retrained(tiny_training, monkeypatch):
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    z1 = encoders.embed(encoders.load("digits-ssl"), x)
    path = training.cached_path(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
    assert path.exists()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although cached weights exist")

    monkeypatch.setattr(training, "train", no_training)
    z2 = encoders.embed(encoders.load("digits-ssl"), x)
    assert torch.equal(z1, z2)


def test_same_seed_same_weights_in_separate_caches(tiny_training, tmp_path, monkeypatch):
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    z1 = encoders.embed(encoders.load("digits-supervised"), x)
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "second-cache"))
    z2 = encoders.embed(encoders.load("digits-supervised"), x)
    assert torch.equal(z1, z2)
    assert not torch.equal(z1, encoders.embed(encoders.load("random-cnn"), x))  # training changed it


def test_cache_key_tracks_config_and_seed():
    base = training.cache_key(TINY_SSL, training.train)
    assert training.cache_key(TINY_SSL, training.train) == base
    assert training.cache_key(training.TrainConfig("simclr", epochs=1, batch_size=512, seed=1), training.train) != base
    assert training.cache_key(training.TrainConfig("simclr", epochs=2, batch_size=512, seed=0), training.train) != base


def test_cache_key_follows_every_module_the_training_runs(tmp_path, monkeypatch):
    """Editing any module the training code imports, or the architecture's module, retrains; nothing else does."""
    import shutil

    import importgraph

    src = tmp_path / "src"
    shutil.copytree(Path(training.__file__).parent, src / "lecturekit")
    monkeypatch.setattr(training, "_library", lambda: importgraph.Library(src, "lecturekit"))
    fit = training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
    base = training.cache_key(TINY_SSL, fit)
    reached = {m.split(":", 1)[1] for m in importgraph.reach(fit, training._library())}
    # The trainer, what it imports, and the architecture -- derived, not listed.
    assert {
        "lecturekit.training",
        "lecturekit.encoders",
        "lecturekit.losses",
        "lecturekit.transforms",
        "lecturekit.data",
    } <= reached
    for module in sorted(reached):
        f = training._library().file(module)
        original = f.read_text()
        f.write_text(original + "\n# edited\n")
        assert training.cache_key(TINY_SSL, fit) != base, f"editing {module} did not change the key"
        f.write_text(original)
    assert training.cache_key(TINY_SSL, fit) == base
    for module in ("lecturekit.ebm", "lecturekit.plotting"):  # not run by the training
        assert module not in reached
        f = training._library().file(module)
        f.write_text(f.read_text() + "\n# edited\n")
    assert training.cache_key(TINY_SSL, fit) == base


def test_cache_key_follows_notebook_code(tmp_path):
    """A training function defined outside any module (a notebook cell) is keyed on its source and callees."""
    namespace = {"__name__": "__main__", "training": training}  # as in a notebook kernel
    exec(
        compile("def helper(x):\n    return x + 1\n\ndef run():\n    return helper(1)\n", "<cell-1>", "exec"), namespace
    )
    k1 = training.cache_key("cfg", namespace["run"])
    exec(compile("def helper(x):\n    return x + 2\n", "<cell-2>", "exec"), namespace)
    assert training.cache_key("cfg", namespace["run"]) != k1


def test_corrupt_cache_file_is_retrained_not_used(tiny_training, monkeypatch):
    reported = []
    monkeypatch.setattr(training.progress, "report", reported.append)
    path = training.cached_path(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
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

    path = training.weights_path("pickled", config, compute)
    path.parent.mkdir(parents=True)
    torch.save({"w": _RunsCodeWhenUnpickled()}, path)
    assert torch.equal(training.cached_result("pickled", config, compute)["w"], torch.ones(2))
    assert UNPICKLED == []


def test_weights_file_is_named_by_the_result_and_its_key():
    from lecturekit import profile

    fit = training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl")
    key = training.cache_key(TINY_SSL, fit)
    assert len(key) == 16 and set(key) <= set("0123456789abcdef")  # 16 hex digits
    assert (
        training.weights_path("digits-ssl", TINY_SSL, fit) == profile.cache_dir() / "weights" / f"digits-ssl-{key}.pt"
    )
    assert training.cached_path(encoders.SmallCNN(), TINY_SSL, "digits-ssl").name == f"digits-ssl-{key}.pt"


NOTEBOOK_CNN = """
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 4), nn.BatchNorm1d(4))

    def forward(self, x):
        return self.net(x)
"""


def test_cached_path_is_where_cached_keeps_a_notebook_architecture(few_digits):
    """For an architecture defined in a notebook cell (its source is in the key), ``cached_path``
    names the file ``cached`` wrote, and that file holds the trained weights."""
    namespace = {"__name__": "__main__", "nn": nn}  # as in a notebook kernel
    exec(compile(NOTEBOOK_CNN, "<cell-1>", "exec"), namespace)
    config = training.TrainConfig("supervised", epochs=1, batch_size=16)
    trained = training.cached(namespace["TinyNet"](), config, "tiny-net")
    path = training.cached_path(namespace["TinyNet"](), config, "tiny-net")
    assert list(path.parent.glob("*.pt")) == [path]
    assert torch.equal(torch.load(path, weights_only=True)["net.1.weight"], trained.net[1].weight)
    assert not trained.training


def test_cache_key_ignores_only_the_local_build_tag_of_torch(monkeypatch):
    """The CPU and CUDA wheels of one torch release compute the same on CPU; another release does not."""
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    cpu = training.cache_key(TINY_SSL, training.train)
    monkeypatch.setattr(torch, "__version__", "2.5.1+cu121")
    assert training.cache_key(TINY_SSL, training.train) == cpu
    monkeypatch.setattr(torch, "__version__", "2.6.0+cpu")
    assert training.cache_key(TINY_SSL, training.train) != cpu


def test_unknown_training_method_is_an_error():
    with pytest.raises(ValueError, match=r"^unknown training method 'magic'; use 'supervised' or 'simclr'$"):
        training.train(encoders.SmallCNN(), training.TrainConfig("magic", epochs=1), "x")


@pytest.mark.parametrize(("epochs", "batch_size"), [(0, 8), (1, 1), (-2, 0)])
def test_no_epoch_or_a_batch_of_one_is_an_error(epochs, batch_size):
    expected = rf"^need epochs >= 1 and batch_size >= 2 \(batch normalisation\); got {epochs}, {batch_size}$"
    with pytest.raises(ValueError, match=expected):
        training.train(encoders.SmallCNN(), training.TrainConfig("supervised", epochs, batch_size), "x")


def _tiny_backbone(dim: int = 6) -> nn.Module:
    """Pixels -> a linear map -> batch normalisation (whose running statistics any forward pass in
    training mode changes)."""
    with torch.random.fork_rng():
        torch.manual_seed(7)
        return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, dim), nn.BatchNorm1d(dim))


def _reference_train(backbone, config, name):
    """``train``'s documented recipe, written out: heads initialised from ``seed``, one generator
    (seeded by ``seed``) for the batches and the views, AdamW under a one-cycle schedule (20 %
    warm-up, ``epochs * ceil(n / batch_size)`` steps). Returns the progress lines it would report."""
    train_set, _ = data.split(data.digits())
    dim = backbone[1].out_features
    torch.manual_seed(config.seed)
    if config.method == "supervised":
        head = nn.Linear(dim, 10)
    else:
        head = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(), nn.Linear(dim, 64))
    g = torch.Generator().manual_seed(config.seed)
    params = [*backbone.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(train_set) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps, pct_start=0.2)
    lines = []
    for epoch in range(1, config.epochs + 1):
        seen, total = 0, 0.0
        for idx in training._batches(len(train_set), config.batch_size, g):
            x, y = train_set.x[idx], train_set.y[idx]
            if config.method == "supervised":
                loss = F.cross_entropy(head(backbone(x)), y)
            else:
                views = [transforms.augment(x, g, max_angle=config.max_angle) for _ in range(2)]
                loss = losses.info_nce(head(backbone(views[0])), head(backbone(views[1])), config.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            seen += len(idx)
            total += float(loss.detach()) * len(idx)
        assert seen == len(train_set)
        lines.append(f"{name}: epoch {epoch}/{config.epochs}, loss {total / seen:.4f}")
    return lines


@pytest.mark.parametrize(
    "config",
    [
        training.TrainConfig("supervised", epochs=2, batch_size=8, lr=0.01, weight_decay=0.1, seed=3),
        training.TrainConfig("supervised", epochs=1, batch_size=2, lr=0.02, seed=1),
        training.TrainConfig(
            "simclr", epochs=2, batch_size=7, lr=0.01, weight_decay=0.1, temperature=0.5, max_angle=45.0, seed=2
        ),
    ],
)
def test_train_follows_its_documented_recipe(few_digits, monkeypatch, config):
    """The trained weights and the reported losses are exactly those of the recipe written out."""
    reported = []
    monkeypatch.setattr(training.progress, "report", reported.append)
    rng_before = torch.random.get_rng_state()
    backbone = _tiny_backbone()
    trained = training.train(backbone, config, "tiny")
    assert trained is backbone and not trained.training
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the global generator is left alone

    reference = _tiny_backbone()
    with torch.random.fork_rng():
        expected = _reference_train(reference.train(), config, "tiny")
    assert reported == expected
    for (key, ours), theirs in zip(trained.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs), key
    assert not torch.equal(trained[1].weight, _tiny_backbone()[1].weight)  # it did train


def test_seeds_give_separately_cached_trained_encoders(tiny_training):
    import dataclasses

    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    z0 = encoders.embed(encoders.load("digits-ssl", seed=0), x)
    z1 = encoders.embed(encoders.load("digits-ssl", seed=1), x)
    assert not torch.equal(z0, z1)
    assert torch.equal(z0, encoders.embed(encoders.load("digits-ssl"), x))  # seed 0 is the default
    for seed in (0, 1):
        config = dataclasses.replace(TINY_SSL, seed=seed)
        assert training.cached_path(encoders.SmallCNN(), config, "digits-ssl").exists()


def test_random_cnn_seeds_differ_and_repeat():
    a, b = encoders.load("random-cnn", seed=1), encoders.load("random-cnn", seed=1)
    c = encoders.load("random-cnn", seed=2)
    assert torch.equal(a.features[1][0].weight, b.features[1][0].weight)
    assert not torch.equal(a.features[1][0].weight, c.features[1][0].weight)


def test_seed_errors_are_clear():
    with pytest.raises(ValueError, match="'pixels' has no random weights.*random-cnn, digits-supervised, digits-ssl"):
        encoders.load("pixels", seed=1)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            encoders.load("random-cnn", seed=bad)


def test_small_cnn_layers_shapes_and_last_is_the_feature_map():
    cnn = encoders.load("random-cnn")
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        maps = cnn.layers(x)
        assert [tuple(m.shape) for m in maps] == [(3, 16, 7, 7), (3, 32, 7, 7), (3, 128, 7, 7)]
        assert torch.equal(maps[-1], cnn.feature_map(x))
        assert torch.allclose(maps[-1].mean(dim=(2, 3)), cnn(x))


def test_batches_cover_every_image_and_never_hold_one():
    g = torch.Generator().manual_seed(0)
    for n, size in [(1347, 64), (1347, 673), (10, 3), (5, 8)]:
        batches = training._batches(n, size, g)
        assert sorted(torch.cat(batches).tolist()) == list(range(n))
        assert min(len(b) for b in batches) >= 2


def test_a_few_supervised_epochs_make_neighbours_agree_more():
    """The training loop learns: after three epochs, held-out 5-NN accuracy beats the untrained CNN's."""
    from lecturekit import data
    from lecturekit.metrics import probes

    train_set, test_set = data.split(data.digits())

    def knn(cnn):
        return probes.knn_accuracy(
            encoders.embed(cnn, train_set.x), train_set.y, encoders.embed(cnn, test_set.x), test_set.y, k=5
        )

    before = knn(encoders.load("random-cnn"))
    config = training.TrainConfig("supervised", epochs=3, batch_size=64, lr=3e-3, seed=0)
    trained = training.train(encoders.load("random-cnn").train(), config, "test")
    assert not trained.training
    assert knn(trained) > before


# --- full profile: the real loading code, on weight files made here -------------------------


@pytest.fixture
def full_offline(monkeypatch):
    monkeypatch.setenv("LECTUREKIT_PROFILE", "full")
    monkeypatch.setenv("LECTUREKIT_OFFLINE", "1")


def test_resnet18_loads_from_the_torch_cache(full_offline):
    from torchvision.models import resnet18

    with torch.random.fork_rng():
        torch.manual_seed(0)
        state = resnet18().state_dict()
    ckpt = torch.hub.get_dir() + "/checkpoints/resnet18-f37072fd.pth"
    import os

    os.makedirs(os.path.dirname(ckpt))
    torch.save(state, ckpt)
    model = encoders.load("resnet18-imagenet")
    assert torch.equal(model.backbone.conv1.weight, state["conv1.weight"])
    assert encoders.embed(model, torch.rand(2, 1, 28, 28)).shape == (2, 512)


def test_resnet18_missing_offline_names_the_file(full_offline):
    with pytest.raises(FileNotFoundError, match=r"checkpoints/resnet18-f37072fd\.pth"):
        encoders.load("resnet18-imagenet")


KEYS = json.loads((Path(__file__).parent / "data" / "dinov2_vits14_keys.json").read_text())["keys"]


def _official_layout(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the key names and shapes of Meta's dinov2_vits14_pretrain.pth."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) * 0.02 for k, shape in KEYS.items()}


def test_official_dinov2_keys_load_into_timm_exactly():
    """Every tensor of Meta's checkpoint but the training-only mask token becomes a timm parameter."""
    state = _official_layout()
    assert len(state) == 175 and state["pos_embed"].shape == (1, 1 + 37 * 37, 384)
    model = encoders.dinov2_vits14(state, size=518)  # strict load: no key missing, none left over
    ours = model.state_dict()
    assert set(ours) == set(KEYS) - {"mask_token"}
    for key, value in ours.items():
        assert torch.equal(value, state[key]), key
    assert model(torch.zeros(1, 3, 518, 518)).shape == (1, 384)


def test_dinov2_position_embeddings_resampled_as_meta_does():
    """At 224 pixels: 16x16 patches, bicubic from 37x37 with Meta's 0.1 offset, no antialiasing."""
    import torch.nn.functional as F

    state = _official_layout(1)
    converted = encoders.dinov2_state_for_timm(state, 224)
    grid = state["pos_embed"][:, 1:].reshape(1, 37, 37, 384).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, scale_factor=(16.1 / 37, 16.1 / 37), mode="bicubic", antialias=False)
    assert converted["pos_embed"].shape == (1, 1 + 16 * 16, 384)
    assert torch.equal(converted["pos_embed"][:, 0], state["pos_embed"][:, 0])  # CLS position untouched
    assert torch.equal(converted["pos_embed"][:, 1:], expected.permute(0, 2, 3, 1).reshape(1, 256, 384))
    assert "mask_token" not in converted and "mask_token" in state  # the input is not modified
    model = encoders.dinov2_vits14(state, size=224)
    assert model(torch.zeros(2, 3, 224, 224)).shape == (2, 384)


def test_dinov2_rejects_other_checkpoints_and_sizes():
    with pytest.raises(ValueError, match="multiple of 14"):
        encoders.dinov2_state_for_timm(_official_layout(), 100)
    wrong = _official_layout()
    wrong["blocks.0.attn.qkv.weight"] = torch.zeros(10, 384)
    with pytest.raises(ValueError, match="not a DINOv2 ViT-S/14 checkpoint"):
        encoders.dinov2_vits14(wrong)
    with pytest.raises(ValueError, match="pos_embed"):
        encoders.dinov2_state_for_timm({"cls_token": torch.zeros(1, 1, 384)})


def test_dinov2_loads_from_the_torch_cache(full_offline):
    hub = Path(torch.hub.get_dir())
    (hub / "checkpoints").mkdir(parents=True)
    state = _official_layout(2)
    torch.save(state, hub / "checkpoints" / "dinov2_vits14_pretrain.pth")
    model = encoders.load("dinov2-vits14")
    assert model.size == 224
    assert torch.equal(model.backbone.blocks[11].mlp.fc2.weight, state["blocks.11.mlp.fc2.weight"])
    assert encoders.embed(model, torch.rand(2, 1, 28, 28)).shape == (2, 384)


def test_dinov2_missing_offline_names_the_weights(full_offline):
    with pytest.raises(FileNotFoundError, match=r"checkpoints/dinov2_vits14_pretrain\.pth"):
        encoders.load("dinov2-vits14")


def test_standin_weights_only_in_a_standin_run(full_offline, monkeypatch):
    """Stand-in files load only with LECTUREKIT_STANDIN=1, at the stand-in's input size."""
    from lecturekit import standin

    torch_home = Path(torch.hub.get_dir()).parent
    standin.generate(Path(torch_home.parent / "standin-cache"), torch_home, images=10, pixels=28)
    with pytest.raises(RuntimeError, match="stand-in files"):
        encoders.load("resnet18-imagenet")
    monkeypatch.setenv("LECTUREKIT_STANDIN", "1")
    for name, dim in (("resnet18-imagenet", 512), ("dinov2-vits14", 384)):
        model = encoders.load(name)
        assert model.size == 28
        assert encoders.embed(model, torch.rand(3, 1, 28, 28)).shape == (3, dim)
    monkeypatch.setenv("TORCH_HOME", str(torch_home.parent / "empty"))
    with pytest.raises(FileNotFoundError, match="no stand-in"):
        encoders.load("dinov2-vits14")


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
        threading.Thread(target=lambda: results.append(training.cached_result("shared", ("shared", 1), compute)))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(calls) == 1
    assert len(results) == 2 and all(torch.equal(r["w"], torch.ones(3)) for r in results)


def test_batches_are_full_except_the_last_and_follow_the_generator():
    for n, size, sizes in [(10, 3, [3, 3, 4]), (3, 2, [3]), (8, 4, [4, 4]), (9, 4, [4, 5]), (2, 4, [2])]:
        batches = training._batches(n, size, torch.Generator().manual_seed(0))
        assert [len(b) for b in batches] == sizes  # a lone last image joins the batch before it
    first = training._batches(50, 8, torch.Generator().manual_seed(3))
    again = training._batches(50, 8, torch.Generator().manual_seed(3))
    other = training._batches(50, 8, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(torch.cat(first), torch.cat(other))


def _notebook(code: str, **names) -> dict:
    """A namespace as a notebook kernel has: code defined in cells, not in an installed module."""
    ns = {"__name__": "__main__", "torch": torch, **names}
    exec(compile(code, "<cell>", "exec"), ns)
    return ns


TRAINER = """
def fit():
    return (data.sum() * scale, split.x.mean())
"""


def test_cache_key_follows_the_data_notebook_code_reads():
    """A notebook's training function reads globals: their content is part of the key, not just their type."""

    def key(values=None, scale=2, split=None):
        values = values if values is not None else torch.arange(6.0)
        split = split if split is not None else data.ImageSet(torch.ones(3, 1, 2, 2), torch.tensor([0, 1, 2]), "d")
        ns = _notebook(TRAINER, data=values, scale=scale, split=split)
        return training.cache_key(("config",), ns["fit"])

    base = key()
    assert key() == base  # the same content, built again: the same key
    assert key(values=torch.arange(7.0)) != base  # a longer tensor
    assert key(values=torch.arange(6.0) + 1) != base  # same shape, other values
    assert key(values=torch.arange(6.0).double()) != base  # other dtype
    assert key(scale=3) != base and key(scale=2.0) != base  # a setting, and its type
    other = data.ImageSet(torch.ones(3, 1, 2, 2), torch.tensor([0, 1, 1]), "d")
    assert key(split=other) != base  # a library object's content (its labels)


def test_cache_key_ignores_globals_the_code_does_not_read():
    split = data.ImageSet(torch.ones(1, 1, 2, 2), torch.tensor([0]), "d")
    ns = _notebook(TRAINER, data=torch.arange(6.0), scale=2, split=split)
    before = training.cache_key(("config",), ns["fit"])
    ns["unrelated"] = torch.randn(5)
    assert training.cache_key(("config",), ns["fit"]) == before


def test_cache_key_follows_a_model_the_notebook_code_uses():
    code = "def embed_all():\n    return encoder(x)\n"
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    with torch.no_grad():
        b.weight.copy_(a.weight)
        b.bias.copy_(a.bias)
    keys = [training.cache_key(("c",), _notebook(code, encoder=m, x=torch.ones(1, 2))["embed_all"]) for m in (a, b)]
    assert keys[0] == keys[1]  # same weights
    with torch.no_grad():
        b.bias.add_(1.0)
    assert training.cache_key(("c",), _notebook(code, encoder=b, x=torch.ones(1, 2))["embed_all"]) != keys[0]
