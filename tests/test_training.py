"""The training loops behind the registry's trained encoders (lecturekit.training)."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lecturekit import cache, data, encoders, losses, training, transforms


@pytest.fixture
def few_digits(monkeypatch):
    """The training split shrinks to 30 digits (40 before the split): a training run takes a moment."""
    few = data.digits().subset(torch.arange(40))
    monkeypatch.setattr(data, "digits", lambda size=28: few)
    return few


def test_unknown_training_method_is_an_error():
    with pytest.raises(ValueError, match=r"^unknown training method 'magic'; use 'supervised' or 'simclr'$"):
        training.train(encoders.SmallCNN(), training.TrainConfig("magic", epochs=1), "x")


def test_augment_is_for_supervised_only():
    config = training.TrainConfig("simclr", epochs=1, augment=True)
    with pytest.raises(ValueError, match=r"augment=True applies to method='supervised' only"):
        training.train(encoders.SmallCNN(), config, "x")


def test_augmented_supervised_training_sees_other_images_than_plain(few_digits):
    """The flag changes the run: same seed, same recipe, different weights."""
    plain = training.TrainConfig("supervised", epochs=1, batch_size=8, seed=0)
    augmented = training.TrainConfig("supervised", epochs=1, batch_size=8, augment=True, seed=0)
    a, b = training.train(_tiny_backbone(), plain, "a"), training.train(_tiny_backbone(), augmented, "b")
    assert not torch.equal(a[1].weight, b[1].weight)


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
                if config.augment:
                    x = transforms.augment(x, g, max_angle=config.max_angle)
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
        training.TrainConfig("supervised", epochs=2, batch_size=8, lr=0.01, augment=True, max_angle=30.0, seed=4),
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


def test_batches_cover_every_image_and_never_hold_one():
    g = torch.Generator().manual_seed(0)
    for n, size in [(1347, 64), (1347, 673), (10, 3), (5, 8)]:
        batches = training._batches(n, size, g)
        assert sorted(torch.cat(batches).tolist()) == list(range(n))
        assert min(len(b) for b in batches) >= 2


def test_batches_are_full_except_the_last_and_follow_the_generator():
    for n, size, sizes in [(10, 3, [3, 3, 4]), (3, 2, [3]), (8, 4, [4, 4]), (9, 4, [4, 5]), (2, 4, [2])]:
        batches = training._batches(n, size, torch.Generator().manual_seed(0))
        assert [len(b) for b in batches] == sizes  # a lone last image joins the batch before it
    first = training._batches(50, 8, torch.Generator().manual_seed(3))
    again = training._batches(50, 8, torch.Generator().manual_seed(3))
    other = training._batches(50, 8, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(torch.cat(first), torch.cat(other))


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


NOTEBOOK_CNN = """
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 4), nn.BatchNorm1d(4))

    def forward(self, x):
        return self.net(x)
"""


def test_cached_keeps_a_notebook_architecture_in_its_cache_file(few_digits):
    """For an architecture defined in a notebook cell (its source is in the key), ``cache.file``
    names the file ``cached`` wrote, and that file holds the trained weights."""
    namespace = {"__name__": "__main__", "nn": nn}  # as in a notebook kernel
    exec(compile(NOTEBOOK_CNN, "<cell-1>", "exec"), namespace)
    config = training.TrainConfig("supervised", epochs=1, batch_size=16)
    trained = training.cached(namespace["TinyNet"](), config, "tiny-net")
    path = cache.file("tiny-net", config, training._fitter(namespace["TinyNet"](), config, "tiny-net"))
    assert list(path.parent.glob("*.pt")) == [path]
    assert torch.equal(torch.load(path, weights_only=True)["net.1.weight"], trained.net[1].weight)
    assert not trained.training
