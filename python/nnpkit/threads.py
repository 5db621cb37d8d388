"""Thread count of the core's loops and of torch's intra-op pool (one pool).

By default it follows the usual environment variables (OMP_NUM_THREADS,
MKL_NUM_THREADS) as torch reads them at start-up.
"""

from __future__ import annotations

import torch


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for descriptor kernels, neighbour search and the networks."""
    if int(n) < 1:
        raise ValueError(f"number of threads must be at least 1, got {n}")
    torch.set_num_threads(int(n))


def get_num_threads() -> int:
    """Number of threads the core and torch use now."""
    return torch.get_num_threads()
