"""Deterministic zip bundles of the rotation functions: same inputs, same bytes.

Pulumi decides whether to redeploy a function from the bundle's hash, so the
zip must not depend on file timestamps, permissions, directory walk order or
stray `__pycache__` directories: entries are sorted, dated 1980-01-01, mode
0644, and bytecode left in the source tree is ignored.

What ships is what the function imports, nothing else. The first-party modules
are found by following the entry point's imports (module level and inside
functions, not under `if TYPE_CHECKING:`), so the operator CLI
(`rotation/cli.py`, `rotation/operator/`) and the other cloud's store, notifier
and entry point stay out, and a module split out of another is picked up
without a list to update. A function that comes to import a module it must not
ship (the CLI, the other cloud's store), or to import typer/rich or the other
cloud's SDK at module level, fails the build.

Every shipped `.py` comes with its bytecode, compiled by the function's own
Python version (`TARGET_PYTHON`) into `__pycache__/<name>.cpython-312.pyc` as an
unchecked-hash `.pyc` (PEP 552): the interpreter loads it without comparing
timestamps or hashing the source, and the unzipped bundle is read-only on
Lambda, so without it every cold start compiles every module again. The
compiler runs with PYTHONHASHSEED=0, so set and frozenset constants marshal in
the same order on every build.

AWS: the reachable part of `rotation/`, `lambdas/` (package markers and the
aws_rotation handler) and the pure-Python `requests` stack copied from
site-packages (the Lambda runtime ships boto3 but not requests). Compiled
extensions are skipped on purpose: they are built for this machine's CPython,
and charset_normalizer falls back to its pure-Python modules on the Lambda
runtime.

GCP: the reachable part of `rotation/`, the Cloud Function entry point as
`main.py` at the root, and a `requirements.txt` that Cloud Build installs.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip header can hold
FILE_MODE = 0o100644  # regular file, rw-r--r--
VENDORED_FOR_AWS = ("requests", "urllib3", "idna", "certifi", "charset_normalizer")
GCP_REQUIREMENTS = ("requests", "google-cloud-secret-manager", "functions-framework")
AWS_HANDLER = "lambdas/aws_rotation/handler.handler"  # module path inside the zip + function
GCP_ENTRY_POINT = "handle_event"
# Lambda `python3.12` (infra/aws_component.py) and Cloud Functions `python312`
# (infra/gcp_component.py): bytecode is only used by the version that wrote it.
TARGET_PYTHON = (3, 12)
PYTHON_ENV = "CIO_BUNDLE_PYTHON"  # path of the interpreter that compiles the bundles

FIRST_PARTY = ("rotation", "lambdas")
_NEVER_SHIPPED = ("rotation.cli", "rotation.operator", "typer", "rich", "click")
AWS_EXCLUDED = (
    *_NEVER_SHIPPED,
    "rotation.stores.gcp",
    "rotation.notify_gcp",
    "rotation.workqueue_gcp",
    "lambdas.gcp_rotation",
    "google",
    "functions_framework",
    "cloudevents",
)
GCP_EXCLUDED = (
    *_NEVER_SHIPPED,
    "rotation.stores.aws",
    "rotation.stores.aws_wakeups",
    "lambdas.aws_rotation",
    "boto3",
    "botocore",
)

_SKIP_DIRS = frozenset({"__pycache__", "tests", ".mypy_cache", ".pytest_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib")
_UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, do not check the source


class BundleError(RuntimeError):
    """A function bundle cannot be built; the message says which file is missing and why."""


@dataclass(frozen=True)
class Bundle:
    """A built zip: where it is, what is in it and its content hash."""

    path: Path
    sha256: str  # hex digest of the zip bytes
    entries: tuple[str, ...]
    size: int

    @property
    def sha256_b64(self) -> str:
        """The form Lambda's `source_code_hash` uses."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


