import os
import tempfile
from collections.abc import Iterator

import pytest
import torch

# Tests run in the smoke profile unless told otherwise; keep thread use predictable on 2 cores.
os.environ.setdefault("VIDKIT_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
# A run made without an explicit work dir lands in vidkit.runs_dir(): in tests, a scratch folder, never the
# repository's runs/ (a test of the default location unsets it with monkeypatch).
os.environ.setdefault("VIDKIT_RUNS", tempfile.mkdtemp(prefix="vidkit-test-runs-"))


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run a test module on one torch thread, restored afterwards. Modules of many tiny torch ops use it:
    on a busy 2-core machine, intra-op threads of tiny ops mostly spin-wait for each other (measured
    10-100x slower overfit tests while another job ran). Results are identical either way."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def moving_square_clips(n: int, frames: int = 6, size: int = 16):
    """``(n, frames, 1, size, size)`` clips of a square moving right (even rows) or left (odd rows, the same
    frames reversed) and the labels ``arange(n) % 2``: a label carried by motion alone."""
    import torch

    clips = torch.zeros(n, frames, 1, size, size)
    for t in range(frames):
        clips[:, t, 0, 6:10, 2 * t:2 * t + 4] = 1.0
    labels = torch.arange(n) % 2
    clips[labels == 1] = clips[labels == 1].flip(1)
    return clips, labels
