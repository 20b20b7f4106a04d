"""benchmarks/frame_rate.py: resampling a sequence in time and the strides it tries."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def frame_rate(benchmark_script):
    return benchmark_script("frame_rate")


def test_resample_is_linear_interpolation_in_time(frame_rate):
    x = np.arange(5, dtype=np.float64)[:, None, None] * np.array([1.0, -2.0])  # (5, 1, 2)
    up = frame_rate.resample(x, 2.0)
    assert up.shape == (9, 1, 2)  # 0, 0.5, ..., 4
    np.testing.assert_allclose(up[:, 0, 0], np.arange(9) / 2)
    np.testing.assert_allclose(up[:, 0, 1], -np.arange(9))
    down = frame_rate.resample(x, 0.5)
    np.testing.assert_allclose(down[:, 0, 0], [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(frame_rate.resample(x, 1.0), x)


def test_resample_keeps_a_uniform_motion_uniform(frame_rate):
    rng = np.random.default_rng(0)
    start, velocity = rng.normal(size=(17, 3)), rng.normal(size=(17, 3))
    x = start + np.arange(20)[:, None, None] * velocity
    up = frame_rate.resample(x, 2.4)
    np.testing.assert_allclose(np.diff(up, axis=0), np.broadcast_to(velocity / 2.4, up[1:].shape))


def test_resample_rejects_a_non_positive_factor(frame_rate):
    with pytest.raises(ValueError, match="factor"):
        frame_rate.resample(np.zeros((3, 2)), 0.0)


def test_strides_tried(frame_rate):
    assert frame_rate.strides_for(30) == [1]
    assert frame_rate.strides_for(50) == [1]
    assert frame_rate.strides_for(60) == [1]
    assert frame_rate.strides_for(100) == [1, 2]
    assert frame_rate.strides_for(240) == [1, 5]
    assert frame_rate.strides_for(125) == [1, 3]  # half up, as ssrstf infer (round gives 2)
