"""Which pooled embedding of a frozen network does a linear classifier separate best on a
few clips per class? (docs/transfer_benchmark.md, "How the head pooling was chosen")

For each task of ``tools/make_benchmark_data.py``, every segment of every file is embedded
once by the frozen source network in several ways, then for each seed the same clips per
class as ``benchmarks/benchmark_transfer.py`` draws (``sample_folders``: one generator per
seed, classes in sorted order) train a standardised logistic regression (fixed C), and a
test file takes the mean of its segments' probabilities. Embeddings:

====  ===================================================================================
l1    ``linear1``: the source head's hidden layer (on its time-mean input)
m4    ``conv_bands``: the last conv block, mean over time per channel and band
x4    ``conv_bands_max``: the same, maximum over time
s4    standard deviation over time (only beside m4)
m3    the third block, mean over time per channel and band
x3    the third block, maximum over time
m2    the second block, mean over time per channel and band (finer bands: pitch, formants)
x2    the second block, maximum over time
====  ===================================================================================

    python benchmarks/benchmark_embeddings.py --tasks drums speakers --clips 5 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deep_audio.io.audio import list_audio_files  # noqa: E402
from deep_audio.io.model_files import load_model  # noqa: E402

COMBINATIONS = {"l1": ["l1"], "m4": ["m4"], "x4": ["x4"], "m4+x4": ["m4", "x4"],
                "m4+s4": ["m4", "s4"], "m3": ["m3"], "m3+m4": ["m3", "m4"],
                "x3+x4": ["x3", "x4"], "m3+x4": ["m3", "x4"], "m2": ["m2"], "x2": ["x2"],
                "m2+x4": ["m2", "x4"]}


@torch.no_grad()
def embeddings(model, path: Path) -> dict[str, np.ndarray]:
    """Every embedding of :data:`COMBINATIONS` for each segment of ``path``."""
    _, segments = model.plan.cut(model.plan.read(path))
    x = model.backbone.features(torch.from_numpy(np.asarray(segments)).float())
    out = {}
    blocks = model.backbone.conv_blocks()
    for index, block in enumerate(blocks, start=1):
        x = block(x)  # (segments, channels, frames, bands)
        if index == len(blocks) - 2:
            out["m2"] = x.mean(2).flatten(1).numpy()
            out["x2"] = x.amax(2).flatten(1).numpy()
        if index == len(blocks) - 1:
            out["m3"] = x.mean(2).flatten(1).numpy()
            out["x3"] = x.amax(2).flatten(1).numpy()
    out["m4"] = x.mean(2).flatten(1).numpy()
    out["x4"] = x.amax(2).flatten(1).numpy()
    out["s4"] = x.std(2, correction=0).flatten(1).numpy()
    if model.head is not None and model.head.hidden_units:
        out["l1"] = model.head.hidden(model.backbone.head_input(
            model.backbone.features(torch.from_numpy(np.asarray(segments)).float())), 1).numpy()
    return out


def normalised(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """SimpleShot's CL2N: centred on the training mean, then unit length."""
    x = x - mean
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def scores(train, test, keys: list[str], clips: int, seeds: list[int], c: float,
           classifier_name: str = "logistic") -> list[float]:
    names = sorted({name for name, _ in train})
    accuracies = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        features, labels = [], []
        for name in names:
            rows = [e for n, e in train if n == name]
            chosen = sorted(rng.choice(len(rows), size=min(clips, len(rows)),
                                       replace=False).tolist())
            for i in chosen:
                x = np.concatenate([rows[i][k] for k in keys], axis=1)
                features.append(x)
                labels += [name] * len(x)
        features = np.concatenate(features)
        labels = np.asarray(labels)
        scaler = StandardScaler().fit(features)
        standard = scaler.transform(features)
        mean = standard.mean(0)
        transform = ((lambda x: x) if classifier_name == "logistic"
                     else (lambda x, mean=mean: normalised(x, mean)))
        train_x = transform(standard)
        if classifier_name == "ncm":  # the nearest class mean of the CL2N segments, by cosine
            centroids = np.stack([train_x[labels == n].mean(0) for n in names])
            centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
            predict = lambda x, centroids=centroids: x @ centroids.T
        else:  # CL2N inputs are ~100x smaller than standardised ones: C scales with them
            predict = LogisticRegression(
                C=c if classifier_name == "logistic" else c * 100, max_iter=2000
            ).fit(train_x, labels).predict_proba  # classes_ are the sorted names
        correct = []
        for name, e in test:
            x = transform(scaler.transform(np.concatenate([e[k] for k in keys], axis=1)))
            correct.append(names[int(predict(x).mean(0).argmax())] == name)
        accuracies.append(float(np.mean(correct)))
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(ROOT / "models/pretrained_general.pt"))
    parser.add_argument("--data", type=Path, default=ROOT / "data/benchmark")
    parser.add_argument("--tasks", nargs="+",
                        default=["drums", "speakers", "languages", "environment"])
    parser.add_argument("--clips", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--embeddings", nargs="+", default=list(COMBINATIONS),
                        choices=list(COMBINATIONS))
    parser.add_argument("--c", type=float, default=0.05, help="inverse L2 strength")
    parser.add_argument("--classifiers", nargs="+", default=["logistic"],
                        choices=["logistic", "logistic_cl2n", "ncm"],
                        help="logistic regression on standardised embeddings, on centred "
                             "unit-length ones (CL2N, C x 100), or their nearest class mean")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.source).eval()
    columns = [(name, classifier) for name in args.embeddings for classifier in args.classifiers]
    print("task | clips/class | " + " | ".join(
        name if len(args.classifiers) == 1 else f"{name} {classifier}"
        for name, classifier in columns))
    for task in args.tasks:
        def load(split: str, task=task):
            return [(folder.name, embeddings(model, path))
                    for folder in sorted(p for p in (args.data / task / split).iterdir()
                                         if p.is_dir())
                    for path in list_audio_files(folder)]
        train, test = load("train"), load("test")
        for clips in args.clips:
            cells = [scores(train, test, COMBINATIONS[name], clips, args.seeds, args.c,
                            classifier) for name, classifier in columns]
            print(f"{task} | {clips} | " + " | ".join(
                f"{np.mean(c):.3f} ± {np.std(c):.3f}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
