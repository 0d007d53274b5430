"""A topic run at several seeds: the spread in report.json and on the slides, claims at every seed,
each seed trained once and cached, and the check that names what a topic without seeds cannot show."""

from __future__ import annotations

import json
import statistics

from nnarch.build import Options, build

from .conftest import edit
from .test_cli import invoke

SEEDS = 'figures=[FigureSpec("loss", "loss_curve")],\n    seeds=range(3),'


def _line(lectures):
    return lectures / "tiny" / "line.py"


def test_a_topic_with_seeds_reports_their_spread_and_shows_it(fixture_lectures, tmp_path, trainings):
    edit(_line(fixture_lectures), 'figures=[FigureSpec("loss", "loss_curve")],', SEEDS)
    edit(fixture_lectures / "tiny" / "line.md", "- {{params.total}} parameters", "- loss {{history.final_test:spread}}")
    result = build(Options(fixture_lectures, tmp_path / "build", "cpu", jobs=0))
    assert result.ok, result.errors
    assert trainings["line"] == 3  # the recipe's seed (1) and seeds 0 and 2

    topic = json.loads((tmp_path / "build" / "tiny" / "report.json").read_text())["topics"]["line"]
    seeds = topic["seeds"]
    assert seeds["seeds"] == [1, 0, 2] and seeds["count"] == 3
    finals = [run["history"]["final_test"] for run in seeds["runs"]]
    assert finals[0] == topic["history"]["final_test"]  # the first run is the one the slides show
    assert len(set(finals)) == 3  # new data and weights at each seed
    assert seeds["median"]["history"]["final_test"] == statistics.median(finals)
    assert (seeds["min"]["history"]["final_test"], seeds["max"]["history"]["final_test"]) == (min(finals), max(finals))
    assert [c["held"] for c in topic["claims"]] == [3, 3] and all(c["runs"] == 3 for c in topic["claims"])

    html = (tmp_path / "build" / "tiny" / "slides.html").read_text()
    three = (statistics.median(finals), min(finals), max(finals))
    spec = ".2e" if min(three) < 0.01 else "#.3g"  # one format for the three, by the smallest
    shown = "{} ({} to {}, 3 seeds)".format(*(format(v, spec) for v in three))
    assert shown in html

    again = build(Options(fixture_lectures, tmp_path / "build", "cpu", jobs=0, force=("line",)))
    assert again.ok and trainings["line"] == 6  # forced: every seed again, none twice


def test_a_claim_must_hold_at_its_share_of_the_seeds(fixture_lectures, tmp_path):
    line = _line(fixture_lectures)
    edit(line, 'figures=[FigureSpec("loss", "loss_curve")],', SEEDS)
    build_dir = tmp_path / "build"
    assert build(Options(fixture_lectures, build_dir, "cpu", jobs=0)).ok
    topic = json.loads((build_dir / "tiny" / "report.json").read_text())["topics"]["line"]
    finals = sorted(run["history"]["final_train"] for run in topic["seeds"]["runs"])
    bound = (finals[0] + finals[1]) / 2  # below it at one seed of three only

    edit(
        line,
        'below("history.final_train", 10.0, "training loss below 10")',
        f"below('history.final_train', {bound!r}, 'tight')",
    )
    result = build(Options(fixture_lectures, build_dir, "cpu", jobs=0))
    assert not result.ok
    message = "\n".join(map(str, result.errors))
    assert "claim 'tight' is false" in message and "(it holds at 1 of 3 seeds)" in message

    edit(line, "'tight')", "'tight', share=0.3)")
    assert build(Options(fixture_lectures, build_dir, "cpu", jobs=0)).ok


def test_seeds_given_through_shared_arguments_count(fixture_lectures, tmp_path):
    """Topic(**common) with the seeds in `common`: check cannot see them, so it does not refuse a
    spread, and the build runs every seed (each a job of its own)."""
    edit(_line(fixture_lectures), "TOPIC = Topic(\n", "COMMON = {'seeds': range(3)}\n\nTOPIC = Topic(\n    **COMMON,\n")
    edit(fixture_lectures / "tiny" / "line.md", "- {{params.total}} parameters", "- {{history.final_test:spread}}")
    assert invoke("check", "--lectures", fixture_lectures).exit_code == 0
    assert build(Options(fixture_lectures, tmp_path / "b", "cpu", jobs=2)).ok
    assert "3 seeds)" in (tmp_path / "b" / "tiny" / "slides.html").read_text()


def test_check_refuses_a_spread_of_a_topic_without_seeds(fixture_lectures):
    edit(fixture_lectures / "tiny" / "line.md", "- {{params.total}} parameters", "- {{history.final_test:spread}}")
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert (
        "line.md:5: value 'seeds.median.history.final_test': the topic has no seeds; declare seeds=range(5)" in output
    )


def test_worker_processes_run_each_seed_as_a_job_with_the_same_numbers(fixture_lectures, tmp_path):
    edit(_line(fixture_lectures), 'figures=[FigureSpec("loss", "loss_curve")],', SEEDS)
    here = build(Options(fixture_lectures, tmp_path / "here", "cpu", jobs=0))
    workers = build(Options(fixture_lectures, tmp_path / "workers", "cpu", jobs=2))
    assert here.ok and workers.ok, (here.errors, workers.errors)
    reports = [json.loads((tmp_path / out / "tiny" / "report.json").read_text()) for out in ("here", "workers")]
    line = [r["topics"]["line"] for r in reports]
    assert line[0]["seeds"] == line[1]["seeds"] and line[1]["seeds"]["seeds"] == [1, 0, 2]
    assert line[0]["claims"] == line[1]["claims"]

    # a run that fails at one seed only fails its topic, with that run's error
    edit(
        _line(fixture_lectures),
        "    g = torch.Generator()",
        "    assert seed != 2, 'no data at seed 2'\n    g = torch.Generator()",
    )
    failed = build(Options(fixture_lectures, tmp_path / "workers", "cpu", jobs=2))
    assert not failed.ok
    assert "line.py" in str(failed.errors[0]) and "no data at seed 2" in str(failed.errors[0])
    assert [o.status for o in failed.outcomes if o.name == "line"] == ["failed"]
    assert all(o.seconds > 0 for o in failed.outcomes if o.name == "line")  # the failed run's time, not 0.0 s
