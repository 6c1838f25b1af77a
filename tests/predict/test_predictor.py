"""The segment plan, the predictor interface and the one result shape (issue 12).

Runs without torch: a predictor here is a few lines of numpy.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from deep_audio.config import load_config
from deep_audio.data.plan import SegmentPlan, segment_starts
from deep_audio.errors import AudioError, DeepAudioError
from deep_audio.predict.classify import classify_file, classify_files
from deep_audio.predict.predictor import FileResult, Predictor
from deep_audio.tasks import SingleLabel
from tests.conftest import tone


class LoudnessPredictor:
    """Class 1 ("loud") for segments whose RMS is above 0.1: a predictor in numpy."""

    def __init__(self, plan: SegmentPlan):
        self.plan = plan
        self.task = SingleLabel()
        self.class_names = ["quiet", "loud"]
        self.batch_size = 3
        self.config = load_config(sample_rate=plan.sample_rate, smoothing_segments=1,
                                  min_region_seconds=0.0)
        self.calls = []

    def posteriors(self, segments: np.ndarray) -> np.ndarray:
        self.calls.append(segments.shape)
        loud = (np.sqrt((segments ** 2).mean(axis=1)) > 0.1).astype(np.float32)
        return np.stack([1 - loud, loud], axis=1) * 0.8 + 0.1


def test_plan_from_config_and_metadata():
    config = load_config(sample_rate=8000, segment_seconds=0.5, segment_hop_seconds=0.25,
                         min_file_seconds=0.02)
    plan = SegmentPlan.from_config(config)
    assert (plan.sample_rate, plan.segment_samples, plan.hop_samples, plan.min_seconds) == (
        8000, 4000, 2000, 0.02)
    assert SegmentPlan.from_metadata(plan.to_metadata()) == plan
    # An export made before the minimum was stored: from its config (every export has
    # one); metadata without either is not a deep_audio export.
    old = {k: v for k, v in plan.to_metadata().items() if "min_file" not in k}
    assert SegmentPlan.from_metadata(
        {**old, "deep_audio.config": json.dumps(config.to_dict())}).min_seconds == 0.02
    with pytest.raises(KeyError, match="min_file_seconds"):
        SegmentPlan.from_metadata(old)
    assert plan.with_hop_seconds(0.1).hop_samples == 800
    with pytest.raises(DeepAudioError, match="hop_samples=0 must be > 0"):
        SegmentPlan(8000, 4000, 0)


@pytest.mark.parametrize("n_samples", [1, 19, 20, 21, 45, 50, 137])
def test_streamed_segments_equal_the_cut_of_the_whole_signal(n_samples):
    plan = SegmentPlan(sample_rate=10, segment_samples=20, hop_samples=7)
    signal = np.random.default_rng(n_samples).standard_normal(n_samples).astype(np.float32)
    starts, segments = plan.cut(signal)
    assert starts.tolist() == segment_starts(n_samples, 20, 7)
    for block in (1, 6, 20, 33, 1000):
        stream = plan.stream(np.split(signal, range(block, n_samples, block)))
        pairs = list(stream)
        assert [start for start, _ in pairs] == starts.tolist()
        np.testing.assert_array_equal(np.stack([s for _, s in pairs]), segments)
        assert stream.n_samples == n_samples
    begin, end = plan.times(starts, n_samples)
    assert begin.tolist() == (starts / 10).tolist()
    np.testing.assert_allclose(end, np.minimum(starts + 20, n_samples) / 10)


@pytest.fixture
def recordings(tmp_path):
    rate = 8000
    quiet_then_loud = np.concatenate([0.01 * tone(300, 1.0, rate), tone(300, 1.0, rate)])
    soundfile.write(tmp_path / "mixed.wav", quiet_then_loud, rate)
    soundfile.write(tmp_path / "loud.flac", tone(500, 0.3, rate), rate)
    soundfile.write(tmp_path / "tiny.wav", tone(500, 0.005, rate), rate)
    return tmp_path


def test_any_predictor_classifies_files_and_long_recordings(recordings):
    from deep_audio.predict.long_recordings import segment_recording

    predictor = LoudnessPredictor(SegmentPlan(8000, 4000, 2000, min_seconds=0.01))
    assert isinstance(predictor, Predictor)
    paths = [recordings / "mixed.wav", recordings / "loud.flac"]
    mixed, loud = classify_files(paths, predictor)
    assert isinstance(mixed, FileResult) and mixed.path == paths[0]
    assert mixed.starts_seconds.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert mixed.segment_posteriors.argmax(axis=1).tolist() == [0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_allclose(mixed.posteriors, mixed.segment_posteriors.mean(axis=0))
    assert loud.class_name == "loud" and loud.ends_seconds.tolist() == [0.3]
    assert max(rows for rows, _ in predictor.calls) >= predictor.batch_size  # shared calls
    assert [s.start_seconds for s in mixed.segments] == mixed.starts_seconds.tolist()
    winner, posteriors, classes = classify_file(paths[1], predictor)
    assert (winner, classes) == (1, ["quiet", "loud"])
    np.testing.assert_array_equal(posteriors, loud.posteriors)

    long = segment_recording(paths[0], predictor, read_block_seconds=0.3)
    np.testing.assert_array_equal(long.starts_seconds, mixed.starts_seconds)
    np.testing.assert_array_equal(long.posteriors, mixed.segment_posteriors)
    assert [r.label for r in long.regions] == ["quiet", "loud"]


def test_every_path_refuses_a_file_shorter_than_the_plan_allows(recordings):
    from deep_audio.predict.long_recordings import segment_recording

    predictor = LoudnessPredictor(SegmentPlan(8000, 4000, 2000, min_seconds=0.01))
    tiny = recordings / "tiny.wav"
    with pytest.raises(AudioError, match="shorter than the minimum of 10.0 ms"):
        next(classify_files([tiny], predictor))
    with pytest.raises(AudioError, match="shorter than the minimum of 10.0 ms"):
        segment_recording(tiny, predictor)
    skipped = []
    results = list(classify_files([tiny, recordings / "loud.flac"], predictor,
                                  skip_unreadable=True, skipped=skipped))
    assert [r.path.name for r in results] == ["loud.flac"]
    assert [path.name for path, _ in skipped] == ["tiny.wav"]


def test_the_torch_free_paths_import_no_torch():
    program = ("import sys; sys.modules['torch'] = None; "
               "import deep_audio.predict.predictor, deep_audio.data.plan; "
               "import deep_audio.predict.onnx; "
               "from deep_audio.predict import segment_recording, classify_files; "
               "from deep_audio.predict import evaluate_folders")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
