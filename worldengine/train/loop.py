"""One training loop for every model: plain or under torchrun (DDP), with checkpoints.

A task supplies the model, the batches and the loss; the loop does the rest: the
process group (gloo on CPU, nccl on GPU, from torchrun's environment), AdamW with a
warm-up, gradient clipping, a progress bar, a JSONL log, a loss-curve PNG, and
checkpoints every `checkpoint_every` steps that a stopped run resumes from exactly
(weights, optimizer, step, and the data stream's position by replay of its seed).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from worldengine.model.checkpoint import load_state_dict_strict, load_tensors, read_meta
from worldengine.train.checkpoint import load_state, save_model, save_state
from worldengine.train.plot import plot_loss_curve


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 2
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0


class Task(Protocol):
    kind: str

    def build_model(self) -> torch.nn.Module: ...
    def batches(self, seed: int, rank: int, world_size: int) -> Iterator[dict]: ...
    def loss(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict]: ...
    def meta(self) -> dict: ...
    def finish(self, model: torch.nn.Module, out: Path) -> dict: ...


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Distributed:
    """Join torchrun's process group if launched by it; otherwise a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() else torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return Distributed(rank, world_size, device)


def _lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10%."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _skip(stream: Iterator[dict], count: int) -> None:
    for _ in range(count):
        next(stream)


def train(task: Task, out: Path, config: TrainConfig, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train `task` into `out`, resuming from a checkpoint there if one exists.

    stop_after: end (with a checkpoint) after this many steps of this call, as a stopped
    run would; the next call resumes. Returns the summary of the run.
    """
    env = init_distributed()
    out = Path(out)
    torch.manual_seed(config.seed)
    model = task.build_model().to(env.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = 0
    if (out / "state.json").exists():  # resume
        load_state_dict_strict(model, load_tensors(out / "model.safetensors"), out)
        step = int(load_state(out, optimizer)["step"])
        if read_meta(out).get("step") != step:  # a stop between the two writes of a checkpoint
            raise ValueError(f"checkpoint {out} is inconsistent: weights of step {read_meta(out).get('step')}, "
                             f"optimizer state of step {step}")
    wrapped = DistributedDataParallel(model) if env.world_size > 1 else model
    stream = task.batches(config.seed, env.rank, env.world_size)
    _skip(stream, step)  # the data stream is a pure function of the seed: replay to where we were
    log_path = out / "log.jsonl"
    if env.main:
        out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=config.steps, initial=step, disable=not (progress and env.main), desc=task.kind)
    last = step + stop_after if stop_after is not None else config.steps
    start = time.perf_counter()
    while step < min(last, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = config.lr * _lr_factor(step, config)
        loss, parts = task.loss(wrapped, next(stream))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        bar.update(1)
        if env.main and (step % config.log_every == 0 or step == config.steps):
            record = {"step": step, "loss": float(loss.detach()), "lr": optimizer.param_groups[0]["lr"],
                      "grad_norm": float(norm), "seconds": round(time.perf_counter() - start, 2),
                      **{k: float(v) for k, v in parts.items()}}
            with log_path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            bar.set_postfix(loss=f"{record['loss']:.4f}")
        if env.main and step < config.steps and (step % config.checkpoint_every == 0 or step == last):
            _checkpoint(task, model, optimizer, out, step, config)  # the final one is written below
    bar.close()
    summary = {"step": step, "finished": step >= config.steps, "world_size": env.world_size, "rank": env.rank}
    if env.main and step >= config.steps:
        summary.update(task.finish(model, out))
        _checkpoint(task, model, optimizer, out, step, config)
        plot_loss_curve(log_path, out / "loss.png")
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if env.world_size > 1:
        dist.barrier()
    return summary


def _checkpoint(task: Task, model, optimizer, out: Path, step: int, config: TrainConfig) -> None:
    save_model(out, model, {**task.meta(), "train_config": asdict(config), "step": step})
    save_state(out, optimizer, {"step": step})
