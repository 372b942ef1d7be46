"""Function bundles: same inputs, same bytes; bytecode for every module; only what runs ships."""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import infra.bundle as bundle_mod
from infra.bundle import (
    FIXED_DATE,
    TARGET_PYTHON,
    VENDORED_FOR_AWS,
    BundleError,
    aws_lambda_files,
    build_aws_bundle,
    build_gcp_bundle,
    find_python,
    gcp_function_files,
    runtime_modules,
    zip_bytes,
)
from tests.program.harness import make_source_tree

TARGET_TAG = f"cpython-{TARGET_PYTHON[0]}{TARGET_PYTHON[1]}"
HERE_TAG = sys.implementation.cache_tag
AWS_NOT_SHIPPED = (
    "rotation/cli.py",
    "rotation/operator/",
    "rotation/stores/gcp.py",
    "rotation/notify_gcp.py",
    "lambdas/gcp_rotation/",
)
GCP_NOT_SHIPPED = ("rotation/cli.py", "rotation/operator/", "rotation/stores/aws.py", "lambdas/")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source_tree(tmp_path / "src")


@pytest.fixture
def fresh_compiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget bytecode compiled by earlier builds in this process."""
    monkeypatch.setattr(bundle_mod, "_compiled", {})


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def _unzip(path: Path, into: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        archive.extractall(into)
    return into


def _pyc_name(source: str, tag: str) -> str:
    folder, _, file = source.rpartition("/")
    cached = f"__pycache__/{file.removesuffix('.py')}.{tag}.pyc"
    return f"{folder}/{cached}" if folder else cached


def _run_python(python: str, path: list[Path], code: str, cwd: Path) -> dict[str, object]:
    """`python -S` with nothing but `path` to import from, as a function runtime loads it."""
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [python, "-S", "-c", code],
        env={
            "PYTHONPATH": os.pathsep.join(str(p) for p in path),
            "PYTHONDONTWRITEBYTECODE": "1",  # the unzipped bundle is read-only on Lambda
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    doc: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return doc


# -- same inputs, same bytes ------------------------------------------------------


def test_aws_bundle_is_byte_identical_across_builds(
    source: Path, tmp_path: Path, fresh_compiles: None
) -> None:
    first = build_aws_bundle(tmp_path / "one", source)
    bundle_mod._compiled.clear()  # compile again, not from this process's memory
    # Touch every file and leave bytecode behind: neither may change the bundle.
    for path in source.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (source / "rotation" / "__pycache__").mkdir(exist_ok=True)
    (source / "rotation" / "__pycache__" / "engine.cpython-312.pyc").write_bytes(b"\0" * 16)
    second = build_aws_bundle(tmp_path / "two", source)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    assert len(first.sha256_b64) == 44


def test_bundles_are_byte_identical_in_a_fresh_process(source: Path, tmp_path: Path) -> None:
    """Another interpreter (another hash seed, nothing cached) builds the same bytes."""
    here = (build_aws_bundle(tmp_path / "a", source), build_gcp_bundle(tmp_path / "a", source))
    code = (
        "import sys; from pathlib import Path; from infra.bundle import *; "
        "out, src = Path(sys.argv[1]), Path(sys.argv[2]); "
        "print(build_aws_bundle(out, src).sha256, build_gcp_bundle(out, src).sha256)"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code, str(tmp_path / "b"), str(source)],
        env={**os.environ, "PYTHONHASHSEED": "random"},
        cwd=bundle_mod.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [here[0].sha256, here[1].sha256]


def test_gcp_bundle_is_byte_identical_across_builds(
    source: Path, tmp_path: Path, fresh_compiles: None
) -> None:
    first = build_gcp_bundle(tmp_path / "one", source)
    bundle_mod._compiled.clear()
    second = build_gcp_bundle(tmp_path / "two", source)
    assert first.path.read_bytes() == second.path.read_bytes()


def test_code_change_changes_the_hash(source: Path, tmp_path: Path) -> None:
    before = build_aws_bundle(tmp_path / "a", source)
    handler = source / "lambdas" / "aws_rotation" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert build_aws_bundle(tmp_path / "b", source).sha256 != before.sha256


# -- contents ---------------------------------------------------------------------


def test_aws_bundle_layout(source: Path, tmp_path: Path) -> None:
    bundle = build_aws_bundle(tmp_path, source)
    names = _names(bundle.path)
    assert names == sorted(names)
    for required in (
        "lambdas/__init__.py",
        "lambdas/aws_rotation/__init__.py",
        "lambdas/aws_rotation/handler.py",
        "rotation/__init__.py",
        "rotation/conventions.py",
        "rotation/engine.py",
        "rotation/stores/aws.py",
        "requests/__init__.py",
        "urllib3/__init__.py",
        "idna/__init__.py",
        "certifi/cacert.pem",
        "charset_normalizer/__init__.py",
        "charset_normalizer/md.py",
    ):
        assert required in names, required
    assert {n.split("/")[0] for n in names} == {"lambdas", "rotation", *VENDORED_FOR_AWS}
    assert not any(n.endswith((".so", ".pyd")) for n in names)
    for excluded in AWS_NOT_SHIPPED:
        assert not any(n.startswith(excluded) for n in names), excluded
    with zipfile.ZipFile(bundle.path) as archive:
        for info in archive.infolist():
            assert info.date_time == FIXED_DATE
            assert info.external_attr >> 16 == 0o100644


def test_gcp_bundle_layout(source: Path, tmp_path: Path) -> None:
    bundle = build_gcp_bundle(tmp_path, source)
    names = _names(bundle.path)
    assert "main.py" in names and "requirements.txt" in names
    for required in ("rotation/engine.py", "rotation/stores/gcp.py", "rotation/notify_gcp.py"):
        assert required in names, required
    assert not any(n.startswith("requests/") for n in names)
    for excluded in GCP_NOT_SHIPPED:
        assert not any(n.startswith(excluded) for n in names), excluded
    with zipfile.ZipFile(bundle.path) as archive:
        main = archive.read("main.py")
        requirements = archive.read("requirements.txt").decode().splitlines()
    assert main == (source / "lambdas" / "gcp_rotation" / "main.py").read_bytes()
    assert any(r.startswith("requests==") for r in requirements)
    assert any(r.startswith("google-cloud-secret-manager==") for r in requirements)


def test_aws_function_imports_only_what_lambda_or_the_bundle_provides(source: Path) -> None:
    """Lambda's Python runtime provides boto3 and botocore; the bundle vendors the rest."""
    handler = source / "lambdas" / "aws_rotation" / "handler.py"
    walk = runtime_modules(source, "lambdas.aws_rotation.handler", handler)
    provided = {"boto3", "botocore", *VENDORED_FOR_AWS}
    assert walk.third_party - set(sys.stdlib_module_names) <= provided  # lazy ones too
    assert {"boto3", "requests"} <= walk.third_party
    assert "requests" not in walk.third_party_at_import  # loaded when first used


