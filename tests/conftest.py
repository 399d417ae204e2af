import os
from collections.abc import Iterator

import pytest
import torch

# Tests run in the smoke profile unless told otherwise; keep thread use predictable on 2 cores.
os.environ.setdefault("VIDKIT_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run a test module on one torch thread, restored afterwards. Modules of many tiny torch ops use it:
    on a busy 2-core machine, intra-op threads of tiny ops mostly spin-wait for each other (measured
    10-100x slower overfit tests while another job ran). Results are identical either way."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
