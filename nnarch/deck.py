"""Assemble: one lecture's frames, in order, as finished markup for Beamer and for HTML."""

from __future__ import annotations

from .discover import LectureSource
from .render import Context, Html, Tex, frame_view
from .topic import Course


def assemble(lecture: LectureSource, course: Course, runs: list, targets=("tex", "html")) -> dict:
    """The template variables of each target, plus the frame titles by index for LaTeX errors."""
    lec, doc = lecture.lecture, lecture.doc
    overview = {"topics": {run.name: run.results for run in runs}}
    split = len(doc.frames) if doc.topics_at is None else doc.topics_at
    parts = [(None, doc.frames[:split], Context(doc, overview, {}, course, lecture=lec))]
    for run in runs:
        ctx = Context(run.source.doc, run.results, run.figures, course, run.source.outline)
        parts.append((run.source.title, run.source.doc.frames, ctx))
    if doc.frames[split:]:
        parts.append(("Summary", doc.frames[split:], Context(doc, overview, {}, course, lecture=lec)))

    titles, pages, decks = {}, {}, {}
    for target in [t for t in (Tex(), Html()) if t.name in targets]:
        sections, outline, index, page = [], [], 0, 2  # the title page and the outline come first
        for title, frames, ctx in parts:
            views = []
            if title:
                page += 1  # the section's divider
                pages[page] = (f"{title} (section divider)", ctx.where(1))
                outline.append({"title": title, "page": page})
            for frame in frames:
                index += 1
                view = frame_view(frame, ctx, target)
                view["index"] = index
                titles[index] = (frame.plain_title, ctx.where(frame.line))
                page += 1
                pages[page] = titles[index]
                views.append(view)
            sections.append({"title": title, "frames": views})
        # one frame, one page: the number of frames and the outline's pages, for a first pass (latex.py)
        decks[target.name] = {"title": lec.title, "subtitle": lec.subtitle, "course": course.title,
                              "day": lec.day, "session": lec.session, "sections": sections,
                              "frames": page, "outline": outline}
    return {**decks, "titles": titles, "pages": pages}