def _modules_importing(walk: object, package: str) -> set[str]:
    assert isinstance(walk, bundle_mod.ImportWalk)
    found = set()
    for name, path in walk.modules.items():
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] == package for a in node.names
            ):
                found.add(name)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package:
                found.add(name)
    return found


def test_gcp_function_does_not_use_boto(source: Path) -> None:
    main = source / "lambdas" / "gcp_rotation" / "main.py"
    walk = runtime_modules(source, "main", main)
    assert not {"boto3", "botocore", "typer", "rich"} & walk.third_party_at_import
    assert "rotation.stores.gcp" in walk.modules and "rotation.stores.aws" not in walk.modules
    # The one boto3 import on the path is the SSM read of the chat webhook URL, which
    # runs only when the AWS stack names a parameter; the GCP runtime never installs boto3.
    assert _modules_importing(walk, "boto3") <= {"rotation.notify"}
    assert not _modules_importing(walk, "botocore")
    provided = {"requests", "urllib3", "google", "functions_framework", "cloudevents", "boto3"}
    assert walk.third_party - set(sys.stdlib_module_names) <= provided


@pytest.mark.parametrize("build", [build_aws_bundle, build_gcp_bundle])
def test_every_module_ships_with_unchecked_hash_bytecode_for_the_runtime(
    build: object, source: Path, tmp_path: Path
) -> None:
    bundle = build(tmp_path, source)  # type: ignore[operator]
    names = set(_names(bundle.path))
    sources = sorted(n for n in names if n.endswith(".py"))
    pycs = sorted(n for n in names if n.endswith(".pyc"))
    assert sources and len(pycs) == len(sources)
    assert pycs == sorted(_pyc_name(n, TARGET_TAG) for n in sources)
    probe = (
        "import importlib.util, json, sys; "
        "data = sys.stdin.buffer.read(); "
        "print(json.dumps([importlib.util.MAGIC_NUMBER.hex(), importlib.util.source_hash(data).hex()]))"
    )
    with zipfile.ZipFile(bundle.path) as archive:
        for name in (sources[0], sources[-1]):
            src = archive.read(name)
            pyc = archive.read(_pyc_name(name, TARGET_TAG))
            magic, source_hash = json.loads(
                subprocess.run(  # noqa: S603 - the bundle compiler
                    [find_python(), "-S", "-c", probe],
                    input=src,
                    capture_output=True,
                    check=True,
                ).stdout
            )
            assert pyc[:4].hex() == magic
            assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, unchecked
            assert pyc[8:16].hex() == source_hash


