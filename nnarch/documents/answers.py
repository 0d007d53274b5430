"""Answers: how a lab notebook checks a student's answer without containing it.

The build runs each exercise's solution and keeps the answer (report.json, instructor edition).
The student notebook gets only a digest of it: `check_answer` compares the digest of the student's
answer, written at three significant digits, with that one. The two functions below are copied into
every notebook as they are, so they import nothing but the standard library.
"""


def answer_key(value) -> str:
    """An answer as text at three significant digits (integers exact): what is digested."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(answer_key(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, float):
        return format(value, ".3g")
    return str(value)


def check_answer(answer, digest, exercise):
    """Raise unless `answer` is the build's answer to exercise number `exercise`."""
    import hashlib

    if answer is None:
        raise NotImplementedError(f"Exercise {exercise}: fill in the function above, then run this cell")
    if hashlib.sha256(answer_key(answer).encode()).hexdigest()[:16] != digest:
        raise AssertionError(
            f"Exercise {exercise}: {answer_key(answer)} is not the answer yet; read the hints and try again"
        )
    print(f"Exercise {exercise}: correct")


def digest(value) -> str:
    """What the student notebook stores instead of the answer."""
    import hashlib

    return hashlib.sha256(answer_key(value).encode()).hexdigest()[:16]
