"""Several models as one predictor: posteriors averaged, post-processing combined."""

import numpy as np
import pytest

from deep_audio.cli.main import main as deep_audio
from deep_audio.config import load_config
from deep_audio.data.plan import SegmentPlan
from deep_audio.errors import DeepAudioError
from deep_audio.predict import segment_recording
from deep_audio.predict.classify import as_predictor, classify_files
from deep_audio.predict.ensemble import Ensemble, combined_task
from deep_audio.tasks import FrameDetection, MultiLabel
from tests.conftest import tone

PLAN = SegmentPlan(sample_rate=8000, segment_samples=4000, hop_samples=4000)


class FixedPredictor:
    """Every segment gets the same posterior (a numpy predictor)."""

    def __init__(self, posterior, *, class_names=("a", "b"), task=None, plan=PLAN,
                 batch_size=4):
        self.posterior = np.asarray(posterior, dtype=np.float32)
        self.class_names = list(class_names)
        self.task = task or MultiLabel(thresholds=(0.5, 0.5))
        self.plan = plan
        self.batch_size = batch_size
        self.config = load_config(sample_rate=plan.sample_rate)

    def posteriors(self, segments):
        return np.tile(self.posterior, (len(segments), 1))


def test_the_ensemble_posterior_is_the_mean_and_decides_on_it(tmp_path):
    import soundfile

    path = tmp_path / "tone.wav"
    soundfile.write(path, tone(440, 2.0, 8000), 8000)
    members = [FixedPredictor([0.9, 0.1]), FixedPredictor([0.3, 0.7], batch_size=2),
               FixedPredictor([0.3, 0.4])]
    ensemble = as_predictor(members)
    assert isinstance(ensemble, Ensemble) and ensemble.batch_size == 2
    np.testing.assert_allclose(ensemble.posteriors(np.zeros((3, 4000), np.float32)),
                               [[0.5, 0.4]] * 3, atol=1e-6)
    result = next(iter(classify_files([path], ensemble)))
    np.testing.assert_allclose(result.posteriors, [0.5, 0.4], atol=1e-6)
    assert as_predictor([members[0]]) is members[0]  # one model: no ensemble


@pytest.mark.parametrize("change, what", [
    (dict(class_names=("a", "c")), "class names"),
    (dict(task=FrameDetection(frame_seconds=0.04)), "task"),
    (dict(plan=SegmentPlan(sample_rate=8000, segment_samples=8000, hop_samples=4000)),
     "segment length"),
])
def test_members_that_disagree_are_refused_by_name(change, what):
    with pytest.raises(DeepAudioError, match=f"model 2 .* its {what}"):
        Ensemble([FixedPredictor([0.5, 0.5]), FixedPredictor([0.5, 0.5], **change)])


def test_tuned_post_processing_is_averaged_and_medianed_per_class():
    def tuned(thresholds, filters, gaps):
        return FrameDetection(frame_seconds=0.04, thresholds=(0.5, 0.5)).with_post_processing(
            event_thresholds=thresholds, median_filter_seconds=filters, min_gap_seconds=gaps)

    task = combined_task([tuned([0.2, 0.6], [0.12, 0.96], [0.0, 1.0]),
                          tuned([0.4, 0.3], [0.24, 0.48], [0.5, 0.0]),
                          tuned([0.3, 0.3], [0.96, 0.48], [0.5, 0.2])], 2)
    np.testing.assert_allclose(task.event_thresholds, [0.3, 0.4])
    assert task.median_filter_seconds == (0.24, 0.48) and task.min_gap_seconds == (0.5, 0.2)
    untuned = combined_task([tuned([0.2, 0.6], [0.1, 0.1], [0.0, 0.0]),
                             FrameDetection(frame_seconds=0.04)], 2)
    assert untuned.median_filter_seconds == (0.1, 0.1)  # the first's, not a blend


@pytest.mark.slow
def test_a_model_twice_segments_exactly_as_the_model(trained, dataset, tmp_path, capsys):
    recording = next(dataset["test"][0].iterdir())
    alone = segment_recording(recording, trained.model_path)
    twice = segment_recording(recording, [trained.model_path, trained.model_path])
    np.testing.assert_allclose(twice.posteriors, alone.posteriors, atol=1e-6)
    assert [r.label for r in twice.regions] == [r.label for r in alone.regions]
    code = deep_audio(["segment", "-m", str(trained.model_path), str(trained.model_path),
                       "-i", str(recording), "-o", str(tmp_path / "out"), "--plot", "none"])
    assert code == 0 and f"# {recording}" in capsys.readouterr().out
    assert deep_audio(["test", "-m", str(trained.model_path), "-i", str(recording)]) == 0
    single = capsys.readouterr().out
    assert deep_audio(["test", "-m", str(trained.model_path), str(trained.model_path),
                       "-i", str(recording)]) == 0
    assert capsys.readouterr().out == single  # a model twice classifies as the model


def test_an_ensemble_of_frame_detectors_is_tuned_on_validation_as_one_model():
    import torch

    from deep_audio.data.segments import SegmentDataset
    from deep_audio.models.classifier import Classifier
    from deep_audio.predict.torch_predictor import TorchPredictor
    from deep_audio.tasks import make_task
    from deep_audio.training.post_processing import tune_on_validation, validation_timelines
    from tests.events.test_frame_detection import CLASSES, RATE, event_clip, frame_config

    config = frame_config(conv_channels=[8, 16])
    torch.manual_seed(0)
    members = [Classifier.seed(config, list(CLASSES), make_task("frame_detection"))
               for _ in range(2)]
    rng = np.random.default_rng(0)
    onsets = [(0.3 + 0.1 * i, 1.2 - 0.1 * i) for i in range(4)]
    validation = SegmentDataset(
        [event_clip([(low, "low"), (high, "high")], 2.0, rng) for low, high in onsets],
        [np.ones(2, np.float32)] * len(onsets), segment_samples=2 * RATE,
        hop_samples=2 * RATE, sample_rate=RATE, frame_seconds=0.04,
        events=[[(low, low + 0.2, 0), (high, high + 0.2, 1)] for low, high in onsets])
    ensemble = Ensemble([TorchPredictor(member) for member in members])

    _, together, _ = validation_timelines(ensemble, validation, sample_rate=RATE)
    alone = [validation_timelines(m, validation, sample_rate=RATE)[1] for m in members]
    for clip, scores in together.items():  # the members' mean frames, clip by clip
        assert np.allclose(scores.posteriors, np.mean(
            [timeline[clip].posteriors for timeline in alone], axis=0), atol=1e-6)
    metrics = tune_on_validation(ensemble, validation)
    assert ensemble.task.tuned and "val_event_f1" in metrics
    assert not any(member.task.tuned for member in members)  # the members keep theirs


@pytest.mark.slow
def test_report_scores_several_models_as_one(trained, dataset, capsys):
    model = str(trained.model_path)
    folders = [str(folder) for folder in dataset["test"]]
    assert deep_audio(["report", "-m", model, "-i", *folders]) == 0
    single = capsys.readouterr().out
    assert deep_audio(["report", "-m", model, model, "-i", *folders]) == 0
    twice = capsys.readouterr().out
    assert twice.split("\nconfusion matrix image")[0] == single.split(
        "\nconfusion matrix image")[0]  # the same scores, printed the same
    assert trained.model_path.with_suffix(".ensemble.confusion.png").is_file()
