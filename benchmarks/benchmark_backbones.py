"""Forward-pass speed and memory of each backbone on this machine, so a user can choose.

    python benchmarks/benchmark_backbones.py [--backbones seed_cnn panns_cnn14_16k ...]
        [--segment-seconds 1.0] [--batch-size 16] [--batches 4] [--threads 0]
        [--precision fp32 bf16]

Each backbone runs in a fresh process (so peak RSS is its own): the model is built, a
batch of ``--batch-size`` random waveform segments at the backbone's own rate goes
through ``model.embed`` (front end included, eval mode, ``torch.inference_mode``) once to
warm up, then ``--batches`` times while timed. Printed per backbone and precision:
segments per second of wall-clock time, segments per CPU-second of the process (steadier
than wall-clock time when other jobs share the cores; with ``--threads 1`` it is the
speed of one core) and the process's peak resident memory (``ru_maxrss``: weights,
activations, libraries).

The pretrained weights do not change the cost, so the networks are built with random
weights at the published sizes (nothing is downloaded):

===============  =========================================================================
seed_cnn         the shipped ``models/pretrained_gm16.pt`` (deep_audio's own CNN)
panns_cnn14_16k  PANNs CNN14, 16 kHz (80.8 M parameters without its AudioSet layer)
panns_cnn14      PANNs CNN14, 32 kHz
ast              Audio Spectrogram Transformer at the size of
                 ``MIT/ast-finetuned-audioset-10-10-0.4593`` (86 M; every segment is padded
                 to its 1024 frames = 10.24 s input)
wav2vec2         wav2vec2-base / HuBERT-base size (94 M)
===============  =========================================================================

The CPU's vector extensions (AVX-512, AMX) decide most of the figures; they are printed
first, with the load average (other processes share the cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKBONES = ("seed_cnn", "panns_cnn14_16k", "panns_cnn14", "ast", "wav2vec2")


def build(name: str, segment_seconds: float):
    """A model with ``embed`` and its default layer, at the backbone's size."""
    from deep_audio.config import load_config
    from deep_audio.models import Classifier

    config = load_config(segment_seconds=segment_seconds, device="cpu")
    if name == "seed_cnn":
        from deep_audio.io.model_files import load_model

        return load_model(ROOT / "models" / "pretrained_gm16.pt"), "linear1"
    if name.startswith("panns"):
        from deep_audio.models.panns import Cnn14Backbone

        backbone = Cnn14Backbone(name)
    else:
        import transformers

        from deep_audio.models.hf import HFBackbone

        if name == "ast":
            model = transformers.ASTModel(transformers.ASTConfig())  # the AudioSet model's size
            extractor = transformers.ASTFeatureExtractor()
        else:
            model = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config())
            extractor = transformers.Wav2Vec2FeatureExtractor()
        backbone = HFBackbone(model, extractor, f"random {name}-base")
    model = Classifier(dataclasses.replace(config, front_end=backbone.front_end_config()), [],
                       backbone)
    return model.eval(), backbone.default_layer


def worker(name: str, segment_seconds: float, batch_size: int, batches: int,
           precision: str, threads: int) -> dict:
    import resource
    import time

    import torch

    from deep_audio.device import autocast

    if threads:
        torch.set_num_threads(threads)
    model, layer = build(name, segment_seconds)
    parameters = sum(p.numel() for p in model.parameters())
    samples = model.plan.segment_samples
    batch = torch.randn(batch_size, samples, generator=torch.Generator().manual_seed(0)) * 0.1
    dtype = {"fp32": None, "bf16": torch.bfloat16}[precision]
    device = torch.device("cpu")
    with torch.inference_mode():
        with autocast(device, dtype):
            model.embed(batch, layer)  # warm-up: kernels chosen, buffers allocated
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(batches):
            with autocast(device, dtype):
                size = model.embed(batch, layer).shape[1]
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    return {"backbone": name, "precision": precision, "parameters": parameters,
            "sample_rate": model.plan.sample_rate, "segment_samples": samples,
            "embedding": size, "segments_per_second": batch_size * batches / seconds,
            "segments_per_cpu_second": batch_size * batches / cpu_seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": torch.get_num_threads()}


def cpu_description() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", text)
    flags = sorted(set(re.findall(r"\b(avx512[a-z_0-9]*|amx[a-z_0-9]*)\b", text)))
    return (f"{model.group(1) if model else platform.processor()}, {os.cpu_count()} cores; "
            f"flags: {' '.join(flags) or 'no AVX-512/AMX'}; "
            f"load average {os.getloadavg()[0]:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    parser.add_argument("--segment-seconds", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="0: PyTorch's default")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=("fp32", "bf16"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, precision = args.worker.split(":")
        print(json.dumps(worker(name, args.segment_seconds, args.batch_size, args.batches,
                                precision, args.threads)))
        return 0
    print(cpu_description())
    print(f"{'backbone':16} {'precision':9} {'params':>8} {'rate':>6} {'input':>8} "
          f"{'segments/s':>10} {'per CPU-s':>9} {'peak RSS':>9}")
    for name in args.backbones:
        for precision in args.precision:
            command = [sys.executable, __file__, "--worker", f"{name}:{precision}",
                       "--segment-seconds", str(args.segment_seconds), "--batch-size",
                       str(args.batch_size), "--batches", str(args.batches), "--threads",
                       str(args.threads)]
            with tempfile.TemporaryDirectory() as home:  # nothing read from a user cache
                done = subprocess.run(command, capture_output=True, text=True,
                                      env={**os.environ, "HF_HUB_OFFLINE": "1",
                                           "HF_HOME": home})
            if done.returncode != 0:
                print(f"{name:16} {precision:9} failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            seconds = row["segment_samples"] / row["sample_rate"]
            print(f"{name:16} {precision:9} {row['parameters'] / 1e6:7.1f}M "
                  f"{row['sample_rate'] // 1000:>4}k {seconds:7.2f}s "
                  f"{row['segments_per_second']:10.1f} {row['segments_per_cpu_second']:9.1f} "
                  f"{row['peak_rss_mb']:7.0f}MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
