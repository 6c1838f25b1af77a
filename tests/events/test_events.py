"""Sound events from multi-label posteriors, annotation files, sed_eval and PSDS scores."""

import numpy as np
import pytest

from deep_audio.errors import AnnotationError, DeepAudioError
from deep_audio.events import (
    Event,
    Region,
    SegmentScores,
    as_events,
    detect_events,
    evaluate_events,
    label_indices,
    make_regions,
    owned_bounds,
    read_annotation,
    write_annotation,
)

CLASSES = ["dog", "siren"]


def frames(n: int, hop_seconds: float = 0.5):
    starts = np.arange(n) * hop_seconds
    return starts, starts + hop_seconds


def spans(events):
    return [(e.onset_seconds, e.offset_seconds, e.label) for e in events]


# ------------------------------------------------------------------------- detection


def test_median_filter_removes_a_one_segment_blip_but_keeps_a_long_event():
    starts, ends = frames(20)
    p = np.zeros((20, 1))
    p[3, 0] = 0.9            # a blip: one 0.5 s frame
    p[10:16, 0] = 0.9        # an event: 3 s
    p[12, 0] = 0.1           # with a one-frame dropout inside
    raw = detect_events(starts, ends, p, ["dog"], thresholds=0.5)
    assert spans(raw) == [(1.5, 2.0, "dog"), (5.0, 6.0, "dog"), (6.5, 8.0, "dog")]
    filtered = detect_events(starts, ends, p, ["dog"], thresholds=0.5,
                             median_filter_seconds=1.5)  # 3 frames
    assert spans(filtered) == [(5.0, 8.0, "dog")]
    # confidence: time-weighted mean of the unfiltered posterior over the event
    assert filtered[0].confidence == pytest.approx((5 * 0.9 + 0.1) / 6)


def test_median_filter_length_per_class():
    starts, ends = frames(10)
    p = np.zeros((10, 2))
    p[4, :] = 0.9
    events = detect_events(starts, ends, p, CLASSES, median_filter_seconds=[1.5, 0.0])
    assert spans(events) == [(2.0, 2.5, "siren")]


def test_min_duration_drops_short_events_after_gap_merging():
    starts, ends = frames(20)
    p = np.zeros((20, 1))
    p[2:4, 0] = 0.8          # 1.0 s
    p[8:10, 0] = 0.8         # 1.0 s, then a 0.5 s gap
    p[11:13, 0] = 0.8        # 1.0 s
    p[16:17, 0] = 0.8        # 0.5 s, alone
    events = detect_events(starts, ends, p, ["dog"], min_duration_seconds=1.0)
    assert spans(events) == [(1.0, 2.0, "dog"), (4.0, 5.0, "dog"), (5.5, 6.5, "dog")]
    events = detect_events(starts, ends, p, ["dog"], min_duration_seconds=1.5,
                           min_gap_seconds=0.6)
    assert spans(events) == [(4.0, 6.5, "dog")]  # merged to 2.5 s; the rest too short


def test_gap_merging_joins_only_gaps_shorter_than_the_limit():
    starts, ends = frames(12)
    p = np.zeros((12, 1))
    p[0:2, 0] = p[3:5, 0] = p[8:10, 0] = 0.9  # gaps of 0.5 s and 1.5 s
    events = detect_events(starts, ends, p, ["dog"], min_gap_seconds=1.0)
    assert spans(events) == [(0.0, 2.5, "dog"), (4.0, 5.0, "dog")]


def test_per_class_thresholds():
    starts, ends = frames(6)
    p = np.array([[0.0, 0.0], [0.6, 0.6], [0.6, 0.6], [0.3, 0.3], [0.0, 0.0], [0, 0]])
    events = detect_events(starts, ends, p, CLASSES, thresholds=[0.5, 0.25])
    assert spans(events) == [(0.5, 1.5, "dog"), (0.5, 2.0, "siren")]
    assert detect_events(starts, ends, p, CLASSES, thresholds=np.array([0.7, 0.7])) == []


def test_overlapping_segments_own_the_time_between_centres():
    starts = np.arange(0.0, 5.0, 0.5)  # 1 s windows, 0.5 s hop
    ends = starts + 1.0
    p = np.zeros((10, 1))
    p[4:6, 0] = 1.0                    # windows [2, 3] and [2.5, 3.5]
    bounds = owned_bounds(starts, ends)
    assert bounds[0] == 0.0 and bounds[-1] == 5.5
    assert spans(detect_events(starts, ends, p, ["dog"])) == [(2.25, 3.25, "dog")]


