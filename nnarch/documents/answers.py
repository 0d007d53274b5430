"""Answers: how a lab notebook checks a student's answer without containing it.

The build runs each exercise's solution and keeps the answer (report.json, instructor edition).
The student notebook gets the answer's form ("a number", "a list of 40 numbers") and a digest of
the answer written at three significant digits. `check_answer` first says when the form is wrong,
then runs the topic's own check of the answer, then compares digests, allowing for rounding at the
third digit (a relative tolerance of 0.05 %). An answer of parts (a pair) has a digest per part,
so that a student hears which part is off. An answer that comes from training differs in its last
digits from one CPU to another, and some trainings amplify that: its exercise declares how much
(`:tolerance: 5%`, `:tolerance: 3x`). Its floats are then written by the step of that size they
fall in (steps of equal ratio), and one step either way is accepted: within the tolerance always
passes, beyond its square (10.25 % for 5 %, a factor of 9 for 3x) never.
The digests keep the answers from being read off the page; they do not resist a search: a number
at three significant digits has a few thousand possible values. The functions below are copied
into every notebook as they are, so they import nothing but the standard library.
"""

TOLERANCE = 5e-4  # relative: an answer within it of the build's is right, whichever way it rounds


def step_ratio(tolerance) -> float:
    """The ratio a tolerance allows: '5%' is 1.05, '3x' is 3."""
    number = float(tolerance[:-1])
    return 1 + number / 100 if tolerance.endswith("%") else number


def answer_key(value, tolerance=None) -> str:
    """An answer as text at three significant digits (integers exact), or, with a `tolerance`, each
    float as the step of that ratio it falls in ('~-7': the seventh step below 1): what is digested."""
    import math

    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(answer_key(v, tolerance) for v in value) + "]"
    if isinstance(value, float) and tolerance and value:
        return ("-" if value < 0 else "") + f"~{round(math.log(abs(value)) / math.log(step_ratio(tolerance)))}"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, float):
        return format(value, ".3g")
    return str(value)


def answer_form(value) -> str:
    """What kind of answer a value is, in words: 'a number', 'a list of 40 numbers', 'a pair of
    (a number, a number)'. A tensor or array counts as the list of its values."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bool):
        return "True or False"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, (list, tuple)):
        forms = [answer_form(v) for v in value]
        if forms and all(f == "a number" for f in forms) and len(forms) > 2:
            return f"a list of {len(forms)} numbers"
        if len(forms) == 1:
            return f"a list of one item ({forms[0]})"
        return f"{'a pair' if len(forms) == 2 else f'{len(forms)} values'} of ({', '.join(forms)})"
    return f"a {type(value).__name__}"


def check_answer(answer, digest, exercise, form, own=None, tolerance=None):
    """Raise unless `answer` is the build's answer to exercise number `exercise`, saying what is
    wrong: no answer yet, an answer of another form than `form`, one that the topic's own check
    (`own(answer)`) rejects, or another value; `tolerance`: its floats compared within it."""
    import hashlib

    if answer is None:
        raise NotImplementedError(f"Exercise {exercise}: fill in the function above, then run this cell")
    if answer_form(answer) != form:
        raise AssertionError(
            f"Exercise {exercise}: the answer should be {form}, but it is {answer_form(answer)}: "
            f"{answer_key(answer)}; read the question and the function's docstring again"
        )
    if own is not None:
        own(answer)

    def scaled(value, factor):
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            return [scaled(v, factor) for v in value]
        return value * factor if isinstance(value, float) else value

    def right(value, expected):  # either side of a rounding
        steps = [step_ratio(tolerance) ** s if tolerance else 1 + s * TOLERANCE for s in (-1, 0, 1)]
        keys = {answer_key(scaled(value, step), tolerance) for step in steps}
        return any(hashlib.sha256(k.encode()).hexdigest()[:16] == expected for k in keys)

    within = f"a factor of {tolerance[:-1]}" if tolerance and tolerance.endswith("x") else tolerance

    def whole(value):  # counted, so compared exactly
        value = value.tolist() if hasattr(value, "tolist") else value
        return all(whole(v) for v in value) if isinstance(value, (list, tuple)) else isinstance(value, int)

    digits = "exactly" if whole(answer) else "at three significant digits"
    how = f"within {within}, as training differs between CPUs" if tolerance else digits
    parts = isinstance(digest, list)  # an answer of parts: each is compared, so a wrong one can be named
    wrong = [i for i, d in enumerate(digest) if not right(answer[i], d)] if parts else [0] * (not right(answer, digest))
    if wrong:
        why = ""
        if parts and len(wrong) < len(answer):
            places = ["first", "second", "third", "fourth", "fifth", "sixth"]
            named = [f"{places[i]} value ({answer_key(answer[i])}) is" for i in wrong]
            if len(wrong) > 1:
                named = [" and ".join(f"{places[i]} ({answer_key(answer[i])})" for i in wrong) + " values are"]
            rest = "the other is right" if len(answer) - len(wrong) == 1 else "the others are right"
            why = f": its {named[0]} off, {rest}"
        raise AssertionError(
            f"Exercise {exercise}: {answer_key(answer)} is not the answer yet{why} (compared {how}); "
            "read the hints and try again"
        )
    print(
        f"Exercise {exercise}: correct"
        + (f" (compared within {within}: training differs between CPUs)" if tolerance else "")
    )


def digest(value, tolerance=None):
    """What the student notebook stores instead of the answer: one digest, or, for an answer of
    parts ('a pair of (a number, a number)'), one for each part, so that a wrong part is named."""
    import hashlib

    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and not answer_form(value).startswith("a list of"):
        return [digest(part, tolerance) for part in value]
    return hashlib.sha256(answer_key(value, tolerance).encode()).hexdigest()[:16]
