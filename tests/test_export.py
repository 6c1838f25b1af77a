"""Export to ONNX and TorchScript, the checks against PyTorch, and torch-free inference."""

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from deep_audio.bin import export_model
from deep_audio.errors import ExportError, ModelFileError
from deep_audio.export import LOGIT_ATOL, read_torchscript_metadata, to_onnx, to_torchscript, verify
from deep_audio.io.model_files import load_model
from deep_audio.predict import classify_file, classify_files

onnx = pytest.importorskip("onnx", reason="export needs onnx (pip install -e '.[export]')")
onnxruntime = pytest.importorskip("onnxruntime",
                                  reason="export needs onnxruntime (pip install -e '.[export]')")
pytest.importorskip("onnxscript", reason="export needs onnxscript (pip install -e '.[export]')")

POSTERIOR_ATOL = 1e-4  # stated tolerance of exported posteriors (see the docs)


@pytest.fixture(scope="module")
def model(trained):
    return load_model(trained.model_path)


@pytest.fixture(scope="module")
def onnx_path(model, tmp_path_factory):
    return to_onnx(model, tmp_path_factory.mktemp("export") / "small.onnx")


@pytest.mark.slow
def test_onnx_holds_the_front_end_metadata_and_matches_pytorch(model, onnx_path):
    stored = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert json.loads(stored["deep_audio.class_names"]) == ["low", "high", "noise"]
    assert stored["deep_audio.input"] == "waveform"
    assert int(stored["deep_audio.segment_samples"]) == model.segment_samples == 4000
    assert json.loads(stored["deep_audio.config"])["front_end"]["sample_rate"] == 8000

    result = verify(model, onnx_path)
    assert result.max_logit_difference <= LOGIT_ATOL
    assert result.max_posterior_difference <= POSTERIOR_ATOL and result.same_decisions

    session = onnxruntime.InferenceSession(str(onnx_path))
    for batch in (1, 5):  # the batch axis is dynamic
        waveform = np.random.default_rng(batch).standard_normal(
            (batch, model.segment_samples)).astype(np.float32) * 0.1
        (logits,) = session.run(None, {"waveform": waveform})
        expected = model(torch.from_numpy(waveform)).detach().numpy()
        np.testing.assert_allclose(logits, expected, atol=LOGIT_ATOL)


@pytest.mark.slow
def test_verify_fails_when_the_export_differs(model, onnx_path):
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.head.linear_layer2[0].bias += 1.0
    with pytest.raises(ExportError, match="differs from PyTorch"):
        verify(changed, onnx_path)


def test_torchscript_matches_pytorch_and_keeps_metadata(model, tmp_path):
    path = to_torchscript(model, tmp_path / "small.torchscript.pt")
    assert verify(model, path).max_logit_difference <= 1e-5
    metadata = read_torchscript_metadata(path)
    assert json.loads(metadata["deep_audio.class_names"]) == model.class_names


@pytest.mark.slow
def test_onnx_classifier_agrees_with_pytorch_inference(model, onnx_path, dataset):
    from deep_audio.predict.onnx import OnnxClassifier

    files = [sorted(folder.iterdir())[0] for folder in dataset["test"]]
    runner = OnnxClassifier(onnx_path)
    for expected in classify_files(files, model):
        got = runner.classify_file(expected.path)
        assert got.class_name == expected.class_name
        np.testing.assert_allclose(got.posteriors, expected.posteriors, atol=POSTERIOR_ATOL)
        assert got.starts_seconds.tolist() == [s.start_seconds for s in expected.segments]
    with pytest.raises(ModelFileError, match="does not exist"):
        OnnxClassifier(onnx_path.with_name("missing.onnx"))


