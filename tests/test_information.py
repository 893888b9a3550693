import math

import numpy as np
import pytest
import torch

from lecturekit import information


def test_label_bits_are_log2_of_the_class_count():
    assert information.label_bits(10) == pytest.approx(3.321928, abs=1e-6)
    assert information.label_bits(1000) == pytest.approx(math.log2(1000))
    assert information.label_bits(1) == 0.0


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_label_bits_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="positive integer"):
        information.label_bits(bad)


@pytest.mark.parametrize("codec", information.CODECS)
def test_compression_round_trips(codec):
    data = bytes(np.random.default_rng(0).integers(0, 4, 3000, dtype=np.uint8))
    assert information.decompress(information.compress(data, codec), codec) == data


def test_unknown_codec_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown codec 'gzip'"):
        information.compress(b"x", "gzip")


def test_random_bytes_do_not_compress_and_constant_ones_do():
    noise = np.random.default_rng(0).integers(0, 256, (3, 4096), dtype=np.uint8)
    assert (information.bits_each(noise, "lzma") >= 8 * 4096).all()
    assert (information.bits_each(np.zeros((3, 4096), np.uint8), "lzma") < 8 * 100).all()


def test_repeated_frames_cost_less_together_than_alone():
    frame = np.random.default_rng(1).integers(0, 256, (1, 28, 28), dtype=np.uint8)
    frames = np.repeat(frame, 20, axis=0)
    alone = information.bits_each(frames, "lzma").mean()
    assert information.bits_together(frames, "lzma") < alone / 5


def test_to_uint8_rounds_and_checks_the_range():
    assert information.to_uint8(torch.tensor([0.0, 1.0 / 255, 1.0])).tolist() == [0, 1, 255]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        information.to_uint8(np.array([0.0, 1.5]))


def test_raw_bits_and_sample_checks():
    assert information.raw_bits(64, 17) == pytest.approx(64 * math.log2(17))
    with pytest.raises(ValueError, match="uint8"):
        information.bits_each(np.zeros((2, 3), dtype=float))
    with pytest.raises(ValueError, match="uint8"):
        information.bits_together(np.zeros(5, dtype=np.uint8))
