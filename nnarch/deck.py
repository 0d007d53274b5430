"""Assemble: one lecture's frames, in order, as finished markup for Beamer and for HTML."""

from __future__ import annotations

from .discover import LectureSource
from .errors import rel
from .render import Context, Html, Tex, frame_view
from .topic import Course


def assemble(lecture: LectureSource, course: Course, built: list) -> dict:
    """The template variables of both targets, plus the frame titles by index for LaTeX errors."""
    lec = lecture.lecture
    overview = {"topics": {src.name: measured.results for src, measured, _ in built}}
    init = lecture.path / "__init__.py"
    parts = [(None, lec.intro, Context(rel(init), overview, {}, course))]
    for source, measured, figures in built:
        ctx = Context(rel(source.path), measured.results, figures, course)
        parts.append((source.topic.title, source.topic.frames, ctx))
    parts.append((None, lec.summary, Context(rel(init), overview, {}, course)))

    titles, decks = {}, {}
    for target in (Tex(), Html()):
        sections, index = [], 0
        for title, frames, ctx in parts:
            views = []
            for frame in frames:
                index += 1
                view = frame_view(frame, ctx, target)
                view["index"] = index
                titles[index] = f"'{frame.title}' ({ctx.where})"
                views.append(view)
            sections.append({"title": title, "frames": views})
        decks[target.name] = {"title": lec.title, "subtitle": lec.subtitle, "course": course.title,
                              "day": lec.day, "session": lec.session, "sections": sections}
    return {"tex": decks["tex"], "html": decks["html"], "titles": titles}