@pytest.mark.slow
def test_onnx_cli_runs_without_torch(onnx_path, dataset):
    files = [str(sorted(folder.iterdir())[0]) for folder in dataset["test"]]
    program = ("import sys; sys.modules['torch'] = None; "  # any torch import now fails
               "from deep_audio.bin import onnx_classify; "
               "code = onnx_classify.main(sys.argv[1:]); "
               "assert not any(m == 'torch' or m.startswith('torch.') "
               "for m, v in sys.modules.items() if v is not None); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", program, "-m", str(onnx_path), "-i", *files],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert rows[0][:3] == ["file", "class", "probability"]
    assert [row[1] for row in rows[1:]] == ["low", "high", "noise"]


def test_export_cli_writes_and_verifies(trained, tmp_path, capsys):
    code = export_model.main(["-m", str(trained.model_path), "-o", str(tmp_path / "out"),
                              "--format", "torchscript"])
    assert code == 0
    assert (tmp_path / "out.torchscript.pt").is_file()
    assert "max |logit difference|" in capsys.readouterr().out


@pytest.mark.slow
def test_torch_onnx_and_long_recording_paths_give_the_same_posteriors(model, onnx_path,
                                                                        dataset):
    from deep_audio.predict import segment_recording
    from deep_audio.predict.onnx import OnnxClassifier

    runner = OnnxClassifier(onnx_path)
    assert runner.plan == model.plan  # one segment plan, from the config or the export
    path = sorted(dataset["test"][0].iterdir())[0]  # 1.2 s: a tail segment, short blocks
    (torch_result,) = classify_files([path], model)
    (onnx_result,) = classify_files([path], runner)
    long_runs = [segment_recording(path, predictor, read_block_seconds=0.3,
                                   smoothing_segments=1) for predictor in (model, runner)]
    for result in (onnx_result, *long_runs):
        np.testing.assert_array_equal(result.starts_seconds, torch_result.starts_seconds)
        np.testing.assert_allclose(result.ends_seconds, torch_result.ends_seconds)
    for rows in (onnx_result.segment_posteriors, *(run.posteriors for run in long_runs)):
        np.testing.assert_allclose(rows, torch_result.segment_posteriors, atol=POSTERIOR_ATOL)
    np.testing.assert_allclose(onnx_result.posteriors, torch_result.posteriors,
                               atol=POSTERIOR_ATOL)
    assert onnx_result.class_name == torch_result.class_name
    # The seed's call takes the ONNX file as it takes a model file.
    winner, posteriors, classes = classify_file(path, onnx_path)
    assert classes[winner] == torch_result.class_name


@pytest.mark.slow
def test_onnx_refuses_a_file_too_short_as_torch_does(model, onnx_path, tmp_path):
    import soundfile

    from deep_audio.errors import AudioError
    from deep_audio.predict.onnx import OnnxClassifier

    rate = model.plan.sample_rate
    short = tmp_path / "5ms.wav"
    soundfile.write(short, np.zeros(int(0.005 * rate), np.float32), rate)
    assert model.plan.min_seconds > 0.005
    messages = []
    for predictor in (model, OnnxClassifier(onnx_path)):
        with pytest.raises(AudioError, match="shorter than the minimum") as refused:
            next(classify_files([short], predictor))
        messages.append(str(refused.value))
    assert messages[0] == messages[1]


@pytest.mark.slow
def test_onnx_cli_prints_what_basic_test_prints(trained, onnx_path, dataset, capsys):
    from deep_audio.bin import basic_test, onnx_classify

    files = [str(sorted(folder.iterdir())[0]) for folder in dataset["test"]]
    outputs = []
    for command, model_file in ((basic_test, trained.model_path), (onnx_classify, onnx_path)):
        assert command.main(["-m", str(model_file), "-i", *files, "--segments"]) == 0
        lines = capsys.readouterr().out.splitlines()
        # Start, end and class of each row; "# path: class", without the probability.
        outputs.append([line.rsplit(" ", 1)[0] if line.startswith("# ")
                        else line.split("\t")[:3] for line in lines])
    assert outputs[0] == outputs[1]
