"""Long recordings: block reading, segment posteriors over time, regions, evaluation."""

import json

import numpy as np
import pytest
import soundfile

from deep_audio.bin import segment_recording as segment_cli
from deep_audio.errors import AudioError, DeepAudioError
from deep_audio.events import Event, make_regions, read_annotation
from deep_audio.io.audio import read_audio, read_audio_blocks
from deep_audio.io.model_files import load_model
from deep_audio.predict import classify_files
from deep_audio.predict.long_recordings import (
    evaluate_segmentation,
    save_segmentation,
    segment_recording,
)
from tests.conftest import tone

# (start_seconds, end_seconds, class) of the generated recording; classes of `trained`.
REGIONS = [(0.0, 6.0, "low"), (6.0, 10.0, "noise"), (10.0, 17.0, "high"),
           (17.0, 20.0, "low"), (20.0, 25.0, "noise"), (25.0, 30.0, "high")]
BOUNDARY_TOLERANCE_SECONDS = 0.5  # one segment of the small model


def write_recording(path, rate=11025, seed=7):
    rng = np.random.default_rng(seed)
    pieces = []
    for start, end, name in REGIONS:
        seconds = end - start
        if name == "noise":
            pieces.append((0.2 * rng.standard_normal(int(seconds * rate))).astype(np.float32))
        else:
            frequency = rng.uniform(200, 400) if name == "low" else rng.uniform(2000, 3000)
            pieces.append(tone(frequency, seconds, rate, noise=0.02, seed=int(start)))
    soundfile.write(path, np.concatenate(pieces), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("long") / "long.wav")


@pytest.fixture(scope="module")
def model(trained):
    return load_model(trained.model_path)


def test_blocks_concatenate_to_the_whole_file(recording):
    whole, _ = read_audio(recording, sample_rate=8000)
    blocks = list(read_audio_blocks(recording, sample_rate=8000, block_seconds=1.7))
    assert len(blocks) >= 17 and max(len(b) for b in blocks) <= 1.7 * 8000 * 1.05
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)


def test_blocks_fail_like_read_audio(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        next(read_audio_blocks(tmp_path / "missing.wav", sample_rate=8000, block_seconds=1))
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="cannot decode '.*bad.wav'"):
        next(read_audio_blocks(tmp_path / "bad.wav", sample_rate=8000, block_seconds=1))
    soundfile.write(tmp_path / "nan.wav", np.full(800, np.nan, np.float32), 8000,
                    subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        list(read_audio_blocks(tmp_path / "nan.wav", sample_rate=8000, block_seconds=1))


def test_streamed_segments_match_whole_file_classification(model, dataset):
    path = sorted(dataset["test"][0].iterdir())[0]  # 1.2 s: a tail segment, short blocks
    (whole,) = classify_files([path], model)
    streamed = segment_recording(path, model, read_block_seconds=0.3, smoothing_segments=1)
    assert streamed.starts_seconds.tolist() == [s.start_seconds for s in whole.segments]
    assert streamed.ends_seconds.tolist() == pytest.approx([s.end_seconds for s in whole.segments])
    np.testing.assert_allclose(streamed.posteriors,
                               np.stack([s.posteriors for s in whole.segments]), atol=1e-5)


def test_known_regions_are_recovered(model, recording, tmp_path):
    result = segment_recording(recording, model, read_block_seconds=2.3)
    assert result.duration_seconds == pytest.approx(30.0, abs=1e-3)
    assert [r.label for r in result.regions] == [name for _, _, name in REGIONS]
    for found, (start, end, _) in zip(result.regions, REGIONS):
        assert abs(found.onset_seconds - start) <= BOUNDARY_TOLERANCE_SECONDS
        assert abs(found.offset_seconds - end) <= BOUNDARY_TOLERANCE_SECONDS
        assert 0.5 < found.confidence <= 1.0

    annotation = tmp_path / "truth.csv"
    annotation.write_text("start,end,label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in REGIONS))
    assert read_annotation(annotation) == [Event(*region) for region in REGIONS]
    evaluation = evaluate_segmentation(result, annotation)
    assert evaluation.accuracy >= 0.95
    assert set(evaluation.class_accuracy) == {"low", "high", "noise"}
    assert min(evaluation.class_accuracy.values()) >= 0.9
    assert evaluation.confusion.sum() == 300  # 30 s on a 0.1 s grid
    assert "overall" in evaluation.format()


def test_smoothing_and_short_regions():
    starts = np.arange(6.0)
    posteriors = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] + [[0.9, 0.1]] * 2)
    regions = make_regions(starts, starts + 2, posteriors, ["a", "b"])
    assert [r.label for r in regions] == ["a", "b", "a"]
    assert (regions[1].onset_seconds, regions[1].offset_seconds) == (3.5, 4.5)
    merged = make_regions(starts, starts + 2, posteriors, ["a", "b"], min_region_seconds=1.5)
    assert [(r.onset_seconds, r.offset_seconds, r.label) for r in merged] == [(0, 7, "a")]
    assert merged[0].confidence == pytest.approx((0.9 * 7 - 0.7) / 7)
    # a moving average over 3 segments outvotes the one-segment "b"
    smoothed = make_regions(starts, starts + 2, posteriors, ["a", "b"], smoothing_segments=3)
    assert [(r.onset_seconds, r.offset_seconds, r.label) for r in smoothed] == [(0, 7, "a")]


def test_outputs_plot_and_bad_annotation(model, recording, tmp_path):
    result = segment_recording(recording, model, read_block_seconds=5.0)
    csv_files = save_segmentation(result, tmp_path / "out.csv")
    assert [p.name for p in csv_files] == ["out.csv", "out.segments.csv"]
    rows = csv_files[0].read_text().splitlines()
    assert rows[0] == "start_seconds,end_seconds,label,confidence" and len(rows) == 7
    data = json.loads(save_segmentation(result, tmp_path / "out.json")[0].read_text())
    assert len(data["segments"]) == len(result.starts_seconds) and len(data["regions"]) == 6
    png = result.plot(tmp_path / "timeline.png", truth=REGIONS)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in result.plot(tmp_path / "timeline.html").read_text()

    bad = tmp_path / "bad.txt"
    bad.write_text("0 1 low\n1 x high\n")
    with pytest.raises(DeepAudioError, match="bad.txt' line 2"):
        read_annotation(bad)
    bad.write_text("0 1 cat\n")
    with pytest.raises(DeepAudioError, match=r"label\(s\) \['cat'\]"):
        evaluate_segmentation(result, bad)


def test_cli_writes_regions_evaluation_and_plot(trained, recording, tmp_path, capsys):
    truth = tmp_path / "truth.txt"
    truth.write_text("".join(f"{a}\t{b}\t{c}\n" for a, b, c in REGIONS))
    code = segment_cli.main(["-m", str(trained.model_path), "-i", str(recording),
                             "-o", str(tmp_path / "out"), "--truth", str(truth),
                             "--plot", "png"])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "out" / "long.regions.csv").is_file()
    assert (tmp_path / "out" / "long.timeline.png").is_file()
    assert "overall" in out and "noise" in out
    assert segment_cli.main(["-m", str(trained.model_path), "-i",
                             str(tmp_path / "missing.wav")]) == 2
    assert "error: cannot read" in capsys.readouterr().err
