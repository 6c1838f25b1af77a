"""Distributed data-parallel training with PyTorch's own tools (torchrun + DDP).

Launched by ``torchrun``, every process trains a replica of the model on its share of
the training segments (a ``DistributedSampler``); ``DistributedDataParallel`` averages
the gradients. Validation is split across the processes and its sums (loss, confusion
matrix) are added up, so every process takes the same decisions (learning-rate drops,
best epoch, early stop) from the same figures. Only rank 0 writes files and logs.

Without torchrun (``WORLD_SIZE`` unset or 1) nothing here does anything.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from deep_audio.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a (possibly one-process) run.

    ``rank`` counts processes over every machine, ``local_rank`` on this machine.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and logs."""
        return self.rank == 0


def from_environment() -> Distributed:
    """The process's place as torchrun describes it in ``RANK``, ``WORLD_SIZE``, ...."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    return Distributed(rank=int(os.environ["RANK"]), world_size=world_size,
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                       local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", world_size)))


def init_process_group(context: Distributed, device: torch.device) -> torch.device:
    """Join the process group (nccl on CUDA, gloo on CPU); returns this process's device.

    On CUDA each process takes the GPU of its local rank.
    """
    if not context.enabled or dist.is_initialized():
        return _device_for(context, device)
    device = _device_for(context, device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=context.rank,
                            world_size=context.world_size)
    logger.info("distributed: %d processes, backend %s", context.world_size, backend)
    return device


def _device_for(context: Distributed, device: torch.device) -> torch.device:
    if device.type != "cuda" or not context.enabled:
        return device
    if context.local_rank >= torch.cuda.device_count():
        raise ConfigError(f"local rank {context.local_rank} has no GPU: only "
                          f"{torch.cuda.device_count()} visible; start fewer processes "
                          "per node")
    return torch.device("cuda", context.local_rank)


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over every process, in place; a no-op in a one-process run."""
    if dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_rows(rows: torch.Tensor) -> torch.Tensor:
    """Every process's ``rows`` (CPU tensors ``(n_i, ...)``) stacked in rank order; the
    rows themselves in a one-process run."""
    if not dist.is_initialized():
        return rows
    gathered: list[torch.Tensor | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, rows)
    return torch.cat(gathered)


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every process.

    Each replica updates its running statistics from its own batches; validation and the
    saved model must all use rank 0's.
    """
    if dist.is_initialized():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def cpu_threads_per_process(context: Distributed) -> int:
    """The machine's cores divided among this machine's processes (at least 1).

    torchrun sets ``OMP_NUM_THREADS=1`` for several processes per node, which leaves
    most of a CPU idle; this is the share each process can use instead.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // context.local_world_size)
