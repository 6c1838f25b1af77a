"""deep_audio: learn to recognise sounds with PyTorch.

Dependencies are pinned here and only here. torch and torchaudio must be the same
release (torchaudio's Linux wheels are built against one torch build).
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
EXPORT_REQUIRES = ["onnx>=1.17", "onnxscript>=0.5", "onnxruntime>=1.20"]
# Hugging Face audio encoders as backbones (deep_audio.models.hf): AST, wav2vec2, HuBERT.
HF_REQUIRES = ["transformers>=4.40"]
# The reference PANNs implementation, for the parity tests of deep_audio.models.panns only
# (deep_audio never imports it).
PANNS_REFERENCE = ["panns_inference==0.1.1", "torchlibrosa==0.1.0"]

setup(
    name="deep_audio",
    version="0.1.0",
    description="Audio classification with PyTorch: spectrogram CNNs, transfer learning, "
                "hand-crafted features and classic ML",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["deep_audio", "deep_audio.*"]),
    # The default config is read from configs/ in a source checkout and from
    # <prefix>/share/deep_audio/configs when installed as a wheel.
    data_files=[("share/deep_audio/configs", ["configs/default.yaml"])],
    install_requires=[
        "torch==2.9.1",
        "torchaudio==2.9.1",
        "numpy>=1.24",
        "soundfile>=0.12",
        "soxr>=0.3",
        "librosa>=0.10",
        "tqdm>=4.60",
        "torchsummary==1.5.1",
        "PyYAML>=6.0",
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
        "skops>=0.10",
        "threadpoolctl>=3",
        # Sound event detection scores (deep_audio.events.detection): sed_eval (needs
        # dcase_util) and PSDS from sed_scores_eval, whose Cython code breaks with
        # pandas 3: it hands DataFrame.to_numpy() views, read-only under pandas 3's
        # copy-on-write, to typed memoryviews ("buffer source array is read-only"),
        # hence the one upper bound here. sed_scores_eval builds from source (a C++
        # compiler and Cython) and pulls in PyPI's obsolete 'pathlib' backport, which
        # the standard library's pathlib shadows. Tested: sed_eval 0.2.1, dcase_util
        # 0.2.20, sed_scores_eval 0.0.4, pandas 2.3.3, numpy 2.4, Python 3.11.
        "sed_eval>=0.2.1",
        "dcase_util>=0.2.20",
        "sed_scores_eval>=0.0.4",
        "pandas>=1.5,<3",
        "plotly>=5.10",  # the HTML reports (deep_audio.viz); plotly.js is inlined
    ],
    extras_require={
        # ONNX export (deep_audio.export) and torch-free inference (deep_audio.predict.onnx).
        "export": EXPORT_REQUIRES,
        "hf": HF_REQUIRES,
        # selenium drives Debian's chromium in the browser tests of the HTML reports.
        "test": ["pytest>=7", "selenium>=4.10", *EXPORT_REQUIRES, *HF_REQUIRES,
                 *PANNS_REFERENCE],
    },
    entry_points={
        "console_scripts": [
            "deep-audio-train=deep_audio.cli.train:main",
            "deep-audio-test=deep_audio.cli.test:main",
            "deep-audio-report=deep_audio.cli.report:main",
            "deep-audio-architecture=deep_audio.cli.architecture:main",
            "deep-audio-segment=deep_audio.cli.segment:main",
            "deep-audio-export=deep_audio.cli.export:main",
            "deep-audio-onnx-classify=deep_audio.cli.onnx_classify:main",
        ]
    },
)
