import dataclasses
import functools
import json
from pathlib import Path

import pytest
import torch

from lecturekit import cache, data, encoders, training

# The tests that import timm (about 3 CPU-seconds) share one pytest-xdist worker (`--dist loadgroup`),
# so only one worker pays for the import.
TIMM = pytest.mark.xdist_group("timm")

TINY_SSL = training.TrainConfig(method="simclr", epochs=1, batch_size=512, seed=0)


TINY_SUP = training.TrainConfig(method="supervised", epochs=1, batch_size=512, seed=0)
TINY_SUP_AUG = training.TrainConfig(method="supervised", epochs=1, batch_size=512, augment=True, seed=0)


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
    monkeypatch.setattr(encoders, "SUPERVISED_AUG", TINY_SUP_AUG)


def test_names_per_profile():
    lite = ["pixels", "random-cnn", "digits-supervised", "digits-ssl"]
    assert encoders.names() == lite
    assert encoders.names("full") == lite + ["resnet18-imagenet", "dinov2-vits14"]
    assert set(encoders.describe("lite")) == set(lite)
    # The control is listed only on request, after the others; load() serves it either way.
    assert encoders.names("lite", controls=True) == lite + ["digits-supervised-aug"]
    assert encoders.names("full", controls=True)[-1] == "digits-supervised-aug"
    assert list(encoders.describe("lite", controls=True)) == lite + ["digits-supervised-aug"]
    assert encoders.seeds("digits-supervised-aug") == encoders.SEEDS


def test_augmented_control_differs_from_supervised_only_by_the_augmentations():
    """Same recipe as digits-supervised, plus digits-ssl's views (same rotation range)."""
    control = encoders.SUPERVISED_AUG
    assert control.augment and not encoders.SUPERVISED.augment
    assert control.max_angle == encoders.SSL.max_angle
    assert dataclasses.replace(control, augment=False, max_angle=encoders.SUPERVISED.max_angle) == encoders.SUPERVISED


def test_augmented_control_is_trained_per_seed_cached_and_not_the_plain_supervised(tiny_training, monkeypatch):
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    z_aug = encoders.embed(encoders.load("digits-supervised-aug"), x)
    z_sup = encoders.embed(encoders.load("digits-supervised"), x)
    assert not torch.equal(z_aug, z_sup)  # the augmented views changed what it learned
    assert not torch.equal(z_aug, encoders.embed(encoders.load("digits-supervised-aug", seed=1), x))
    for seed in (0, 1):
        config = dataclasses.replace(TINY_SUP_AUG, seed=seed)
        fitter = training._fitter(encoders.SmallCNN(), config, "digits-supervised-aug")
        assert cache.file("digits-supervised-aug", config, fitter).exists()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although cached weights exist")

    monkeypatch.setattr(training, "train", no_training)
    assert torch.equal(z_aug, encoders.embed(encoders.load("digits-supervised-aug"), x))


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
    path = cache.file("digits-ssl", TINY_SSL, training._fitter(encoders.SmallCNN(), TINY_SSL, "digits-ssl"))
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


def test_seeds_give_separately_cached_trained_encoders(tiny_training):
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    z0 = encoders.embed(encoders.load("digits-ssl", seed=0), x)
    z1 = encoders.embed(encoders.load("digits-ssl", seed=1), x)
    assert not torch.equal(z0, z1)
    assert torch.equal(z0, encoders.embed(encoders.load("digits-ssl"), x))  # seed 0 is the default
    for seed in (0, 1):
        config = dataclasses.replace(TINY_SSL, seed=seed)
        assert cache.file("digits-ssl", config, training._fitter(encoders.SmallCNN(), config, "digits-ssl")).exists()


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
    """Random tensors under the key names and shapes of Meta's dinov2_vits14_pretrain.pth (a new dict;
    the tensors are made once per seed and shared: replace an entry, never change a tensor in place)."""
    return dict(_official_tensors(seed))


@functools.cache
def _official_tensors(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) * 0.02 for k, shape in KEYS.items()}


@TIMM
def test_official_dinov2_keys_load_into_timm_exactly():
    """Every tensor of Meta's checkpoint but the training-only mask token becomes a timm parameter."""
    state = _official_layout()
    assert len(state) == 175 and state["pos_embed"].shape == (1, 1 + 37 * 37, 384)
    model = encoders.dinov2_vits14(state, size=518)  # strict load: no key missing, none left over
    ours = model.state_dict()
    assert set(ours) == set(KEYS) - {"mask_token"}
    for key, value in ours.items():
        assert torch.equal(value, state[key]), key
    # Its forward at 518 pixels, shapes only (on the meta device: timm checks the input size, every layer
    # its shapes; 1.4 CPU-s less). The test below computes a real forward, at 224 pixels.
    assert model.to("meta")(torch.zeros(1, 3, 518, 518, device="meta")).shape == (1, 384)


@TIMM
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


@TIMM
def test_dinov2_rejects_other_checkpoints_and_sizes():
    with pytest.raises(ValueError, match="multiple of 14"):
        encoders.dinov2_state_for_timm(_official_layout(), 100)
    wrong = _official_layout()
    wrong["blocks.0.attn.qkv.weight"] = torch.zeros(10, 384)
    with pytest.raises(ValueError, match="not a DINOv2 ViT-S/14 checkpoint"):
        encoders.dinov2_vits14(wrong)
    with pytest.raises(ValueError, match="pos_embed"):
        encoders.dinov2_state_for_timm({"cls_token": torch.zeros(1, 1, 384)})


@TIMM
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


@TIMM
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


def test_built_holding_gives_the_model_the_states_tensors_and_refuses_gaps():
    """Pretrained encoders are built on the meta device and handed their weights (no initialisation
    computed only to be overwritten): the same function as a model built and loaded as usual."""
    from torchvision.models import resnet18

    with torch.random.fork_rng():
        torch.manual_seed(0)
        usual = resnet18().eval()
    state = usual.state_dict()
    held = encoders.built_holding(resnet18, state).eval()
    assert held.conv1.weight.data_ptr() == state["conv1.weight"].data_ptr()  # given, not copied
    assert all(p.requires_grad for p in held.parameters()) and not any(t.is_meta for t in held.state_dict().values())
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(held(x), usual(x))
    with pytest.raises(RuntimeError, match="Missing key"):
        encoders.built_holding(resnet18, {k: v for k, v in state.items() if k != "fc.bias"})

    class WithScratch(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    with pytest.raises(RuntimeError, match="no value for scratch"):
        encoders.built_holding(WithScratch, WithScratch().state_dict())
