"""Fingerprints: hash exactly the code and values a result depends on, and nothing else.

A topic module mixes what training depends on (the model class, the data function, constants they
use, helpers imported from other modules) with what it doesn't (slide text, captions, claims). A
whole-file hash would retrain on every edit of a sentence; a one-file hash would miss a changed
helper in another file. So we follow the code: from each function or class, through the global
names its bytecode uses, to every function, class and constant it reaches in the user's own
modules. Code is hashed as bytecode without line numbers, so moving it or editing a comment next
to it does not count as a change.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
import sys
import sysconfig
import types
from pathlib import Path

_LIBRARY_PATHS = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
)
_NNARCH = str(Path(__file__).resolve().parent.parent)
_PLAIN = (int, float, str, bool, bytes, type(None), complex)


def fingerprint(*objects) -> str:
    """A hex digest of the objects and of all user code and constants they reach."""
    digest = hashlib.sha256()
    seen: set[int] = set()
    for obj in objects:
        digest.update(_describe(obj, seen).encode())
    return digest.hexdigest()


def _describe(obj, seen: set[int]) -> str:
    if isinstance(obj, _PLAIN):
        return repr(obj)
    array = _array_bytes(obj)
    if array is not None:  # a tensor or array constant: by its content, not its type
        return array
    if isinstance(obj, (tuple, list, frozenset, set)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return f"{type(obj).__name__}(" + ",".join(_describe(o, seen) for o in items) + ")"
    if isinstance(obj, dict):
        return "{" + ",".join(f"{k!r}:{_describe(v, seen)}" for k, v in sorted(obj.items(), key=repr)) + "}"
    if hasattr(obj, "__dataclass_fields__") and not inspect.isclass(obj):  # a Recipe, say
        fields = {name: getattr(obj, name) for name in obj.__dataclass_fields__}
        return f"{type(obj).__name__}{_describe(fields, seen)}"
    if not _is_user_code(obj):
        return _qualified(obj)
    if id(obj) in seen:
        return f"<seen {_qualified(obj)}>"
    seen.add(id(obj))
    if inspect.isclass(obj):
        return _describe_class(obj, seen)
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        function = obj.__func__ if isinstance(obj, types.MethodType) else obj
        return _describe_function(function, seen)  # type: ignore[arg-type]
    return _qualified(type(obj)) + ":" + repr(obj)


def _describe_function(fn: types.FunctionType, seen: set[int]) -> str:
    parts = [_code(fn.__code__), _describe(fn.__defaults__ or (), seen), _describe(fn.__kwdefaults__ or {}, seen)]
    for name in sorted(_global_names(fn.__code__)):
        if name in fn.__globals__:
            parts.append(f"{name}={_describe_global(fn.__globals__[name], fn.__code__, seen)}")
    for cell in fn.__closure__ or ():
        try:
            parts.append(_describe(cell.cell_contents, seen))
        except ValueError:  # an empty cell
            parts.append("<empty>")
    return "fn(" + ";".join(parts) + ")"


def _describe_global(value, code: types.CodeType, seen: set[int]) -> str:
    """A global a function uses; for a user module, the attributes of it that the code names."""
    if isinstance(value, types.ModuleType):
        if not _is_user_code(value):
            return f"module {value.__name__}"
        names = _global_names(code)  # co_names also holds the attribute names the code uses
        return (
            "module("
            + ";".join(f"{n}={_describe(getattr(value, n), seen)}" for n in sorted(names) if hasattr(value, n))
            + ")"
        )
    return _describe(value, seen)


def _describe_class(cls: type, seen: set[int]) -> str:
    parts = [cls.__qualname__] + [_describe(base, seen) for base in cls.__bases__]
    for name, value in sorted(vars(cls).items()):
        if (name.startswith("__") and name not in ("__init__", "__call__")) or name == "__doc__":
            continue
        function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        parts.append(f"{name}={_describe(function, seen)}")
    return "class(" + ";".join(parts) + ")"


def _code(code: types.CodeType) -> str:
    """Bytecode, constants and names of a code object, without file names or line numbers."""
    consts = [_code(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return f"{code.co_code.hex()}|{consts}|{code.co_names}|{code.co_varnames}|{code.co_freevars}"


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _is_user_code(obj) -> bool:
    """Code from the project's own files: not the standard library, site-packages or nnarch."""
    path = _source_file(obj)
    if not path:
        return False
    path = str(Path(path).resolve())
    return not path.startswith(_LIBRARY_PATHS) and not path.startswith(_NNARCH)


def _source_file(obj) -> str | None:
    # A function knows its file; a module that a later import dropped from sys.modules (a lecture's
    # helper, say) must still count as the user's code, so sys.modules is only the last resort.
    code = getattr(getattr(obj, "__func__", obj), "__code__", None)
    if code is not None:
        return code.co_filename
    if inspect.isclass(obj):
        for value in vars(obj).values():
            code = getattr(getattr(value, "__func__", value), "__code__", None)
            if code is not None:
                return code.co_filename
    name = getattr(obj, "__module__", "") or ""
    module = obj if isinstance(obj, types.ModuleType) else sys.modules.get(name)
    return getattr(module, "__file__", None)


def _qualified(obj) -> str:
    # Lecture modules are imported under a name made from the lectures folder's path; the key must
    # not change when the checkout moves.
    module = re.sub(r"^nnarch_lectures_[0-9a-f]+\.", "", str(getattr(obj, "__module__", "?")))
    return f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _array_bytes(obj) -> str | None:
    """A torch tensor, numpy array or numpy scalar as its dtype, shape and a digest of its values."""
    kind = type(obj).__module__.split(".")[0]
    if kind == "torch" and hasattr(obj, "detach") and hasattr(obj, "dtype"):
        obj = obj.detach().cpu()
        data = obj.numpy().tobytes() if obj.dtype != getattr(obj, "bfloat16", None) else obj.float().numpy().tobytes()
    elif kind == "numpy" and hasattr(obj, "tobytes") and hasattr(obj, "dtype"):
        data = obj.tobytes()
    else:
        return None
    return f"array({obj.dtype},{tuple(obj.shape)},{hashlib.sha256(data).hexdigest()})"


def file_digest(paths) -> str:
    """One digest of several files' bytes (and names), for make-style up-to-date checks."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(str(path).encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def files_under(folder: Path) -> list[Path]:
    """Every file below a folder that is not Python's bytecode cache."""
    return [p for p in Path(folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def digest_files(files, root: Path, absolute=(), values=()) -> str:
    """One digest of files named relative to `root` (so a moved checkout keeps its cache), of
    further files named by their base name, and of strings."""
    digest = hashlib.sha256()
    root = Path(root).resolve()
    for path in sorted({Path(p).resolve() for p in files}):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for path in absolute:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes())
    digest.update("\0".join(values).encode())
    return digest.hexdigest()


def code_closure(files, package_root: Path) -> list[Path]:
    """The files given and every module of the package they import, directly or not, read from
    their `import` statements: the code that can change what the given modules compute."""
    package_root = Path(package_root).resolve()
    name = package_root.name
    found, todo = set(), [Path(f).resolve() for f in files]
    while todo:
        path = todo.pop()
        if path in found or not path.exists():
            continue
        found.add(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] != name:
                    continue
                target = package_root.joinpath(*parts[1:])
                for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                    if candidate.exists():
                        todo.append(candidate)
    return sorted(found)
