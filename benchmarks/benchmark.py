"""Speed and memory of deep_audio on real audio, each figure beside its reference.

    python benchmarks/benchmark.py [-i DIR ...] [--parts prepare train infer memory] [--device auto]

Parts (all by default; each prints its figures and ratios measured in this run):

prepare  Preparing a folder: decode + resample + log-mel of every file, audio seconds per
         second. deep_audio (soundfile + soxr, a thread pool, the audio cache, torch
         log-mel) against the reference path of deep_audio_features (librosa.load at the
         file's rate, librosa mel spectrogram 50 ms / 50 ms, power_to_db, one file at a
         time). Each side runs in a fresh process, as a user's command does; the first
         pass includes each library's warm-up, the second pass in the same process is
         warm; "second run" is a new process finding the cache full.
train    Training segments/s of the seed network (configs/seed.yaml: batch 16, 2 s segments)
         and of the default one (1 s segments, narrower, pooled head), front-end
         included: fp32, fp32 + channels_last, bf16 autocast + channels_last (what
         precision=auto picks), fp16 on CUDA; and the input pipeline's own rate (cached
         segments to batches), which must exceed the model's.
infer    Classifying the folder with the seed network: classify_files (segments of
         many files per forward pass, files decoded ahead in threads, precision auto)
         against one file at a time in fp32: as deep_audio_features' test_model(modelpath,
         ifile) does it (the model loaded for each file, a DataLoader with 4 workers and
         batch size 1; our model and reader, timed on a quarter of the files), and with
         the model loaded once (the seed's file_classification loop).
memory   Peak RSS of a process that prepares the data and trains one epoch (a small
         network, so the data path dominates), for the folder and for ten times as many
         files, with the cache and without it (decoded audio held in memory).

The default input is the bundled demo training data (88 FLAC files of 8 kHz speech).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_PRESET = ROOT / "configs" / "seed.yaml"
DEFAULT_INPUT = sorted(str(p) for p in (ROOT / "data" / "demo" / "train").iterdir()
                       if p.is_dir())


# --- workers: each runs in a fresh process and prints one JSON line -------------------

def worker_reference(files: list[str]) -> dict:
    started = time.perf_counter()
    import librosa
    import numpy as np

    imported = time.perf_counter()

    def prepare(path: str) -> np.ndarray:
        samples, rate = librosa.load(path, sr=None, mono=True)
        window = int(0.050 * rate)
        power = librosa.feature.melspectrogram(y=samples, sr=rate, n_fft=window,
                                               hop_length=window, n_mels=128, power=2.0)
        return librosa.power_to_db(power, ref=np.max)

    passes = []
    for _ in range(2):
        begin = time.perf_counter()
        for path in files:
            prepare(path)
        passes.append(time.perf_counter() - begin)
    return {"import_s": imported - started, "passes_s": passes}


def worker_ours(files: list[str], cache_dir: str) -> dict:
    started = time.perf_counter()
    import torch

    from deep_audio.config import load_config
    from deep_audio.data import AudioCache, LabelledFile, decode_files
    from deep_audio.features import LogMel

    imported = time.perf_counter()
    config = load_config()
    log_mel = LogMel.from_config(config.front_end)
    cache = AudioCache(cache_dir, config.front_end.sample_rate)
    items = [LabelledFile(Path(path), 0) for path in files]
    passes = []
    for _ in range(2):
        begin = time.perf_counter()
        decoded = decode_files(items, sample_rate=cache.sample_rate, min_seconds=0.0,
                               cache=cache)
        with torch.inference_mode():
            for samples in decoded.waveforms:
                log_mel(torch.from_numpy(samples[:])[None])
        passes.append(time.perf_counter() - begin)
    return {"import_s": imported - started, "passes_s": passes}


def worker_memory(folders: list[str], cache_dir: str) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from deep_audio.config import load_config
    from deep_audio.device import resolve_device
    from deep_audio.features import band_statistics
    from deep_audio.models import Classifier
    from deep_audio.tasks import SingleLabel
    from deep_audio.training.loop import Optimisation, TrainingStep, train_one_epoch
    from deep_audio.training.train import make_loaders, prepare_data

    config = load_config(conv_channels=[8, 16, 32, 64], hidden_units=[64], dropout=[0.5],
                         cache_dir=cache_dir, device="cpu")
    device = resolve_device("cpu")
    data = prepare_data(folders, config, SingleLabel())
    model = Classifier.seed(config, data.class_names)
    model.backbone.normalize.set_statistics(*band_statistics(
        model.backbone.front_end, DataLoader(data.train_set, batch_size=64), device))
    train_loader, _ = make_loaders(data, config.training, device)
    optimisation = Optimisation(torch.optim.AdamW(model.parameters()), None,
                                torch.nn.CrossEntropyLoss(),
                                torch.amp.GradScaler("cpu", enabled=False), None)
    train_one_epoch(TrainingStep(model), train_loader, optimisation, model.task,
                    device=device, progress=False)
    return {"segments": len(data.train_set) + len(data.validation_set),
            "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: the latter keeps the
    parent's peak across fork + exec, so it would report the benchmark's own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


WORKERS = {"reference": worker_reference, "ours": worker_ours, "memory": worker_memory}


def in_fresh_process(name: str, **kwargs) -> dict:
    command = [sys.executable, __file__, "--worker", name, json.dumps(kwargs)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"worker {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- parts -----------------------------------------------------------------------------

def audio_files(folders: list[str]) -> tuple[list[str], float]:
    from deep_audio.io.audio import list_audio_files

    files = [str(p) for folder in folders for p in list_audio_files(folder)]
    return files, audio_files_seconds(files)


def part_prepare(folders: list[str]) -> None:
    files, seconds = audio_files(folders)
    print(f"\n## preparing a folder: {len(files)} files, {seconds:.0f} s of audio "
          "(audio seconds per second; each side in a fresh process)")
    reference = in_fresh_process("reference", files=files)
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = in_fresh_process("ours", files=files, cache_dir=cache_dir)
        rerun = in_fresh_process("ours", files=files, cache_dir=cache_dir)
    rows = [
        ("reference, first pass (librosa warm-up included)", reference["passes_s"][0]),
        ("reference, second pass in the same process", reference["passes_s"][1]),
        ("deep_audio, first pass (empty cache)", cold["passes_s"][0]),
        ("deep_audio, second pass in the same process (cache)", cold["passes_s"][1]),
        ("deep_audio, second run: a new process, cache full", rerun["passes_s"][0]),
    ]
    first_reference, warm_reference = (seconds / s for s in reference["passes_s"])
    for label, elapsed in rows:
        speed = seconds / elapsed
        print(f"{label:55s} {speed:9.0f} x realtime  {speed / first_reference:7.1f}x ref first"
              f"  {speed / warm_reference:6.2f}x ref warm")
    print(f"imports: librosa {reference['import_s']:.1f} s, torch + deep_audio "
          f"{cold['import_s']:.1f} s (not in the figures above)")


def training_speed(precision: str, *, channels_last: bool, device, steps: int,
                   warmup: int, n_classes: int = 16, preset: Path | None = None) -> float:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from deep_audio.config import load_config
    from deep_audio.device import autocast_dtype
    from deep_audio.models import Classifier
    from deep_audio.training.loop import Optimisation, TrainingStep, train_one_epoch

    torch.manual_seed(0)
    config = load_config(preset, device=str(device))
    model = Classifier.seed(config, [f"c{i}" for i in range(n_classes)]).to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    batch = config.training.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.training.learning_rate)
    amp_dtype = autocast_dtype(precision, device)
    optimisation = Optimisation(optimizer, None, torch.nn.CrossEntropyLoss(),
                                torch.amp.GradScaler(device.type,
                                                     enabled=amp_dtype == torch.float16),
                                amp_dtype)

    def loader(n_steps: int) -> DataLoader:
        waveforms = torch.randn(n_steps * batch, model.segment_samples) * 0.1
        labels = torch.randint(0, n_classes, (n_steps * batch,))
        return DataLoader(TensorDataset(waveforms, labels), batch_size=batch)

    step = TrainingStep(model)
    train_one_epoch(step, loader(warmup), optimisation, model.task, device=device,
                    progress=False)
    timed = loader(steps)
    synchronize(device)
    started = time.perf_counter()
    train_one_epoch(step, timed, optimisation, model.task, device=device, progress=False)
    synchronize(device)
    return steps * batch / (time.perf_counter() - started)


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def input_pipeline_speed(folders: list[str], device) -> tuple[float, int]:
    """Segments/s of the training DataLoader alone, reading a full cache."""
    from deep_audio.config import load_config
    from deep_audio.tasks import SingleLabel
    from deep_audio.training.train import make_loaders, prepare_data

    with tempfile.TemporaryDirectory() as cache_dir:
        config = load_config(cache_dir=cache_dir, device=str(device))
        data = prepare_data(folders, config, SingleLabel())
        train_loader, _ = make_loaders(data, config.training, device)
        started = time.perf_counter()
        seen = sum(len(target) for _, target in train_loader)
        return seen / (time.perf_counter() - started), train_loader.num_workers


def part_train(folders: list[str], device, steps: int) -> None:
    import torch

    from deep_audio.device import autocast_dtype

    modes = [("fp32", False), ("fp32", True)]
    if autocast_dtype("auto", device) is not None:
        modes.append(("bf16", True))
    if device.type == "cuda":
        modes.append(("fp16", True))
    print(f"\n## training segments/s on {device} ({torch.get_num_threads()} threads), batch 16, "
          f"{steps} timed steps per mode: the seed network (configs/seed.yaml: 2.0 s, "
          "201 x 128 log-mel, 26.5 M parameters) and the default one (1.0 s, 101 x 64, "
          "widths 16-128, pooled head)")
    baseline = None
    for network, preset in (("seed", SEED_PRESET), ("default", None)):
        for precision, channels_last in modes:
            speed = training_speed(precision, channels_last=channels_last, device=device,
                                   steps=steps, warmup=3, preset=preset)
            baseline = baseline or speed
            layout = "channels_last" if channels_last else "contiguous"
            print(f"{network:8s} {precision:5s} {layout:14s} {speed:8.1f} segments/s  "
                  f"{speed / baseline:6.2f}x seed fp32")
    pipeline, workers = input_pipeline_speed(folders, device)
    print(f"input pipeline (cached segments -> batches, {workers} workers): "
          f"{pipeline:8.0f} segments/s")


def part_infer(folders: list[str], device) -> None:
    import torch

    from deep_audio.config import load_config
    from deep_audio.io.model_files import save_model
    from deep_audio.models import Classifier
    from deep_audio.predict import classify_file, classify_files

    files, seconds = audio_files(folders)
    torch.manual_seed(0)
    model = Classifier.seed(load_config(SEED_PRESET), [f"c{i}" for i in range(4)]
                            ).to(device).eval()
    print(f"\n## classifying {len(files)} files ({seconds:.0f} s of audio) with the seed "
          f"network on {device} (audio seconds per second)")
    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / "model.pt"
        save_model(model_path, model)
        classify_file(files[0], model)  # warm-up
        rows = []
        share = files[:max(8, len(files) // 4)]
        started = time.perf_counter()
        for path in share:
            reference_style_posteriors(path, model_path)
        rows.append(("reference's way: per file, load model + 4 workers + batch 1, fp32",
                     audio_files_seconds(share) / (time.perf_counter() - started)))
        started = time.perf_counter()
        for path in files:
            classify_file(path, model, precision="fp32")
        rows.append(("one file at a time, model loaded once, fp32",
                     seconds / (time.perf_counter() - started)))
        started = time.perf_counter()
        list(classify_files(files, model, precision="auto"))
        rows.append(("classify_files: batched across files, read ahead, precision auto",
                     seconds / (time.perf_counter() - started)))
    batched = rows[-1][1]
    for label, speed in rows:
        print(f"{label:68s} {speed:7.0f} x realtime   batched is {batched / speed:5.2f}x this")


def reference_style_posteriors(path: str, model_path: Path):
    """One file the way deep_audio_features' ``test_model(modelpath, ifile)`` runs it:
    load the model, a DataLoader with 4 workers and batch size 1, fp32."""
    import torch
    from torch.utils.data import DataLoader

    from deep_audio.config import seconds_to_samples
    from deep_audio.data import SegmentDataset
    from deep_audio.io.audio import read_audio
    from deep_audio.io.model_files import load_model

    model = load_model(model_path)
    rate = model.config.front_end.sample_rate
    samples, _ = read_audio(path, sample_rate=rate)
    segments = SegmentDataset([samples], [0], segment_samples=model.segment_samples,
                              hop_samples=seconds_to_samples(
                                  model.config.segments.segment_hop_seconds, rate))
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    with torch.inference_mode():
        return [torch.softmax(model(waveform), dim=1)
                for waveform, _ in DataLoader(segments, batch_size=1, num_workers=4)]


def audio_files_seconds(files: list[str]) -> float:
    import soundfile

    return sum(soundfile.info(path).duration for path in files)


def part_memory(folders: list[str], scale: int) -> None:
    print(f"\n## peak RSS: prepare + one training epoch (small network), 1x and {scale}x files")
    with tempfile.TemporaryDirectory() as root:
        scaled = replicate(folders, Path(root) / "scaled", scale)
        results = {}
        for label, data in (("1x", folders), (f"{scale}x", scaled)):
            for cache in (True, False):
                cache_dir = str(Path(root) / "cache") if cache else "none"
                results[label, cache] = in_fresh_process("memory", folders=data,
                                                         cache_dir=cache_dir)
        for cache in (True, False):
            small, large = results["1x", cache], results[f"{scale}x", cache]
            name = "with the cache" if cache else "without (in memory)"
            print(f"{name:22s} 1x: {small['peak_rss_mib']:6.0f} MiB ({small['segments']} "
                  f"segments)   {scale}x: {large['peak_rss_mib']:6.0f} MiB "
                  f"({large['segments']} segments)   ratio "
                  f"{large['peak_rss_mib'] / small['peak_rss_mib']:4.2f}")


def replicate(folders: list[str], root: Path, scale: int) -> list[str]:
    """Class folders holding ``scale`` links to every file (distinct files to the cache)."""
    from deep_audio.io.audio import list_audio_files

    result = []
    for folder in folders:
        target = root / Path(folder).name
        target.mkdir(parents=True, exist_ok=True)
        for path in list_audio_files(folder):
            for copy in range(scale):
                link = target / f"{path.parent.parent.name}_{copy}_{path.name}"
                link.symlink_to(path.resolve())
        result.append(str(target))
    return result


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(WORKERS[sys.argv[2]](**json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--input", nargs="+", default=DEFAULT_INPUT, metavar="DIR",
                        help="class folders of real audio (default: the demo data)")
    parser.add_argument("--parts", nargs="+", default=["prepare", "train", "infer", "memory"],
                        choices=["prepare", "train", "infer", "memory"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=15, help="timed training steps per mode")
    parser.add_argument("--scale", type=int, default=10, help="the larger dataset's factor")
    args = parser.parse_args()

    import torch

    from deep_audio.device import resolve_device

    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    folders = [str(Path(folder)) for folder in args.input]
    if "prepare" in args.parts:
        part_prepare(folders)
    if "train" in args.parts:
        part_train(folders, device, args.steps)
    if "infer" in args.parts:
        part_infer(folders, device)
    if "memory" in args.parts:
        part_memory(folders, args.scale)


if __name__ == "__main__":
    main()