def test_bytecode_matches_py_compile_unchecked_hash(source: Path, tmp_path: Path) -> None:
    """The bytes `py_compile` writes with PycInvalidationMode.UNCHECKED_HASH (same seed)."""
    bundle = build_aws_bundle(tmp_path / "out", source, python=sys.executable)
    name = "rotation/engine.py"
    copy = tmp_path / name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(source / name, copy)
    code = (
        "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], "
        "dfile=sys.argv[3], doraise=True, "
        "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)"
    )
    subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-S", "-c", code, str(copy), str(tmp_path / "ref.pyc"), name],
        env={"PYTHONHASHSEED": "0"},
        check=True,
    )
    with zipfile.ZipFile(bundle.path) as archive:
        assert archive.read(_pyc_name(name, HERE_TAG)) == (tmp_path / "ref.pyc").read_bytes()


# -- what the functions import ----------------------------------------------------


def test_handler_imports_and_runs_from_the_unzipped_bundle(source: Path, tmp_path: Path) -> None:
    """Bytecode is what runs: the sources may even be broken after unzipping."""
    bundle = build_aws_bundle(tmp_path / "out", source, python=sys.executable)
    root = _unzip(bundle.path, tmp_path / "task")
    for name in ("rotation/conventions.py", "lambdas/aws_rotation/handler.py"):
        with (root / name).open("a") as f:
            f.write("\nraise ImportError('the source was compiled instead of the bundled .pyc')\n")
    code = """
import json, sys
import lambdas.aws_rotation.handler as h
import rotation
loaded_at_import = sorted(sys.modules)
try:
    h.handler({"action": "no-such-action"}, None)
    outcome = "returned"
except ValueError:
    outcome = "ValueError"
print(json.dumps({
    "rotation": rotation.__file__, "cached": h.__cached__, "outcome": outcome,
    "at_import": loaded_at_import, "after_run": sorted(sys.modules),
    "requests": getattr(sys.modules.get("requests"), "__file__", None),
}))
"""
    site = Path(sysconfig.get_paths()["purelib"])
    doc = _run_python(sys.executable, [root, site], code, tmp_path)
    assert str(doc["rotation"]).startswith(str(root))
    assert str(doc["cached"]).endswith(f"handler.{HERE_TAG}.pyc")
    assert doc["outcome"] == "ValueError"  # built its runtime, then refused the unknown event
    assert str(doc["requests"]).startswith(str(root))  # the vendored copy, not site-packages

    def top(names: object) -> set[str]:
        assert isinstance(names, list)
        return {str(n).split(".")[0] for n in names}

    forbidden = {"typer", "rich", "click", "google", "functions_framework", "cloudevents"}
    assert not top(doc["at_import"]) & (forbidden | {"requests", "charset_normalizer"})
    assert not top(doc["after_run"]) & forbidden
    assert not {m for m in doc["after_run"] if m.startswith("rotation.operator")}  # type: ignore[attr-defined]


def test_gcp_main_imports_from_the_unzipped_bundle_without_boto(
    source: Path, tmp_path: Path
) -> None:
    bundle = build_gcp_bundle(tmp_path / "out", source, python=sys.executable)
    root = _unzip(bundle.path, tmp_path / "workspace")
    (root / "rotation" / "conventions.py").write_text("raise ImportError('source compiled')\n")
    code = (
        "import json, sys, main, rotation; "
        "print(json.dumps({'rotation': rotation.__file__, 'modules': sorted(sys.modules)}))"
    )
    site = Path(sysconfig.get_paths()["purelib"])
    doc = _run_python(sys.executable, [root, site], code, tmp_path)
    assert str(doc["rotation"]).startswith(str(root))
    modules = doc["modules"]
    assert isinstance(modules, list)
    assert not {str(m).split(".")[0] for m in modules} & {"boto3", "botocore", "typer", "rich"}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_only_modules_the_function_imports_ship(source: Path) -> None:
    handler = source / "lambdas" / "aws_rotation" / "handler.py"
    _write(source / "rotation" / "unused.py", "X = 1\n")
    _write(source / "rotation" / "lazy.py", "Y = 2\n")
    _write(source / "rotation" / "typed.py", "Z = 3\n")
    handler.write_text(
        handler.read_text()
        + "\nfrom typing import TYPE_CHECKING\n"
        + "if TYPE_CHECKING:\n    import typer\n    from rotation import typed\n"
        + "def _later() -> None:\n    from rotation import lazy\n"
    )
    files = aws_lambda_files(source)
    assert "rotation/lazy.py" in files  # imported inside a function: loaded at run time
    assert "rotation/unused.py" not in files
    assert "rotation/typed.py" not in files  # only for the type checker


