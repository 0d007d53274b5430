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
import functools
import hashlib
import importlib.util
import inspect
import re
import site
import sys
import sysconfig
import tempfile
import types
from pathlib import Path


def _library_paths() -> tuple[str, ...]:
    """Where installed code lives: the standard library and every site- or dist-packages folder
    (a venv's, the system's, the user's, one on sys.path), never the user's own modules."""
    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= set(site.getsitepackages()) | {site.getusersitepackages()}
    paths |= {p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))}
    return tuple(str(Path(p).resolve()) for p in sorted(paths) if p)


_LIBRARY_PATHS = _library_paths()
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
        kind = _describe(type(obj), seen) if _is_user_code(type(obj)) else type(obj).__name__
        return f"{kind}{_describe(fields, seen)}"  # a user's class by its code too: its methods run
    if (
        not inspect.isclass(obj)
        and not isinstance(obj, (types.FunctionType, types.MethodType, types.ModuleType))
        and _is_user_code(type(obj))
    ):  # an instance of the user's class (a callable one too): its class's code and its state
        if id(obj) in seen:
            return f"<seen {_qualified(type(obj))}>"
        seen.add(id(obj))
        slots = [s for c in type(obj).__mro__ for s in getattr(c, "__slots__", ()) if hasattr(obj, s)]
        state = {**{s: getattr(obj, s) for s in slots}, **getattr(obj, "__dict__", {})}
        return f"{_describe(type(obj), seen)}:{_describe(state, seen)}"
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
        if _generated(cls, function):
            continue
        parts.append(f"{name}={_describe(function, seen)}")
    return "class(" + ";".join(parts) + ")"


def _generated(cls: type, function) -> bool:
    """A function a library attached to the class at run time, its own or one it generated in the
    temporary folder (PyG's MessagePassing keeps `_orig_propagate` and writes a `propagate` on the
    first instance): not the user's code, and not there before the first model was built."""
    code = getattr(function, "__code__", None)
    if code is None or getattr(function, "__module__", None) == cls.__module__:
        return False
    temporary = Path(code.co_filename).resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    return temporary or not _is_user_code(function)


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
    if isinstance(obj, type):  # torch.Tensor itself, whose metaclass lives in torch
        return None
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


JUNK = re.compile(r"^(\..*|__pycache__|.*~|#.*#|Thumbs\.db|desktop\.ini)$")
"""Names that are never a lecture's content, wherever they are: dot files and folders (.git, .env,
.DS_Store, an editor's .line.md.swp), Python's bytecode cache, editors' backups (notes.md~,
#notes.md#) and Windows' thumbnails."""


BASELINE = "baseline"
"""A lecture's accepted release (`nnarch accept`): beside its topics, for version control, but not
its content: accepting a release retrains nothing and leaves a build up to date."""


def files_under(folder: Path) -> list[Path]:
    """Every file below a folder that is the lecture's content (no JUNK in its path, not in a baseline)."""
    folder = Path(folder)
    return [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(JUNK.match(part) for part in p.relative_to(folder).parts)
        and not _in_baseline(folder, p.relative_to(folder).parts)
    ]


def _in_baseline(folder: Path, parts: tuple[str, ...]) -> bool:
    return any(
        part == BASELINE and (folder.joinpath(*parts[: i + 1]) / "snapshot.json").is_file()
        for i, part in enumerate(parts[:-1])
    )


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

    def within(module: str, _: Path) -> Path | None:
        parts = module.split(".")
        return package_root.joinpath(*parts[1:]) if parts[0] == package_root.name else None

    return _closure([Path(f).resolve() for f in files], within)


def user_closure(path: Path) -> list[Path]:
    """The user's own modules a module imports, directly or not, read from `import` statements:
    relative imports (a sibling folder of the lecture, say) and absolute ones found on sys.path
    (PYTHONPATH included), but never the standard library, an installed package or nnarch. Nothing
    is imported to find them."""

    def where(module: str, importer: Path) -> Path | None:
        if module.startswith("."):  # from ..shared import consts: relative to the importer's package
            dots = len(module) - len(module.lstrip("."))
            if dots - 2 >= len(importer.parent.parents):
                return None  # beyond the file system's root: Python refuses it too
            base = importer.parent.parents[dots - 2] if dots > 1 else importer.parent
            return base.joinpath(*module.lstrip(".").split(".")) if module.lstrip(".") else base
        top, *rest = module.split(".")
        try:
            spec = importlib.util.find_spec(top)  # a top-level name: found, not imported
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        if spec.submodule_search_locations:  # a package: its folder
            target = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
        elif spec.origin and spec.origin.endswith(".py") and not rest:  # a module: its file, less .py
            target = Path(spec.origin).with_suffix("")
        else:
            return None
        return None if str(target.resolve()).startswith((*_LIBRARY_PATHS, _NNARCH)) else target

    return [p for p in _closure([Path(path).resolve()], where) if p != Path(path).resolve()]


def _closure(files: list[Path], where) -> list[Path]:
    """Every file reached from `files` through imports that `where(module, importer)` places (a path
    without its suffix), or None for modules that do not count."""
    found: set[Path] = set()
    todo = list(files)
    while todo:
        path = todo.pop()
        if path in found or not path.exists():
            continue
        found.add(path)
        try:
            modules = _imported(path.read_bytes(), str(path))
        except OSError:
            continue
        for module in modules:
            target = where(module, path)
            if target is None or not target.name:  # not counted, or the file system's root
                continue
            for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                if candidate.is_file():
                    todo.append(candidate.resolve())
    return sorted(found)


@functools.lru_cache(maxsize=256)
def _imported(source: bytes, filename: str) -> tuple[str, ...]:
    """The modules a file's import statements name ('.x' relative, 'a.b' absolute, and each
    imported name as a possible submodule): parsed once per content, as `serve` asks again and
    again. A file that does not parse imports nothing here (it is reported where it is read)."""
    try:
        tree = ast.parse(source, filename)  # bytes: a BOM is read as Python reads it
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return ()
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            modules += [module] + [
                f"{module}.{alias.name}" if node.module else module + alias.name for alias in node.names
            ]
    return tuple(modules)
