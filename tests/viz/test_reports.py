"""The HTML reports, read as pages (no browser): their data, audio, size cap and CLIs."""

import base64
import gzip
import io
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import soundfile
from sklearn.metrics import average_precision_score

from deep_audio.bin import classification_report, feature_plots
from deep_audio.bin import segment_recording as segment_cli
from deep_audio.errors import DeepAudioError
from deep_audio.training.history import read_history
from deep_audio.viz import evaluation_report, multilabel_report, read_page_data, training_report
from deep_audio.viz.evaluation import evaluation_page
from deep_audio.viz.html import decode_log_mel_image, log_mel_image
from tests.viz.helpers import (
    EVENTS,
    folder_report,
    make_feature_space,
    make_multilabel,
    make_spectrogram,
    make_timeline,
    synthetic_multilabel,
    write_recording,
)


@pytest.fixture(scope="module")
def folders(trained, dataset):
    return folder_report(trained, dataset["test"])


def assert_self_contained(path: Path) -> str:
    """No script, link, image or media that the browser would fetch from elsewhere."""
    text = path.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in text and text.count("<script") == 3
    assert not re.search(r"<script[^>]*\ssrc=", text)
    assert not re.search(r"<link\b", text)
    for url in re.findall(r'"src":"([^"]*)"', text) + re.findall(r' src="([^"]*)"', text):
        assert url.startswith("data:") or "://" not in url, url
    return text


@pytest.mark.slow
def test_evaluation_page_holds_the_confusion_matrix_and_its_files(folders, tmp_path):
    path = evaluation_report(folders, tmp_path / "eval.html")
    assert_self_contained(path)
    data = read_page_data(path)
    assert data["confusion"] == folders.confusion.tolist()
    assert data["class_names"] == folders.class_names
    n = len(folders.class_names)
    for t in range(n):
        for p in range(n):
            members = data["cells"][t][p]
            assert len(members) == folders.confusion[t, p]
            assert all(data["files"][i]["true"] == t and data["files"][i]["pred"] == p
                       for i in members)
    names = [f"{r.path.parent.name}/{r.path.name}" for r, _ in folders.predictions]
    assert [f["name"] for f in data["files"]] == names
    for file, (result, _) in zip(data["files"], folders.predictions):
        np.testing.assert_allclose(file["p"], result.posteriors, atol=1e-4)
        assert len(file["seg"]["t"]) == len(result.starts_seconds)
        assert np.asarray(file["seg"]["p"]).shape == (n, len(result.starts_seconds))
        assert file["spec"]["n_rows"] == 40 and 0 < file["spec"]["n_frames"] <= 160
        assert file["audio"]["src"].startswith("data:audio/ogg;codecs=opus;base64,")
    # Each embedded clip is real Opus audio of the first seconds of its file.
    clip = base64.b64decode(data["files"][0]["audio"]["src"].split(",", 1)[1])
    samples, rate = soundfile.read(io.BytesIO(clip))
    assert rate == 16000 and 0.9 * 1.2 * rate < len(samples) <= 1.25 * rate
    mistakes = data["mistakes"]
    assert len(mistakes) == folders.confusion.sum() - np.trace(folders.confusion)
    confidence = [data["files"][i]["p"][data["files"][i]["pred"]] for i in mistakes]
    assert confidence == sorted(confidence, reverse=True)


