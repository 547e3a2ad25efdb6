"""A long-lived thread of its own for torch work, with a fixed number of intra-op threads.

torch's CPU kernels run on OpenMP, and OpenMP thread pools belong to the thread that starts them. Once a second
thread of a process has run parallel torch code, libgomp counts more pool threads than cores and stops
spinning between operations, and every CPU op gets slower: the bundled model's 2-second clip took 1.2 s instead
of 0.6 s when its pipeline was loaded on one thread and called on another (2 cores, measured). So a process does
its torch work on a few fixed threads: the pipeline cache's render thread (every core) and the safety
classifier's loader (one core; scoring a prompt runs onnxruntime, not torch), never on whichever web-server
thread happens to handle a request.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")


class TorchThread:
    """Runs callables one at a time on one thread that uses `intra_op_threads` cores (default: torch's)."""

    def __init__(self, name: str, intra_op_threads: int | None = None):
        self.intra_op_threads = intra_op_threads or torch.get_num_threads()
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=torch.set_num_threads,
            initargs=(self.intra_op_threads,),
        )

    def run(self, work: Callable[..., T], *args, **kwargs) -> T:
        """Run `work` there and return its result (or raise its exception). Must not be nested: the thread
        is busy with the caller."""
        return self._executor.submit(work, *args, **kwargs).result()
