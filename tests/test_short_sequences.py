"""benchmarks/short_sequences.py: the three ways of making a short sequence one model clip."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def short(benchmark_script):
    return benchmark_script("short_sequences")


@pytest.mark.parametrize("method", ["pad-end", "centred", "resample"])
@pytest.mark.parametrize("num_frames", [1, 2, 5, 8, 9])
def test_a_clip_of_frame_values_gives_the_frames_back(short, method: str, num_frames: int) -> None:
    """A 'model' that returns its input per frame must give each frame its own value back."""
    frames = np.arange(num_frames, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    indices = short.clip_indices(method, num_frames, 9)
    assert indices.shape == (9,) and set(indices.tolist()) == set(range(num_frames))
    np.testing.assert_allclose(short.per_frame_outputs(method, frames[indices], num_frames), frames)


def test_the_methods_differ_where_they_should(short) -> None:
    assert short.clip_indices("pad-end", 3, 7).tolist() == [0, 1, 2, 2, 2, 2, 2]
    assert short.clip_indices("centred", 3, 7).tolist() == [0, 0, 0, 1, 2, 2, 2]
    assert short.clip_indices("resample", 3, 7).tolist() == [0, 0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="unknown method"):
        short.clip_indices("mirror", 3, 7)