def test_bad_settings_name_the_value():
    starts, ends = frames(4)
    with pytest.raises(DeepAudioError, match="thresholds"):
        detect_events(starts, ends, np.zeros((4, 2)), CLASSES, thresholds=[0.5, 0.5, 0.5])
    with pytest.raises(DeepAudioError, match="min_gap_seconds"):
        detect_events(starts, ends, np.zeros((4, 2)), CLASSES, min_gap_seconds=-1)
    with pytest.raises(DeepAudioError, match="class names"):
        detect_events(starts, ends, np.zeros((4, 2)), ["dog"])


# ------------------------------------------------------------------ annotation files


def test_one_reader_reads_audacity_dcase_csv_and_plain_text(tmp_path):
    audacity = tmp_path / "labels.txt"  # Audacity's export: no header, spectral lines
    audacity.write_text("0.000000\t1.500000\tdog\n\\\t120.5\t4000.0\n"
                        "2.000000\t4.250000\tcar horn\n")
    assert spans(read_annotation(audacity)) == [(0.0, 1.5, "dog"), (2.0, 4.25, "car horn")]
    dcase = tmp_path / "meta.tsv"
    dcase.write_text("filename\tonset\toffset\tevent_label\na.wav\t1\t2\tdog\nb.wav\n")
    assert read_annotation(dcase) == [Event(1.0, 2.0, "dog", filename="a.wav")]
    table = tmp_path / "regions.csv"  # columns in any order and case, a byte-order mark
    table.write_text("\ufeffLabel,Start_Seconds,End_Seconds,Confidence\n"
                     '"low, hum",0.5,1.5,0.8\n', encoding="utf-8")
    assert read_annotation(table) == [Event(0.5, 1.5, "low, hum", 0.8)]
    plain = tmp_path / "plain.txt"
    plain.write_text("# onset offset label\n0.5 1.5 bass drum\n")
    assert spans(read_annotation(plain)) == [(0.5, 1.5, "bass drum")]
    assert read_annotation(write_annotation(tmp_path / "none.tsv", [])) == []


@pytest.mark.parametrize("name, text, line", [
    ("labels.txt", "0.0\t1.0\tdog\n\\\t100\t200\n1.0\t0.5\tdog\n", 3),
    ("regions.csv", "start_seconds,end_seconds,label\n# a comment\n\n0,1,a\n1,b,a\n", 5),
    ("meta.tsv", "filename\tonset\toffset\tevent_label\na.wav\t1\n", 2),
])
def test_a_bad_line_is_reported_with_its_number(tmp_path, name, text, line):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AnnotationError, match=rf"'{path}' line {line}: "):
        read_annotation(path)


@pytest.mark.parametrize("format", ["dcase", "csv", "audacity"])
def test_regions_round_trip_through_the_writer_and_the_reader(tmp_path, format):
    starts = np.arange(8) * 0.5
    p = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] * 4 + [[0.7, 0.3]])
    regions = make_regions(starts, starts + 1.0, p, ["low", "high"])
    assert [r.label for r in regions] == ["low", "high", "low"]
    confidence = format != "audacity"  # a label track holds none
    path = write_annotation(tmp_path / f"regions.{format}", regions, format=format,
                            with_confidence=confidence)
    read = read_annotation(path)
    assert spans(read) == spans(regions)
    expected = [r.confidence if confidence else 1.0 for r in regions]
    assert [e.confidence for e in read] == pytest.approx(expected, abs=1e-4)
    if format == "audacity":
        with pytest.raises(AnnotationError, match="no filename or confidence"):
            write_annotation(path, regions, format=format, with_confidence=True)


def test_regions_and_events_share_one_ownership_rule():
    starts = np.arange(0.0, 5.0, 0.5)  # 1 s windows, 0.5 s hop: each overlaps the next
    ends = starts + 1.0
    bounds = owned_bounds(starts, ends)
    # a segment owns from halfway after the previous centre to halfway before the next
    assert bounds.tolist() == [0.0, *(starts[1:] + 0.25).tolist(), 5.5]
    loud = np.zeros(10)
    loud[4:7] = 1.0                    # windows [2, 3] to [3, 4]
    (event,) = detect_events(starts, ends, loud[:, None], ["loud"])
    regions = make_regions(starts, ends, np.stack([1 - loud, loud], axis=1),
                           ["quiet", "loud"])
    assert spans(regions) == [(0.0, 2.25, "quiet"), (2.25, 3.75, "loud"), (3.75, 5.5, "quiet")]
    assert (event.onset_seconds, event.offset_seconds) == (bounds[4], bounds[7]) == (2.25, 3.75)
    with pytest.raises(DeepAudioError, match="time order"):
        owned_bounds(starts[::-1], ends[::-1])


