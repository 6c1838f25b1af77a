"""The user story on real recordings: mixed formats and rates, one damaged file.

Takes three languages of the bundled demo data (real speech), re-encodes the training
files into several formats and sample rates, adds a damaged file, trains a small network
and checks that held-out recordings are classified far above chance.
"""


import pytest
import soundfile

from deep_audio.io.audio import list_audio_files, read_audio
from deep_audio.io.model_files import load_model
from deep_audio.predict import evaluate_folders
from deep_audio.training import train_model
from tests.conftest import REPO, small_config

DEMO = REPO / "data" / "demo"
CLASSES = ["english", "french", "russian"]
FORMATS = [  # (suffix, sample rate in Hz, soundfile options)
    (".wav", 22050, {"subtype": "PCM_24"}),
    (".mp3", 44100, {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
    (".ogg", 16000, {"format": "OGG", "subtype": "VORBIS"}),
    (".flac", 8000, {}),
    (".wav", 48000, {"subtype": "FLOAT"}),
]


@pytest.mark.skipif(not DEMO.is_dir(), reason="demo data not present")
@pytest.mark.slow
def test_mixed_format_real_recordings_train_a_useful_model(tmp_path):
    folders = []
    for name in CLASSES:
        folder = tmp_path / "train" / name
        folder.mkdir(parents=True)
        for index, source in enumerate(list_audio_files(DEMO / "train" / name)[:14]):
            suffix, rate, options = FORMATS[index % len(FORMATS)]
            samples, _ = read_audio(source, sample_rate=rate)
            soundfile.write(folder / f"{source.stem}{suffix}", samples, rate, **options)
        folders.append(folder)
    (folders[1] / "damaged.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x10" + bytes(64))

    config = small_config(
        sample_rate=16000, n_fft=512, n_mels=64, segment_seconds=1.0,
        segment_hop_seconds=0.5, conv_channels=[8, 16, 32], hidden_units=[64],
        dropout=[0.3], epochs=20, min_epochs=10, early_stopping_patience=6,
        models_dir=str(tmp_path))
    result = train_model(folders, "real", config=config, progress=False)
    assert [path.name for path, _ in result.skipped_files] == ["damaged.mp3"]

    report = evaluate_folders(load_model(result.model_path),
                              [DEMO / "test" / name for name in CLASSES])
    assert report.confusion.sum() == 3 * len(list_audio_files(DEMO / "test" / "english"))
    assert report.scores["accuracy"] >= 0.6, report.format()  # chance is 1/3
