"""Deterministic zip bundles of the rotation functions: same inputs, same bytes.

Pulumi decides whether to redeploy a function from the bundle's hash, so the
zip must not depend on file timestamps, permissions, directory walk order or
stray `__pycache__` directories: entries are sorted, dated 1980-01-01, mode
0644, and compiled files are left out.

AWS: `rotation/`, `lambdas/` (package markers and the aws_rotation handler) and
the pure-Python `requests` stack copied from site-packages (the Lambda runtime
ships boto3 but not requests). Compiled extensions are skipped on purpose: they
are built for this machine's CPython, and charset_normalizer falls back to its
pure-Python modules on the Lambda runtime.

GCP: `rotation/`, the Cloud Function entry point as `main.py` at the root, and a
`requirements.txt` that Cloud Build installs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip header can hold
FILE_MODE = 0o100644  # regular file, rw-r--r--
VENDORED_FOR_AWS = ("requests", "urllib3", "idna", "certifi", "charset_normalizer")
GCP_REQUIREMENTS = ("requests", "google-cloud-secret-manager", "functions-framework")
AWS_HANDLER = "lambdas/aws_rotation/handler.handler"  # module path inside the zip + function
GCP_ENTRY_POINT = "handle_event"

_SKIP_DIRS = frozenset({"__pycache__", "tests", ".mypy_cache", ".pytest_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib")


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


def _rotation_package(repo_root: Path) -> dict[str, bytes]:
    _require(repo_root / "rotation" / "__init__.py", "the rotation engine package is required.")
    return _tree(repo_root / "rotation", "rotation/")


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
    """Everything the AWS rotation Lambda needs, keyed by archive path."""
    handler = repo_root / "lambdas" / "aws_rotation" / "handler.py"
    _require(
        handler,
        "the AWS rotation Lambda's entry point (handler `handler`) has not been written yet. "
        "Deploy with `clouds: [gcp]` until it exists.",
    )
    files = _rotation_package(repo_root)
    files["lambdas/__init__.py"] = _require(
        repo_root / "lambdas" / "__init__.py", "lambdas must be a package."
    ).read_bytes()
    files.update(_tree(handler.parent, "lambdas/aws_rotation/"))
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
    """Everything the GCP Cloud Function needs, keyed by archive path."""
    main = repo_root / "lambdas" / "gcp_rotation" / "main.py"
    _require(
        main,
        f"the GCP Cloud Function's entry point (`{GCP_ENTRY_POINT}` in lambdas/gcp_rotation/"
        "main.py) has not been written yet. Deploy with `clouds: [aws]` until it exists.",
    )
    files = _rotation_package(repo_root)
    files["main.py"] = main.read_bytes()
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
        path.write_bytes(data)
    return Bundle(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        entries=tuple(sorted(files)),
        size=len(data),
    )


def build_aws_bundle(out_dir: Path, repo_root: Path = REPO_ROOT) -> Bundle:
    return write_bundle(aws_lambda_files(repo_root), out_dir / "aws-rotator.zip")


def build_gcp_bundle(out_dir: Path, repo_root: Path = REPO_ROOT) -> Bundle:
    return write_bundle(gcp_function_files(repo_root), out_dir / "gcp-rotator.zip")
