"""Turn a pretraining run's output into the shipped ``models/pretrained_general.pt``.

    python tools/ship_pretrained_general.py /work/pretrain-run/general.pt \\
        --corpus data/pretraining --note "8 epochs on the first corpus build"

The weights, class list and task are copied unchanged; the run's machine paths
(``training.models_dir``, ``training.cache_dir``) become the defaults of
configs/default.yaml, and the metadata names the corpus (its sources and licences, from
``<corpus>/sources.csv``) so that the file says where it came from (docs/pretrained.md).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

from deep_audio.config import load_config
from deep_audio.io.model_files import load_model, save_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_model", type=Path, help="the model file a pretraining run wrote")
    parser.add_argument("--corpus", type=Path, default=Path("data/pretraining"),
                        help="the output folder of tools/make_pretraining_corpus.py")
    parser.add_argument("--note", default="", help="what run this is (kept in the metadata)")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path("models/pretrained_general.pt"))
    args = parser.parse_args()

    model = load_model(args.run_model)
    defaults = load_config().training
    model.config = dataclasses.replace(model.config, training=dataclasses.replace(
        model.config.training, models_dir=defaults.models_dir, cache_dir=defaults.cache_dir))
    with open(args.corpus / "sources.csv", newline="") as stream:
        sources = [{k: row[k] for k in ("package", "version", "licence")}
                   for row in csv.DictReader(stream)]
    run = model.metadata
    metadata = {
        "pretraining": {
            "note": args.note,
            "corpus": "tools/make_pretraining_corpus.py (docs/pretraining_corpus.md)",
            "sources": sources,
            "train_files": run.get("train_files"),
            "train_segments": run.get("train_segments"),
            "best_epoch": run.get("best_epoch"),
            "validation_metrics": run.get("metrics", {}),
            "training_seconds": run.get("training_seconds"),
            "versions": run.get("versions", {}),
        },
        "card": "docs/pretrained.md",
    }
    path = save_model(args.output, model, metadata=metadata)
    print(f"{path}: {len(model.class_names)} classes, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