@pytest.mark.slow
def test_confident_mistakes_come_first_and_get_audio_first_under_the_cap(tmp_path):
    from deep_audio.predict.predictor import FileResult

    # 3 correct files, then 2 mistakes with confidence 0.7 and 0.9.
    files = []
    for i, (truth, posterior) in enumerate([(0, [0.8, 0.2]), (1, [0.1, 0.9]), (0, [0.6, 0.4]),
                                            (0, [0.3, 0.7]), (1, [0.9, 0.1])]):
        path = tmp_path / f"{i}.wav"
        soundfile.write(path, np.random.default_rng(i).normal(0, 0.1, 16000 * 3), 16000)
        files.append((FileResult.from_segments(path, ["a", "b"], np.array([0.0, 1.0]),
                                               np.array([1.0, 2.0]),
                                               np.array([posterior, posterior])), truth))
    page = evaluation_page(["a", "b"], files, page_path=tmp_path / "e.html", title="t",
                           clip_seconds=2.0, audio_budget_bytes=10**9)
    assert page.data["mistakes"] == [4, 3]
    one_clip = max(len(f["audio"]["src"].split(",", 1)[1]) for f in page.data["files"])
    # A cap of two and a half clips: the two mistakes get audio, the rest a note.
    page = evaluation_page(["a", "b"], files, page_path=tmp_path / "e.html", title="t",
                           clip_seconds=2.0, audio_budget_bytes=int(one_clip * 2.5))
    has_audio = [f["audio"]["src"] is not None for f in page.data["files"]]
    assert has_audio == [False, False, False, True, True]
    notes = [f["audio"].get("note") for f in page.data["files"][:3]]
    assert notes == ["audio left out (size cap)"] * 3
    text = page.render()
    assert 'id="audio-left-out"' in text and "3 file(s) have no audio here" in text


@pytest.mark.slow
def test_size_cap_bounds_the_embedded_audio(folders, tmp_path):
    full = evaluation_report(folders, tmp_path / "full.html")
    capped = evaluation_report(folders, tmp_path / "capped.html", audio_budget_bytes=20_000)
    data = read_page_data(capped)
    embedded = [f for f in data["files"] if f["audio"]["src"]]
    total = sum(len(f["audio"]["src"].split(",", 1)[1]) for f in embedded)  # base64 in page
    assert 0 < len(embedded) < len(data["files"]) and total <= 20_000
    left_out = len(data["files"]) - len(embedded)
    assert f"{left_out} file(s) have no audio here: the 20 kB cap was reached" in \
        capped.read_text()
    assert capped.stat().st_size < full.stat().st_size


def test_link_audio_points_at_the_files_relative_to_the_report(folders, tmp_path):
    path = evaluation_report(folders, tmp_path / "sub" / "eval.html", link_audio=True)
    data = read_page_data(path)
    for file, (result, _) in zip(data["files"], folders.predictions):
        src = file["audio"]["src"]
        assert not src.startswith("data:") and not src.startswith("/")
        assert (path.parent / unquote(src)).resolve() == result.path.resolve()
    assert "data:audio" not in path.read_text()


def test_the_page_carries_all_of_plotly_js(tmp_path):
    from plotly.offline import get_plotlyjs

    text = make_multilabel(tmp_path / "ml.html").read_text()
    start = text.index('id="plotly-js-gzip">') + len('id="plotly-js-gzip">')
    packed = base64.b64decode(text[start:text.index("</script>", start)])
    assert gzip.decompress(packed).decode("utf-8") == get_plotlyjs()
    assert len(packed) < 0.45 * len(get_plotlyjs())


def test_log_mel_image_is_small_and_puts_a_tone_in_its_band():
    rate = 16000
    t = np.arange(rate) / rate
    samples = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    image = log_mel_image(samples, rate, n_mels=40, max_frames=50)
    values = decode_log_mel_image(image)
    assert values.shape == (40, image["n_frames"]) and image["n_frames"] <= 50
    assert values.max() == 0.0 and values.min() >= -80.0
    # The 1 kHz tone is loudest in the band whose centre is nearest 1 kHz.
    loudest = int(np.argmax(values.mean(axis=1)))
    assert abs(image["mel_hz"][loudest] - 1000) < 150


def test_multilabel_page_shows_sklearn_ap_and_skips_classes_without_positives(tmp_path):
    targets, scores, names = synthetic_multilabel()
    path = make_multilabel(tmp_path / "ml.html")
    assert_self_contained(path)
    data = read_page_data(path)["multilabel"]
    assert data["ap"][3] is None and data["support"] == targets.sum(axis=0).tolist()
    expected = [average_precision_score(targets[:, c], scores[:, c]) for c in range(3)]
    assert data["ap"][:3] == pytest.approx(expected, abs=1e-4)
    assert data["map"] == pytest.approx(np.mean(expected), abs=1e-4)
    figure = read_page_data(path)["figures"]["multilabel-pr"]
    assert len(figure["data"]) == 3  # no curve for the class without positives
    with pytest.raises(DeepAudioError, match="1 class names for targets of shape"):
        multilabel_report(targets[:, :2], scores[:, :2], ["a"], tmp_path / "bad.html")


