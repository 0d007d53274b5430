"""Assemble: one lecture's frames, in order, as finished markup for Beamer and for HTML."""

from __future__ import annotations

from typing import Any

from nnarch.documents.presenting import notes_text
from nnarch.documents.render import Context, Html, Tex, frame_view
from nnarch.escape import UnmappableCharacter, tex_escape
from nnarch.source import markdown as md
from nnarch.source.discover import LectureSource, slot_minutes
from nnarch.topic import Course


def assemble(
    lecture: LectureSource, course: Course, runs: list, targets=("tex", "html"), failed: dict | None = None
) -> dict:
    """The template variables of each target, plus the frame titles by index for LaTeX errors.
    `failed`: the error of each topic that did not build, shown on a frame of its own (a preview)."""
    lec = lecture.lecture
    numbered = number_frames(parts(lecture, course, runs, failed))
    titles: dict[int, tuple[str, str]] = {}
    pages: dict[int, Any] = {}
    decks: dict[str, Any] = {}
    slot = slot_minutes(lec.session)
    paced = pace(numbered, slot)
    for target in [t for t in (Tex(), Html()) if t.name in targets]:
        sections, outline, index, page = [], [], 0, 2  # the title page and the outline come first
        paces = iter(paced)
        for title, frames, ctx in numbered:
            views = []
            if title:
                page += 1  # the section's divider
                pages[page] = (f"{title} (section divider)", ctx.where(1))
                outline.append({"title": title, "page": page})
            for number, frame in frames:
                index += 1
                view = frame_view(frame, ctx, target)
                view["index"], view["number"], view["pace"] = index, number, next(paces)
                notes = notes_text(frame.notes, ctx) if target.name == "tex" else ""  # .pdfpc
                view["notes_text"] = "\n\n".join(filter(None, [view["pace"], notes]))
                titles[index] = (frame.plain_title, ctx.where(frame.line))
                for _ in range(view["steps"]):  # a page per step
                    page += 1
                    pages[page] = titles[index]
                views.append(view)
            sections.append({"title": title, "frames": views})
        # the number of frames and the outline's pages, for a first pass (latex.py)
        decks[target.name] = {
            "title": lec.title,
            "subtitle": lec.subtitle,
            "course": course.title,
            "day": lec.day,
            "session": lec.session,
            "slot": slot,
            "sections": sections,
            "frames": frame_count(numbered),
            "outline": outline,
            "preamble": "slides",
        }
    return {**decks, "titles": titles, "pages": pages}


def parts(lecture: LectureSource, course: Course, runs: list, failed: dict | None = None) -> list:
    """(section title or None, frames, context) of each part of the deck, in order: the lecture's
    opening frames, each topic's (a failed one's as a frame saying so), the closing ones."""
    lec, doc = lecture.lecture, lecture.doc
    overview = {"topics": {run.name: run.results for run in runs}}
    split = len(doc.frames) if doc.topics_at is None else doc.topics_at
    found: list[tuple[str | None, tuple[Any, ...], Context]] = [
        (None, doc.frames[:split], Context(doc, overview, {}, course, lecture=lec))
    ]
    by_name, sources = {run.name: run for run in runs}, {s.name: s for s in lecture.topics}
    for name in lec.topics:
        if name in by_name:
            run = by_name[name]
            found.append((run.source.title, run.source.doc.frames, _topic_context(run, course)))
        elif name in (failed or {}):
            heading = sources[name].title if name in sources else name
            found.append((heading, (failure_frame(name, (failed or {})[name]),), Context(None, {}, {}, course)))
    if doc.frames[split:]:
        found.append(("Summary", doc.frames[split:], Context(doc, overview, {}, course, lecture=lec)))
    return found


def number_frames(found: list) -> list:
    """The parts with each frame's number as the deck shows it: the title page is 1, the outline 2,
    and a section's divider is a frame of its own."""
    numbered, count = [], 2
    for title, frames, ctx in found:
        count += 1 if title else 0
        numbered.append((title, [(count + i, frame) for i, frame in enumerate(frames, start=1)], ctx))
        count += len(frames)
    return numbered


def pace(numbered: list, slot: int | None) -> list[str]:
    """For the presenter, each frame's minutes and the time it should end at ('2 min, ends at 28:30
    of 60:00'); '' for every frame when some frame declares no minutes."""
    frames = [frame for _, part, _ in numbered for _, frame in part]
    if any(frame.minutes is None for frame in frames):
        return [""] * len(frames)

    def clock(minutes: float) -> str:
        seconds = round(minutes * 60)
        return f"{seconds // 60}:{seconds % 60:02d}"

    paces, elapsed, of = [], 0.0, f" of {clock(slot)}" if slot else ""
    for frame in frames:
        elapsed += frame.minutes
        paces.append(f"{frame.minutes:g} min, ends at {clock(elapsed)}{of}")
    return paces


def frame_count(numbered: list) -> int:
    return 2 + sum(bool(title) + len(frames) for title, frames, _ in numbered)


def _topic_context(run, course: Course) -> Context:
    return Context(run.source.doc, run.results, run.figures, course, run.source.outline)


def render_topic(run, course: Course) -> None:
    """Render a topic's own frames for every target, to find a value its run does not have."""
    ctx = _topic_context(run, course)
    for target in (Tex(), Html()):
        for frame in run.source.doc.frames:
            frame_view(frame, ctx, target)


def failure_frame(name: str, error: Exception) -> md.Frame:
    """A frame in place of a topic that failed: what went wrong, in the words of its error."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    shown = [_plain_code(line) for line in lines[:5]] + (["…"] if len(lines) > 5 else [])
    title = f"NOT BUILT: topic '{name}' failed"
    return md.Frame(
        ((("strong", (("text", title),)),)),
        title,
        (
            md.Para(
                (
                    ("strong", (("text", "This preview is not a release."),)),
                    ("text", " Fix the error below and build again; the last release is unchanged."),
                ),
                1,
            ),
            *(md.Para((("code", line),), 1) for line in shown),
        ),
        1,
    )


def _plain_code(line: str) -> str:
    """A line of an error message as code on a slide: cut short, a long path as its last two parts
    (a path has nowhere to break), every character settable."""
    line = " ".join(
        "…/" + "/".join(word.split("/")[-2:]) if len(word) > 40 and word.count("/") > 2 else word
        for word in line.split(" ")
    )
    line = line if len(line) <= 300 else line[:300] + " …"
    return "".join(ch if _settable(ch) else "?" for ch in line).replace("{{", "{ {")


def _settable(ch: str) -> bool:
    try:
        tex_escape(ch, code=True)
        return True
    except UnmappableCharacter:
        return False