def test_one_span_type_checks_itself():
    assert Region is Event
    with pytest.raises(DeepAudioError, match="ends before it starts"):
        Event(2.0, 1.0, "dog")
    with pytest.raises(DeepAudioError, match="onset=-1.0 must be >= 0"):
        Event(-1, 1, "dog")
    with pytest.raises(DeepAudioError, match=r"truth: \(1, 1, 'dog'\): .*has no length"):
        as_events([(1, 1, "dog")], "truth")
    assert as_events([(0, 1, "dog")]) == [Event(0.0, 1.0, "dog")]
    covered = label_indices(as_events([(0, 4, "dog"), (1, 2, "siren")]),
                            np.array([0.5, 1.5, 2.5, 4.5]), CLASSES)
    assert covered.tolist() == [0, 1, 0, -1]  # the later span wins where two overlap



def test_write_then_read_round_trip(tmp_path):
    events = [Event(0.5, 1.25, "dog", 0.8), Event(2.0, 3.0, "siren", 0.6)]
    path = write_annotation(tmp_path / "e.tsv", events, with_confidence=True)
    assert path.read_text().splitlines()[0] == "onset\toffset\tevent_label\tconfidence"
    assert read_annotation(path) == events
    named = [Event(0.5, 1.25, "dog", filename="a.wav")]
    assert read_annotation(write_annotation(tmp_path / "n.tsv", named)) == named


def test_read_dcase_formats(tmp_path):
    plain = tmp_path / "plain.tsv"
    plain.write_text("# a comment\n0.5\t1.5\tdog\n\n2\t4.25\tcar horn\n")
    assert spans(read_annotation(plain)) == [(0.5, 1.5, "dog"), (2.0, 4.25, "car horn")]
    named = tmp_path / "named.csv"
    named.write_text("filename,event_label,onset,offset\na.wav,dog,1,2\nb.wav,,,\n"
                     "c.wav,siren,0,3\n")
    events = read_annotation(named)
    assert [(e.filename, e.label, e.onset_seconds) for e in events] == [
        ("a.wav", "dog", 1.0), ("c.wav", "siren", 0.0)]
    four = tmp_path / "four.tsv"
    four.write_text("a.wav\t1\t2\tdog\nb.wav\n")
    assert [(e.filename, e.label) for e in read_annotation(four)] == [("a.wav", "dog")]
    spaces = tmp_path / "spaces.txt"
    spaces.write_text("start end label\n0.5 1.5 bass drum\n")
    assert spans(read_annotation(spaces)) == [(0.5, 1.5, "bass drum")]


@pytest.mark.parametrize("text, message", [
    ("0.5\t1.5\tdog\n1.0\tlater\tdog\n", "line 2: offset 'later' is not a number"),
    ("0.5\t1.5\tdog\n\n3.0\t2.0\tdog\n", "line 3: onset=3.0 and offset=2.0"),
    ("0.5\t1.5\n", "line 1: expected 'onset offset label'"),
    ("onset\toffset\tevent_label\n1\t2\t\n", "line 2: empty label"),
    ("start\tend\n1\t2\n", "line 1: header .* has no label column"),
    ("0.5 1.5\n", "line 1: expected 'onset offset label'"),
    ("onset\tstop\tlabel\n1\t2\tdog\n", "line 1: header .* has no offset column"),
])
def test_annotation_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=message) as error:
        read_annotation(path)
    assert "bad.tsv" in str(error.value)


def test_missing_annotation_names_the_file(tmp_path):
    with pytest.raises(AnnotationError, match="nowhere.tsv"):
        read_annotation(tmp_path / "nowhere.tsv")


# ------------------------------------------------------------------------- scoring

REFERENCE = {
    "a": [Event(1.0, 3.0, "dog"), Event(2.0, 6.0, "siren"), Event(12.0, 13.5, "dog")],
    "b": [Event(0.5, 2.5, "siren"), Event(8.0, 11.0, "dog")],
}
DURATIONS = {"a": 20.0, "b": 20.0}


def test_sed_eval_perfect_prediction():
    scores = evaluate_events(REFERENCE, REFERENCE, class_names=CLASSES,
                             durations_seconds=DURATIONS)
    assert scores.segment_f1 == pytest.approx(1.0)
    assert scores.segment_error_rate == pytest.approx(0.0)
    assert scores.event_f1 == pytest.approx(1.0)
    assert scores.event_error_rate == pytest.approx(0.0)
    assert scores.event_class_f1 == {"dog": pytest.approx(1.0), "siren": pytest.approx(1.0)}
    assert "F1 1.000" in scores.format()