def test_training_writes_the_html_report_beside_the_model(trained):
    path = trained.model_path.with_suffix(".report.html")
    assert_self_contained(path)
    data = read_page_data(path)
    history = read_history(trained.history_path)
    assert data["history"]["val_macro_f1"] == pytest.approx(history["val_macro_f1"], abs=1e-6)
    assert data["history"]["learning_rate"] == pytest.approx(history["learning_rate"],
                                                             rel=1e-5)
    assert data["best_epoch"] == trained.best_epoch
    assert data["confusion"] == np.asarray(trained.metrics["val_confusion"]).tolist()
    curves = data["figures"]["curves"]
    titles = [a["text"] for a in curves["layout"]["annotations"]]
    assert titles == ["loss", "accuracy", "macro-F1", "learning rate"]
    best_lines = [s for s in curves["layout"]["shapes"] if s.get("x0") == trained.best_epoch]
    assert len(best_lines) == 4  # the best epoch marked on every panel


def test_training_report_without_history(tmp_path):
    path = training_report({}, np.array([[3, 1], [0, 4]]), ["a", "b"], tmp_path / "r.html")
    data = read_page_data(path)
    assert "curves" not in data["figures"] and data["confusion"] == [[3, 1], [0, 4]]
    assert "No training history" in path.read_text()


def test_timeline_page_has_regions_truth_and_the_recording(trained, tmp_path):
    path = make_timeline(trained, tmp_path)
    assert_self_contained(path)
    data = read_page_data(path)
    assert data["truth"] == [list(e) for e in EVENTS]
    assert data["regions"] and data["regions"][0][0] == 0.0
    assert data["regions"][-1][1] == pytest.approx(10.0, abs=0.5)
    lanes = {tuple(t["y"])[0] for t in data["figures"]["timeline"]["data"]
             if t["type"] == "bar"}
    assert lanes == {"predicted", "annotation"}
    assert 'src="data:audio/ogg;codecs=opus;base64,' in path.read_text()
    linked = make_timeline(trained, tmp_path, embed_max_seconds=5.0)
    text = linked.read_text()
    assert 'src="recording.wav"' in text and "over the 5 s embedding limit" in text


def test_timeline_refuses_bad_events(tmp_path):
    from deep_audio.viz import timeline_report

    with pytest.raises(DeepAudioError, match="ends before it starts"):
        timeline_report([0.0], [1.0], [[1.0]], ["a"], tmp_path / "t.html",
                        truth=[(2.0, 1.0, "a")])
    with pytest.raises(DeepAudioError, match=r"posteriors \(1, 2\) must be"):
        timeline_report([0.0], [1.0], [[0.5, 0.5]], ["a"], tmp_path / "t.html")


@pytest.mark.slow
def test_feature_space_and_spectrogram_pages(dataset, tmp_path):
    path = make_feature_space(dataset, tmp_path / "space.html")
    assert_self_contained(path)
    data = read_page_data(path)
    figure = data["figures"]["feature-space"]
    scatters = [t for t in figure["data"] if t["type"] == "scatter"]
    assert [t["name"] for t in scatters] == ["low (6)", "high (6)", "noise (6)"]
    hover_names = [name for t in scatters for name in t["text"]]
    assert hover_names == [f["name"] for f in data["files"]]
    assert all(f["audio"]["src"].startswith("data:audio/ogg") for f in data["files"])
    spectrogram = make_spectrogram(tmp_path)
    assert_self_contained(spectrogram)
    heatmap = read_page_data(spectrogram)["figures"]["spectrogram"]["data"][0]
    assert heatmap["zmax"] == 0 and len(heatmap["x"]) <= 800


