"""The built PDF, read back with pdftotext, holds the FFNN model's real numbers (frame titles: test_deck)."""

from __future__ import annotations

import json
import re
import subprocess

import torch

from nnarch.run.train import build_model
from nnarch.source.discover import discover
from nnarch.source.load import load_topic
from nnarch.source.values import format_value

from .conftest import LECTURES


def pdf_text(pdf) -> str:
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"[ \t]+", " ", text)


def topic_of_ffnn():
    sources = {s.name: s for lec in discover(LECTURES).lectures for s in lec.topics}
    return load_topic(sources["ffnn"])[0]


def ffnn_model():
    sources = {s.name: s for lec in discover(LECTURES).lectures for s in lec.topics}
    return build_model(topic_of_ffnn(), sources["ffnn"].path)


def test_pdf_parameter_count_equals_the_models(lecture_out):
    model = ffnn_model()
    total = sum(p.numel() for p in model.parameters())
    by_formula = sum(
        m.in_features * m.out_features + m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)
    )
    assert total == by_formula
    text = pdf_text(lecture_out / "slides.pdf")
    capacity = text[text.find("Model Capacity and Trainable Parameters") : text.find("Why Depth Matters")]
    assert re.search(
        rf"\(1·16\+16\)\+\(16·16\+16\)\+\(16·1\+1\) = {total}\b", capacity.replace(" ", "").replace("=", " = ")
    )
    assert re.search(rf"total\b.*\b{total}\b", capacity, re.S)
    assert "337" not in text  # the source lecture's miscount must not reappear


def test_report_records_what_the_slides_show(lecture_out):
    report = json.loads((lecture_out / "report.json").read_text())
    ffnn = report["topics"]["ffnn"]
    assert ffnn["status"] == "trained"
    assert ffnn["params"]["total"] == sum(p.numel() for p in ffnn_model().parameters())
    assert all(claim["ok"] for claim in ffnn["claims"]) and len(ffnn["claims"]) == len(topic_of_ffnn().claims)
    assert all(claim["runs"] == len(ffnn["seeds"]["runs"]) == 5 for claim in ffnn["claims"])
    assert ffnn["history"]["final_train"] < ffnn["history"]["train"][0]
    text = pdf_text(lecture_out / "slides.pdf")
    assert format_value(ffnn["metrics"]["test_mse"]) in text
    assert format_value(ffnn["seeds"]["median"]["metrics"]["test_mse"]) in text


def test_published_files_are_complete(lecture_out):
    for name in ("slides.pdf", "instructor/slides.tex", "slides.html", "report.json"):
        assert (lecture_out / name).stat().st_size > 0
    assert (lecture_out / "slides.pdf").read_bytes().rstrip().endswith(b"%%EOF")
    assert not list(lecture_out.glob("*.tmp")) and not list(lecture_out.glob(".*.tmp"))


def test_columns_below_a_table_start_clear_of_its_last_rule(lecture_out):
    """Beamer's [T] columns set their first line 1 ex above their top: right after a table (the
    Chapter Summary, the last frame) their headings ran into the table's bottom rule."""
    pdf = str(lecture_out / "slides.pdf")
    info = subprocess.run(["pdfinfo", pdf], check=True, capture_output=True, text=True).stdout
    last = re.search(r"Pages:\s+(\d+)", info)[1]
    boxes = subprocess.run(
        ["pdftotext", "-f", last, "-l", last, "-bbox", pdf, "-"], check=True, capture_output=True, text=True
    ).stdout
    words = {
        m[3]: (float(m[1]), float(m[2]))  # word: (top, bottom), in pt from the page's top
        for m in re.finditer(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]+)</word>', boxes)
    }
    last_row = max(words[w][1] for w in ("LSTM", "gated", "memory", "anomaly", "detection"))
    assert words["Inductive"][0] - last_row >= 10, (last_row, words["Inductive"])