def test_sed_eval_empty_prediction():
    scores = evaluate_events(REFERENCE, {}, class_names=CLASSES, durations_seconds=DURATIONS)
    assert scores.segment_f1 == 0.0 and scores.event_f1 == 0.0
    assert scores.event_error_rate == pytest.approx(1.0)  # all deletions
    assert scores.n_estimated_events == 0 and scores.n_reference_events == 5


def test_event_based_collars():
    # onset 0.15 s late is inside the 0.2 s collar; 0.3 s is not
    near = {"a": [Event(1.15, 3.0, "dog")]}
    far = {"a": [Event(1.3, 3.0, "dog")]}
    ref = {"a": [Event(1.0, 3.0, "dog")]}
    assert evaluate_events(ref, near, class_names=CLASSES).event_f1 == pytest.approx(1.0)
    assert evaluate_events(ref, far, class_names=CLASSES).event_f1 == 0.0
    assert evaluate_events(ref, far, class_names=CLASSES,
                           t_collar_seconds=0.5).event_f1 == pytest.approx(1.0)


def test_unknown_labels_are_refused():
    with pytest.raises(DeepAudioError, match="cat"):
        evaluate_events({"a": [Event(0, 1, "cat")]}, {}, class_names=CLASSES)


def _track(events, duration_seconds, hop_seconds=0.25):
    starts, ends = frames(int(duration_seconds / hop_seconds), hop_seconds)
    centres = (starts + ends) / 2
    posteriors = np.zeros((len(starts), len(CLASSES)))
    for e in events:
        inside = (centres > e.onset_seconds) & (centres < e.offset_seconds)
        posteriors[inside, CLASSES.index(e.label)] = 1.0
    return SegmentScores(starts, ends, posteriors)


def test_psds_of_perfect_scores_is_near_one_and_of_random_scores_low():
    # long recordings: in short clips dense events make a whole-clip detection count as
    # a hit under scenario 2 (detection tolerance 0.1), so random scores would score high
    durations = {"a": 200.0, "b": 200.0}
    perfect = {name: _track(events, durations[name]) for name, events in REFERENCE.items()}
    scores = evaluate_events(REFERENCE, REFERENCE, class_names=CLASSES,
                             durations_seconds=durations, scores=perfect)
    assert scores.psds["psds1"] > 0.95 and scores.psds["psds2"] > 0.95
    rng = np.random.default_rng(0)
    noise = {name: SegmentScores(t.starts_seconds, t.ends_seconds,
                                 rng.random(t.posteriors.shape))
             for name, t in perfect.items()}
    random = evaluate_events(REFERENCE, {}, class_names=CLASSES,
                             durations_seconds=durations, scores=noise)
    assert random.psds["psds1"] < 0.1 and random.psds["psds2"] < 0.3
    assert "PSDS1" in random.format()
    # one class found perfectly, the other never: each class's own PSDS says which, and
    # the scenario's PSDS, a mean less the spread, falls below both classes' mean
    half = {name: SegmentScores(t.starts_seconds, t.ends_seconds,
                                np.stack([t.posteriors[:, 0], noise[name].posteriors[:, 1]],
                                         axis=1))
            for name, t in perfect.items()}
    mixed = evaluate_events(REFERENCE, {}, class_names=CLASSES, durations_seconds=durations,
                            scores=half)
    for scenario in ("psds1", "psds2"):
        dog, siren = (mixed.class_psds[scenario][c] for c in CLASSES)
        assert dog > 0.95 and siren < 0.5
        assert mixed.psds[scenario] < (dog + siren) / 2
    header, dog_row = mixed.format().splitlines()[-3:-1]
    assert header.split()[-2:] == ["PSDS1", "PSDS2"]
    assert dog_row.split()[0] == "dog" and float(dog_row.split()[-2]) > 0.95


def test_event_timeline_plot(tmp_path):
    from deep_audio.viz.timeline import plot_event_timeline

    starts, ends = frames(40)
    p = np.zeros((40, 2))
    p[4:12, 0] = p[8:20, 1] = 0.9
    events = detect_events(starts, ends, p, CLASSES)
    path = plot_event_timeline(starts, ends, p, CLASSES, tmp_path / "t.svg", events=events,
                               truth=[Event(2.0, 6.0, "dog")], thresholds=0.5)
    svg = path.read_text()
    assert "siren (t=0.50)" in svg and "annotated" in svg
    with pytest.raises(DeepAudioError, match="cat"):
        plot_event_timeline(starts, ends, p, CLASSES, tmp_path / "u.png",
                            events=[Event(0, 1, "cat")])