@pytest.mark.slow
def test_report_cli_writes_the_html_page(trained, dataset, tmp_path, capsys):
    page = tmp_path / "report.html"
    code = classification_report.main(["-m", str(trained.model_path), "-i",
                                       *map(str, dataset["test"]), "--plot",
                                       str(tmp_path / "c.png"), "--html", str(page),
                                       "--link-audio"])
    assert code == 0 and f"evaluation report: {page}" in capsys.readouterr().out
    data = read_page_data(page)
    assert sum(map(sum, data["confusion"])) == 18
    assert not data["files"][0]["audio"]["src"].startswith("data:")
    code = classification_report.main(["-m", str(trained.model_path), "-i",
                                       *map(str, dataset["test"]), "--plot",
                                       str(tmp_path / "c.png"), "--html", str(page),
                                       "--audio-clip-seconds", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "error: clip_seconds=0.0 must be > 0"


def test_segment_cli_writes_the_timeline_page(trained, tmp_path, capsys):
    recording = write_recording(tmp_path / "rec.wav")
    truth = tmp_path / "rec.txt"
    truth.write_text("".join(f"{a}\t{b}\t{c}\n" for a, b, c in EVENTS))
    code = segment_cli.main(["-m", str(trained.model_path), "-i", str(recording), "-o",
                             str(tmp_path / "out"), "--plot", "none", "--truth", str(truth),
                             "--html"])
    assert code == 0
    page = tmp_path / "out" / "rec.report.html"
    assert str(page) in capsys.readouterr().out
    assert read_page_data(page)["truth"] == [list(e) for e in EVENTS]


WINDOWS = ["--mid-window-seconds", "1.0", "--mid-step-seconds", "1.0",
           "--short-window-seconds", "0.05", "--short-step-seconds", "0.025"]


@pytest.mark.slow
def test_feature_plots_cli_pages_name_the_file_of_each_point(dataset, tmp_path, capsys):
    from deep_audio.features.handcrafted import MID_TERM_NAMES, file_features

    folders = [Path(shutil.copytree(f, tmp_path / f.name)) for f in dataset["test"][:2]]
    (folders[0] / "broken.wav").write_bytes(b"RIFF but not audio")  # skipped: no point
    page = tmp_path / "space.html"
    assert feature_plots.main(["scatter", "-i", *map(str, folders), "--html", str(page),
                               "--set", "classifier=knn", "--cv-folds", "2", *WINDOWS]) == 0
    assert f"saved {page}" in capsys.readouterr().out
    data = read_page_data(page)
    scatters = [t for t in data["figures"]["feature-space"]["data"] if t["type"] == "scatter"]
    expected = {"low": sorted(p.name for p in folders[0].iterdir() if p.name != "broken.wav"),
                "high": sorted(p.name for p in folders[1].iterdir())}
    columns = [MID_TERM_NAMES.index("spectral_centroid_mean"),
               MID_TERM_NAMES.index("energy_entropy_mean")]
    for trace, (name, files) in zip(scatters, expected.items()):
        assert trace["name"] == f"{name} ({len(files)})" and trace["text"] == files
        # The point named after a file holds that file's two features.
        folder = folders[0] if name == "low" else folders[1]
        vector, _ = file_features(folder / files[-1], mid_window_seconds=1.0,
                                  mid_step_seconds=1.0, short_window_seconds=0.05,
                                  short_step_seconds=0.025)
        assert [trace["x"][-1], trace["y"][-1]] == pytest.approx(vector[columns], rel=1e-5)

    spectrogram_page = tmp_path / "spectrogram.html"
    one_file = str(next(folders[1].iterdir()))
    assert feature_plots.main(["spectrogram", "-i", one_file, "--html",
                               str(spectrogram_page), "--link-audio"]) == 0
    assert f' src="{Path(one_file).parent.name}/{Path(one_file).name}"' in \
        spectrogram_page.read_text()
    assert feature_plots.main(["spectrogram", "-i", one_file]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: nothing to write: give -o IMAGE, --html PAGE or both"
