"""Function bundles: same inputs, same bytes; a clear error when an entry point is missing."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from infra.bundle import (
    FIXED_DATE,
    VENDORED_FOR_AWS,
    BundleError,
    aws_lambda_files,
    build_aws_bundle,
    build_gcp_bundle,
    zip_bytes,
)
from tests.program.harness import make_source_tree


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source_tree(tmp_path / "src")


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_aws_bundle_is_byte_identical_across_builds(source: Path, tmp_path: Path) -> None:
    first = build_aws_bundle(tmp_path / "one", source)
    # Touch every file and leave bytecode behind: neither may change the bundle.
    for path in source.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (source / "rotation" / "__pycache__").mkdir(exist_ok=True)
    (source / "rotation" / "__pycache__" / "engine.cpython-311.pyc").write_bytes(b"\0" * 16)
    second = build_aws_bundle(tmp_path / "two", source)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    assert len(first.sha256_b64) == 44


def test_gcp_bundle_is_byte_identical_across_builds(source: Path, tmp_path: Path) -> None:
    first = build_gcp_bundle(tmp_path / "one", source)
    second = build_gcp_bundle(tmp_path / "two", source)
    assert first.path.read_bytes() == second.path.read_bytes()


def test_code_change_changes_the_hash(source: Path, tmp_path: Path) -> None:
    before = build_aws_bundle(tmp_path / "a", source)
    handler = source / "lambdas" / "aws_rotation" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert build_aws_bundle(tmp_path / "b", source).sha256 != before.sha256


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
        "requests/__init__.py",
        "urllib3/__init__.py",
        "idna/__init__.py",
        "certifi/cacert.pem",
        "charset_normalizer/__init__.py",
        "charset_normalizer/md.py",
    ):
        assert required in names, required
    assert {n.split("/")[0] for n in names} == {"lambdas", "rotation", *VENDORED_FOR_AWS}
    assert not any("__pycache__" in n or n.endswith((".pyc", ".so")) for n in names)
    assert not any(n.startswith("lambdas/gcp_rotation") for n in names)
    with zipfile.ZipFile(bundle.path) as archive:
        for info in archive.infolist():
            assert info.date_time == FIXED_DATE
            assert info.external_attr >> 16 == 0o100644


def test_gcp_bundle_layout(source: Path, tmp_path: Path) -> None:
    bundle = build_gcp_bundle(tmp_path, source)
    names = _names(bundle.path)
    assert "main.py" in names and "requirements.txt" in names
    assert "rotation/engine.py" in names
    assert not any(n.startswith(("lambdas/", "requests/")) for n in names)
    with zipfile.ZipFile(bundle.path) as archive:
        main = archive.read("main.py")
        requirements = archive.read("requirements.txt").decode().splitlines()
    assert main == (source / "lambdas" / "gcp_rotation" / "main.py").read_bytes()
    assert any(r.startswith("requests==") for r in requirements)
    assert any(r.startswith("google-cloud-secret-manager==") for r in requirements)


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