@pytest.mark.parametrize(
    "line",
    [
        "from rotation import cli",
        "import rotation.operator.backend",
        "from rotation.stores.gcp import GcpSecretStore",
        "import typer",
        "from rich.console import Console",
        "import google.cloud.secretmanager",
        "def _later():\n    from rotation import cli\n",
    ],
)
def test_aws_function_importing_what_must_not_ship_fails_the_build(source: Path, line: str) -> None:
    handler = source / "lambdas" / "aws_rotation" / "handler.py"
    handler.write_text(handler.read_text() + "\n" + line + "\n")
    with pytest.raises(BundleError, match=r"AWS rotation Lambda imports .*must not ship"):
        aws_lambda_files(source)


@pytest.mark.parametrize("line", ["import boto3", "from botocore.exceptions import ClientError"])
def test_gcp_function_importing_boto_fails_the_build(source: Path, line: str) -> None:
    main = source / "lambdas" / "gcp_rotation" / "main.py"
    main.write_text(main.read_text() + "\n" + line + "\n")
    with pytest.raises(BundleError, match="GCP Cloud Function imports boto"):
        gcp_function_files(source)


def test_a_lazy_sdk_import_loads_nothing_at_import_and_does_not_fail_the_build(
    source: Path,
) -> None:
    main = source / "lambdas" / "gcp_rotation" / "main.py"
    main.write_text(main.read_text() + "\ndef _aws_only():\n    import boto3\n")
    walk = runtime_modules(source, "main", main)
    assert "boto3" in walk.third_party and "boto3" not in walk.third_party_at_import
    assert "main.py" in gcp_function_files(source)


def test_target_python_is_the_deployed_runtime() -> None:
    from infra.aws_component import LAMBDA_RUNTIME
    from infra.gcp_component import FUNCTION_RUNTIME

    major, minor = TARGET_PYTHON
    assert f"python{major}.{minor}" == LAMBDA_RUNTIME
    assert f"python{major}{minor}" == FUNCTION_RUNTIME


def test_wrong_configured_compiler_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    find_python.cache_clear()
    monkeypatch.setenv(bundle_mod.PYTHON_ENV, "/no/such/python")
    try:
        with pytest.raises(BundleError, match=r"CIO_BUNDLE_PYTHON=/no/such/python is not"):
            find_python()
    finally:
        find_python.cache_clear()


# -- missing inputs -----------------------------------------------------------------


def test_missing_gcp_entry_point_fails_clearly(source: Path, tmp_path: Path) -> None:
    shutil.rmtree(source / "lambdas" / "gcp_rotation")
    with pytest.raises(BundleError) as info:
        build_gcp_bundle(tmp_path, source)
    message = str(info.value)
    assert "lambdas/gcp_rotation/main.py is missing" in message
    assert "handle_event" in message
    assert "clouds: [aws]" in message


def test_missing_aws_handler_fails_clearly(source: Path, tmp_path: Path) -> None:
    (source / "lambdas" / "aws_rotation" / "handler.py").unlink()
    with pytest.raises(BundleError, match=r"handler\.py is missing: .*clouds: \[gcp\]"):
        build_aws_bundle(tmp_path, source)


def test_missing_vendored_package_fails_clearly(source: Path) -> None:
    with pytest.raises(BundleError, match="'no_such_pkg' package is not installed"):
        aws_lambda_files(source, vendored=("no_such_pkg",))


def test_zip_bytes_ignore_insertion_order() -> None:
    a = zip_bytes({"b.py": b"2", "a.py": b"1"})
    b = zip_bytes({"a.py": b"1", "b.py": b"2"})
    assert a == b
    assert zipfile.ZipFile(io.BytesIO(a)).read("a.py") == b"1"


def test_runtime_modules_follow_relative_imports(tmp_path: Path) -> None:
    _write(tmp_path / "rotation" / "__init__.py", "")
    _write(tmp_path / "rotation" / "a.py", "from . import b\nfrom .sub.c import X\n")
    _write(tmp_path / "rotation" / "b.py", "import json\n")
    _write(tmp_path / "rotation" / "sub" / "__init__.py", "")
    _write(tmp_path / "rotation" / "sub" / "c.py", "from ..b import json\nX = 1\n")
    walk = runtime_modules(tmp_path, "rotation.a", tmp_path / "rotation" / "a.py")
    assert set(walk.modules) == {
        "rotation",
        "rotation.a",
        "rotation.b",
        "rotation.sub",
        "rotation.sub.c",
    }
    assert walk.third_party == walk.third_party_at_import == {"json"}