def _tree(root: Path, arc_prefix: str) -> dict[str, bytes]:
    """Files under `root` keyed by their path in the archive, minus caches and binaries."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if not path.is_file() or path.name.endswith(_SKIP_SUFFIXES):
            continue
        files[f"{arc_prefix}{rel.as_posix()}"] = path.read_bytes()
    return files


def _require(path: Path, why: str) -> Path:
    if not path.is_file():
        raise BundleError(f"{path} is missing: {why}")
    return path


# -- what the function imports ----------------------------------------------------


def _module_file(repo_root: Path, name: str) -> Path | None:
    """The source of a first-party module or package, if it exists."""
    base = repo_root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Every module an import statement may load, minus `if TYPE_CHECKING:` blocks.

    `names` holds them all; `at_import` those imported at module level, which load
    with the module rather than when a function runs.
    """

    def __init__(self, package: str) -> None:
        self.package = package  # for relative imports
        self.names: set[str] = set()
        self.at_import: set[str] = set()
        self._depth = 0  # > 0 inside a function body

    def _add(self, names: Iterable[str]) -> None:
        names = set(names)
        self.names |= names
        if not self._depth:
            self.at_import |= names

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self._add(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            parts = self.package.split(".") if self.package else []
            parts = parts[: len(parts) - (node.level - 1)]
            module = ".".join([*parts, module] if module else parts)
        # `from pkg import mod` loads pkg.mod when it is a module; callers keep what exists.
        self._add([module, *(f"{module}.{a.name}" for a in node.names if a.name != "*")])


@dataclass(frozen=True)
class ImportWalk:
    """What a function's entry point imports, found by reading its modules' imports."""

    modules: dict[str, Path]  # first-party module name -> source, lazy imports included
    third_party: frozenset[str]  # top-level packages imported anywhere on that path
    third_party_at_import: frozenset[str]  # ... of them, imported at a module's top level


def runtime_modules(repo_root: Path, entry_name: str, entry_file: Path) -> ImportWalk:
    """Follow the entry point's imports through the first-party packages.

    Import statements are all it follows: a module loaded by name at run time
    (`importlib.import_module`) would have to be imported somewhere to ship.
    """
    modules: dict[str, Path] = {}
    third_party: set[str] = set()
    at_import: set[str] = set()
    pending = [(entry_name, entry_file)]
    parents = entry_name.split(".")[:-1]
    for depth in range(1, len(parents) + 1):  # importing the entry runs its packages first
        found = _module_file(repo_root, ".".join(parents[:depth]))
        if found is not None:
            pending.append((".".join(parents[:depth]), found))
    while pending:
        name, path = pending.pop()
        if name in modules:
            continue
        modules[name] = path
        is_package = path.name == "__init__.py"
        visitor = _Imports(name if is_package else name.rpartition(".")[0])
        visitor.visit(ast.parse(path.read_bytes(), filename=str(path)))
        for imported in visitor.names:
            top = imported.partition(".")[0]
            if top not in FIRST_PARTY:
                if top and top != "__future__":
                    third_party.add(top)
                    if imported in visitor.at_import:
                        at_import.add(top)
                continue
            parts = imported.split(".")
            for depth in range(1, len(parts) + 1):  # parents' __init__ run first
                prefix = ".".join(parts[:depth])
                found = _module_file(repo_root, prefix)
                if found is not None and prefix not in modules:
                    pending.append((prefix, found))
    return ImportWalk(modules, frozenset(third_party), frozenset(at_import))


def _check_excluded(function: str, walk: ImportWalk, excluded: Iterable[str]) -> None:
    """Refuse a function whose path reaches the CLI, its libraries or the other cloud.

    First-party modules count wherever they are imported (they would not ship, so a
    lazy import would fail at run time). A third-party package counts when imported
    at module level: a lazy import inside a function this cloud never calls (the SSM
    read of the chat webhook URL, AWS only) loads nothing here; the tests check that
    every package a function may import is provided where it runs.
    """
    loaded = [*walk.modules, *walk.third_party_at_import]
    bad = sorted(
        name for name in loaded for ex in excluded if name == ex or name.startswith(ex + ".")
    )
    if bad:
        raise BundleError(
            f"the {function} imports {', '.join(bad)}, which it must not ship (the operator "
            "CLI, its libraries and the other cloud stay out of function bundles). Move that "
            "import out of the function's import path."
        )


def _arc_name(name: str, path: Path) -> str:
    return "/".join(name.split(".")) + ("/__init__.py" if path.name == "__init__.py" else ".py")


def _first_party(
    repo_root: Path, entry_name: str, entry_file: Path, function: str, excluded: Iterable[str]
) -> dict[str, bytes]:
    walk = runtime_modules(repo_root, entry_name, entry_file)
    _check_excluded(function, walk, excluded)
    return {_arc_name(name, path): path.read_bytes() for name, path in walk.modules.items()}


# -- bytecode ---------------------------------------------------------------------

# Runs inside the target interpreter: sources in on stdin, unchecked-hash .pyc out.
_COMPILER = """
import base64, importlib.util, json, marshal, sys
FLAGS = int(sys.argv[1])
jobs = json.load(sys.stdin)
out = {}
for name, source in jobs:
    source = base64.b64decode(source)
    code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    header = importlib.util.MAGIC_NUMBER + FLAGS.to_bytes(4, "little")
    pyc = header + importlib.util.source_hash(source) + marshal.dumps(code)
    out[name] = base64.b64encode(pyc).decode()
    del code
json.dump({"tag": sys.implementation.cache_tag, "pyc": out}, sys.stdout)
"""


def _python_version(executable: str) -> tuple[int, int] | None:
    """(major, minor) of a CPython interpreter, or None when it does not run."""
    try:
        result = subprocess.run(  # noqa: S603 - a path we looked up, no shell
            [executable, "-S", "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    tag = result.stdout.strip()
    if result.returncode != 0 or not tag.startswith("cpython-"):
        return None
    digits = tag.removeprefix("cpython-")
    return int(digits[0]), int(digits[1:])


@cache
def find_python(version: tuple[int, int] = TARGET_PYTHON) -> str:
    """An interpreter of the functions' Python version, to compile their bytecode.

    In order: $CIO_BUNDLE_PYTHON, this interpreter, `python3.12` on PATH, then
    pyenv's and uv's installed versions.
    """
    wanted = f"{version[0]}.{version[1]}"
    configured = os.environ.get(PYTHON_ENV)
    if configured:
        if _python_version(configured) != version:
            raise BundleError(f"${PYTHON_ENV}={configured} is not a working CPython {wanted}.")
        return configured
    if sys.implementation.name == "cpython" and sys.version_info[:2] == version:
        return sys.executable
    candidates = [shutil.which(f"python{wanted}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    uv = Path.home() / ".local" / "share" / "uv" / "python"
    for found in (
        pyenv.glob(f"{wanted}.*/bin/python{wanted}"),
        uv.glob(f"cpython-{wanted}.*/bin/python{wanted}"),
    ):
        candidates.extend(str(p) for p in sorted(found, reverse=True))
    for candidate in candidates:
        if candidate and _python_version(candidate) == version:
            return candidate
    raise BundleError(
        f"the functions run on Python {wanted} and ship bytecode compiled by that version, "
        f"but no CPython {wanted} was found. Install one (e.g. `uv python install {wanted}` "
        f"or pyenv) or point ${PYTHON_ENV} at its executable."
    )


_compiled: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, bytes]] = {}


def compile_sources(sources: Mapping[str, bytes], python: str) -> dict[str, bytes]:
    """Unchecked-hash `.pyc` for each source, keyed by its archive path in `__pycache__`."""
    names = sorted(n for n in sources if n.endswith(".py"))
    key = (python, tuple((n, hashlib.sha256(sources[n]).hexdigest()) for n in names))
    if key not in _compiled:  # program tests build the same bundle many times
        jobs = [[n, base64.b64encode(sources[n]).decode()] for n in names]
        result = subprocess.run(  # noqa: S603 - the interpreter find_python checked
            [python, "-S", "-s", "-B", "-c", _COMPILER, str(_UNCHECKED_HASH)],
            input=json.dumps(jobs),
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": "0"},
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise BundleError(f"compiling the function sources with {python} failed: {last}")
        doc = json.loads(result.stdout)
        tag = doc["tag"]
        pycs: dict[str, bytes] = {}
        for name, pyc in doc["pyc"].items():
            folder, _, file = name.rpartition("/")
            cached = f"__pycache__/{file.removesuffix('.py')}.{tag}.pyc"
            pycs[f"{folder}/{cached}" if folder else cached] = base64.b64decode(pyc)
        _compiled[key] = pycs
    return dict(_compiled[key])


def with_bytecode(sources: Mapping[str, bytes], python: str | None = None) -> dict[str, bytes]:
    """The sources plus their bytecode (compiled by `python`, by default the target's)."""
    return {**sources, **compile_sources(sources, python or find_python())}


# -- the two functions -------------------------------------------------------------


def installed_package_dir(name: str) -> Path:
    """Where an installed top-level package lives (site-packages of this interpreter)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(
            f"the {name!r} package is not installed in this environment; it is vendored into "
            "the Lambda bundle. Install requirements.txt into the virtualenv Pulumi uses."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def aws_lambda_files(
    repo_root: Path = REPO_ROOT, vendored: Iterable[str] = VENDORED_FOR_AWS
) -> dict[str, bytes]:
    """The sources the AWS rotation Lambda needs, keyed by archive path (no bytecode)."""
    handler = repo_root / "lambdas" / "aws_rotation" / "handler.py"
    _require(
        handler,
        "the AWS rotation Lambda's entry point (handler `handler`) has not been written yet. "
        "Deploy with `clouds: [gcp]` until it exists.",
    )
    _require(repo_root / "lambdas" / "__init__.py", "lambdas must be a package.")
    files = _first_party(
        repo_root, "lambdas.aws_rotation.handler", handler, "AWS rotation Lambda", AWS_EXCLUDED
    )
    files.setdefault("lambdas/__init__.py", b"")
    files.setdefault("lambdas/aws_rotation/__init__.py", b"")
    for name in vendored:
        files.update(_tree(installed_package_dir(name), f"{name}/"))
    return files


def gcp_requirements() -> bytes:
    """Pinned to the versions tested here, so a rebuild installs the same code."""
    lines = []
    for dist in GCP_REQUIREMENTS:
        try:
            lines.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(dist)
    return ("\n".join(lines) + "\n").encode()


def gcp_function_files(repo_root: Path = REPO_ROOT) -> dict[str, bytes]:
    """The sources the GCP Cloud Function needs, keyed by archive path (no bytecode)."""
    main = repo_root / "lambdas" / "gcp_rotation" / "main.py"
    _require(
        main,
        f"the GCP Cloud Function's entry point (`{GCP_ENTRY_POINT}` in lambdas/gcp_rotation/"
        "main.py) has not been written yet. Deploy with `clouds: [aws]` until it exists.",
    )
    # main.py sits at the root of the bundle, so it is the top-level module `main`.
    files = _first_party(repo_root, "main", main, "GCP Cloud Function", GCP_EXCLUDED)
    files["requirements.txt"] = gcp_requirements()
    return files


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip whose bytes depend only on the names and contents given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, so the mode bits are honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def write_bundle(files: Mapping[str, bytes], path: Path) -> Bundle:
    """Write the zip (only if its bytes changed) and describe it."""
    data = zip_bytes(files)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_bytes() != data:
        # Written whole, then renamed: a reader (a concurrent build, `pulumi up`) never
        # sees half a zip.
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    return Bundle(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        entries=tuple(sorted(files)),
        size=len(data),
    )


def build_aws_bundle(
    out_dir: Path, repo_root: Path = REPO_ROOT, python: str | None = None
) -> Bundle:
    """The AWS zip; `python` compiles the bytecode (default: a CPython of TARGET_PYTHON)."""
    return write_bundle(
        with_bytecode(aws_lambda_files(repo_root), python), out_dir / "aws-rotator.zip"
    )


def build_gcp_bundle(
    out_dir: Path, repo_root: Path = REPO_ROOT, python: str | None = None
) -> Bundle:
    """The GCP zip; `python` compiles the bytecode (default: a CPython of TARGET_PYTHON)."""
    return write_bundle(
        with_bytecode(gcp_function_files(repo_root), python), out_dir / "gcp-rotator.zip"
    )
