"""The whole lecture: frames in the source's order, figures in both formats, numbers from the run."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from html.parser import HTMLParser

import pytest

from nnarch.run.train import build_model
from nnarch.source import markdown as md
from nnarch.source.discover import discover
from nnarch.source.values import VALUE_REF, fill

from .conftest import LECTURES, topic_of
from .test_lecture_pdf import pdf_text

# Every frame of the source lecture, in its order, then the chapter summary.
SOURCE_TITLES = [
    "Five-Day Schedule Overview",
    "Neural Network Architectures — Why Structure Matters",
    "Feed-Forward Neural Networks (FFNN)",
    "FFNN as a Mathematical Mapping",
    "Model Capacity and Trainable Parameters",
    "Why Depth Matters",
    "FFNN as a Function Approximator",
    "Computational Graph and Backpropagation",
    "Why Graph Neural Networks?",
    "Basic Graph Concepts",
    "Adjacency and edge_index",
    "GNN Architecture Principle",
    "GNN Application Example — Advection on a Periodic Grid",
    "GNN Results — Learning Advection Dynamics",
    "Why Convolutional Neural Networks?",
    "Convolution Instead of Full Connectivity",
    "Example Setup: Function Classification",
    "CNN Structure for Function Classification",
    "CNN Model Definition",
    "Training the CNN",
    "Prediction: Function Classification",
    "CNN Predictions on Test Data",
    "Why LSTMs for Time Series and Anomalies?",
    "LSTM Cell: Gated Memory Equations",
    "From LSTM States to Reconstruction Error",
    "LSTM Autoencoder for Anomaly Detection",
    "Coding the LSTM Autoencoder",
    "Detected Anomalies in Sensor Data",
    "Neural Network Architectures — Chapter Summary",
]

DISCOVERED = discover(LECTURES)
LECTURE = DISCOVERED.lectures[0]
SOURCES = {s.name: s for s in LECTURE.topics}


class _Text(HTMLParser):
    """Collects the frame titles (h2 of slides that are not the outline or a section divider) and
    the visible text of an HTML deck."""

    def __init__(self):
        super().__init__()
        self.h2, self.text, self._in_h2, self._skip, self._navigation = [], [], False, 0, False

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self._navigation = any(c in (dict(attrs).get("class") or "").split() for c in ("agenda", "divider"))
        self._in_h2 = self._in_h2 or (tag == "h2" and not self._navigation)
        self._skip += tag in ("script", "style", "math")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        self._skip -= tag in ("script", "style", "math")

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)
        if not self._skip:
            self.text.append(data)


def html_text(path):
    parser = _Text()
    parser.feed(path.read_text())
    return parser


def test_html_frame_titles_are_the_source_lectures_in_order(lecture_out):
    titles = html_text(lecture_out / "slides.html").h2
    assert [t for t in titles if t in SOURCE_TITLES] == SOURCE_TITLES


def test_pdf_frame_titles_are_the_source_lectures_in_order(lecture_out):
    layout = subprocess.run(
        ["pdftotext", "-layout", str(lecture_out / "slides.pdf"), "-"], check=True, capture_output=True, text=True
    ).stdout
    titles = [page.strip().splitlines()[0].strip() for page in layout.split("\f") if page.strip()]
    shown = [t for t in titles if t in SOURCE_TITLES]
    # a topic's divider page carries its title too, right before its first frame
    assert [t for i, t in enumerate(shown) if i == 0 or t != shown[i - 1]] == SOURCE_TITLES
    assert titles[1] == "Outline" and "Summary" in titles


def test_every_page_numbers_itself_out_of_the_total_and_the_outline_names_every_section(lecture_out):
    """The footline's "N / total" and the outline come from a single pass on a first build: nnarch
    gave them up front, and the pass checked them."""
    pages = [
        page
        for page in subprocess.run(
            ["pdftotext", str(lecture_out / "instructor" / "slides.pdf"), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split("\f")
        if page.strip()
    ]
    numbers = [re.findall(r"(\d+) ?/ ?(\d+)", page)[-1] for page in pages[1:]]  # the title page has none
    total = int(numbers[-1][1])
    assert {t for _, t in numbers} == {str(total)} and total < len(pages)  # a frame with steps has several pages
    frames = [int(n) for i, (n, _) in enumerate(numbers) if i == 0 or n != numbers[i - 1][0]]
    assert frames == list(range(2, total + 1))
    sections = [source.title for source in SOURCES.values()] + ["Summary"]
    assert " ".join(pages[1].split()) == " ".join(["Outline", *sections, f"2 / {total}"])
    log = (lecture_out.parent / ".work" / "nn_architectures" / "slides.log").read_text()
    assert "nnarch: one pass is enough" in log


def test_every_figure_exists_in_both_formats_and_is_referenced(lecture_out):
    tex = (lecture_out / "instructor" / "slides.tex").read_text()
    html = (lecture_out / "slides.html").read_text()
    declared = [(name, spec) for name, s in SOURCES.items() for spec in topic_of(s).figures]
    assert len(declared) >= 15
    for topic, spec in declared:
        stem = lecture_out / "figures" / f"{topic}-{spec.name}"
        assert stem.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
        assert b"<svg" in stem.with_suffix(".svg").read_bytes()
        assert f"figures/{stem.name}.pdf" in tex
        assert base64.b64encode(stem.with_suffix(".svg").read_bytes()).decode() in html
    assert tex.count("\\includegraphics{") == len(declared)  # at scale 1: drawn at their slot's size
    assert html.count("<img ") == len(declared)


def test_every_number_on_the_slides_is_the_one_in_the_report(lecture_out):
    report = json.loads((lecture_out / "report.json").read_text())["topics"]
    page = " ".join(html_text(lecture_out / "slides.html").text)
    checked = 0
    for name, source in SOURCES.items():
        for text in _shown_texts(source.doc.frames):
            for match in VALUE_REF.finditer(text):
                assert fill(match.group(0), report[name]) in page, (name, match.group(0))
                checked += 1
    assert checked >= 10  # the run values shown as text on topic slides


def _shown_texts(frames):
    """The text spans of frames (not math): where a value is shown as text."""

    def spans(items):
        for span in items:
            if span[0] in ("text", "code"):
                yield span[1]
            elif span[0] in ("em", "strong"):
                yield from spans(span[1])

    for frame in frames:
        for block in md.walk(frame.blocks):
            if isinstance(block, md.Para):
                yield from spans(block.spans)


@pytest.mark.parametrize("name, total", [("ffnn", 321), ("cnn", 208_132), ("lstm", 25_889)])
def test_parameter_counts_match_the_models_and_the_slides(lecture_out, name, total):
    report = json.loads((lecture_out / "report.json").read_text())["topics"][name]
    model = build_model(topic_of(SOURCES[name]), SOURCES[name].path)
    assert report["params"]["total"] == sum(p.numel() for p in model.parameters()) == total
    assert f"{total:,}" in pdf_text(lecture_out / "slides.pdf")


def test_cnn_shapes_follow_the_source_architecture(lecture_out):
    shapes = json.loads((lecture_out / "report.json").read_text())["topics"]["cnn"]["shapes"]
    chain = [shapes[0]["input"]] + [row["output"] for row in shapes[:2]] + [shapes[2]["input"], shapes[3]["output"]]
    assert chain == [["B", 1, 50], ["B", 16, 50], ["B", 32, 50], ["B", 1600], ["B", 4]]


def test_adjacency_and_edge_index_agree_on_the_slide(lecture_out):
    tex = (lecture_out / "instructor" / "slides.tex").read_text()
    matrices = re.findall(r"\\begin\{pmatrix\}(.*?)\\end\{pmatrix\}", tex)
    rows = lambda m: [[int(v) for v in r.split("&")] for r in m.split("\\\\")]  # noqa: E731
    adjacency, edge_index = rows(matrices[0]), rows(matrices[1])
    edges = {(a, b) for a, b in zip(*edge_index)}
    assert edges == {(i, j) for i in range(4) for j in range(4) if adjacency[i][j]}
    assert len(edge_index[0]) == sum(map(sum, adjacency))


def test_claims_hold_and_headline_numbers_meet_the_lecture(lecture_out):
    report = json.loads((lecture_out / "report.json").read_text())["topics"]
    assert all(c["ok"] for t in report.values() for c in t["claims"])
    assert report["cnn"]["metrics"]["test_accuracy"] >= 0.9
    assert report["cnn"]["metrics"]["test_accuracy"] < 1.0  # a few ambiguous cases must show
    assert report["lstm"]["metrics"]["roc_auc"] >= 0.95
    assert report["gnn"]["history"]["final_test"] < report["gnn"]["history"]["test"][0]
    summary = " ".join(pdf_text(lecture_out / "slides.pdf").split("Chapter Summary")[-1].split())
    assert f"{report['cnn']['metrics']['test_accuracy']:.1%}" in summary
    lstm = report["lstm"]["seeds"]["median"]["metrics"]
    assert f"ROC-AUC {lstm['roc_auc']:.3f}, spikes recalled {lstm['spike_recall']:.0%}" in summary
    assert "medians of 5 seeds" in summary
    assert min(run["metrics"]["roc_auc"] for run in report["lstm"]["seeds"]["runs"]) >= 0.95
