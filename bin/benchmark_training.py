"""Training speed of the default network: segments per second, fp32 vs bf16, side by side.

    python bin/benchmark_training.py [--steps 20] [--classes 16] [--device cpu]

Runs the library's own ``train_one_epoch`` on random 2 s waveforms (log-mel front-end
included) with the default config, once per precision, in one process, and prints each
figure and the ratio to fp32. The first steps of each mode are a warm-up and not timed.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from deep_audio.config import load_config
from deep_audio.device import autocast_dtype, resolve_device
from deep_audio.models import AudioClassifier
from deep_audio.training import train_one_epoch


def segments_per_second(precision: str, *, device: torch.device, steps: int, warmup: int,
                        n_classes: int, channels_last: bool) -> float:
    torch.manual_seed(0)
    config = load_config(device=str(device))
    model = AudioClassifier(config, [f"c{i}" for i in range(n_classes)]).to(device)
    if channels_last:
        model.cnn.to(memory_format=torch.channels_last)
    batch = config.training.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.training.learning_rate)
    amp_dtype = autocast_dtype(precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    def loader(n_steps: int) -> DataLoader:
        waveforms = torch.randn(n_steps * batch, model.segment_samples) * 0.1
        labels = torch.randint(0, n_classes, (n_steps * batch,))
        return DataLoader(TensorDataset(waveforms, labels), batch_size=batch)

    options = dict(device=device, amp_dtype=amp_dtype, scaler=scaler, progress=False)
    loss_fn = torch.nn.CrossEntropyLoss()
    train_one_epoch(model, loader(warmup), optimizer, loss_fn, **options)
    timed = loader(steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    train_one_epoch(model, timed, optimizer, loss_fn, **options)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed batches per mode")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches per mode")
    parser.add_argument("--classes", type=int, default=16)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    modes = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]
    if device.type == "cuda":
        modes.append(("fp16", True))
    if autocast_dtype("auto", device) is None:
        modes = [m for m in modes if m[0] == "fp32"]
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"batch 16, 2.0 s segments (201 x 128 log-mel), {args.steps} timed steps")
    baseline = None
    for precision, channels_last in modes:
        speed = segments_per_second(precision, device=device, steps=args.steps,
                                    warmup=args.warmup, n_classes=args.classes,
                                    channels_last=channels_last)
        baseline = baseline or speed
        layout = "channels_last" if channels_last else "contiguous"
        print(f"{precision:5s} {layout:14s} {speed:8.1f} segments/s  {speed / baseline:5.2f}x fp32")


if __name__ == "__main__":
    main()
