"""Artifact names and local folders: every stored name is checked, links are not followed
unless asked, and nothing is read or written outside the folder it belongs to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelyard


@pytest.fixture
def run_id(client: modelyard.Client) -> str:
    return client.create_run(client.create_experiment("exp")).info.run_id


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    (tmp_path / "out" / "f").mkdir(parents=True)
    (tmp_path / "out" / "f" / "a.txt").write_text("A")
    return tmp_path / "out"


def _stored(client: modelyard.Client, run_id: str) -> list[str]:
    return [f.path for f in client.list_artifact_files(run_id)]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_log_artifacts_refuses_symbolic_links_by_default(
    client: modelyard.Client, run_id: str, folder: Path, tmp_path: Path, kind: str
) -> None:
    if kind == "file":
        (folder / "f" / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
        name = "f/link.txt"
    else:
        (folder / "f" / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
        name = "f/linked"
    with pytest.raises(modelyard.ValidationError, match=f"'{name}' .* is a symbolic link.*follow_symlinks=True"):
        client.log_artifacts(run_id, folder)
    assert _stored(client, run_id) == []  # nothing half-recorded


def test_log_artifacts_follows_links_when_asked(
    client: modelyard.Client, run_id: str, folder: Path, tmp_path: Path
) -> None:
    (folder / "f" / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (folder / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    client.log_artifacts(run_id, folder, "d", follow_symlinks=True)
    assert _stored(client, run_id) == ["d/f/a.txt", "d/f/link.txt", "d/linked/secret.txt"]
    assert client.read_artifact(run_id, "d/f/link.txt") == b"secret"


def test_a_link_loop_is_refused_even_when_following(
    client: modelyard.Client, run_id: str, folder: Path
) -> None:
    (folder / "f" / "loop").symlink_to(folder, target_is_directory=True)
    with pytest.raises(modelyard.ValidationError, match="'f/loop' .* links back to a folder above it"):
        client.log_artifacts(run_id, folder, follow_symlinks=True)


def test_local_file_names_are_checked_like_artifact_paths(
    client: modelyard.Client, run_id: str, folder: Path
) -> None:
    evil = folder / "a\\..\\..\\evil.txt"
    evil.write_text("x")
    with pytest.raises(modelyard.ValidationError, match="climbs out"):
        client.log_artifacts(run_id, folder)
    with pytest.raises(modelyard.ValidationError, match="climbs out"):
        client.log_artifact(run_id, evil)
    assert _stored(client, run_id) == []


@pytest.mark.parametrize("name", ["C:/Windows/x", "c:x", "C:\\Windows\\x"])
def test_drive_letters_are_refused(client: modelyard.Client, run_id: str, name: str) -> None:
    with pytest.raises(modelyard.ValidationError, match="starts with a drive letter"):
        client.log_text(run_id, "x", name)
    assert _stored(client, run_id) == []


def test_download_never_writes_outside_its_folder(
    client: modelyard.Client, run_id: str, tmp_path: Path
) -> None:
    """A name that climbs out, stored by other means than logging (an old store, a bad writer)."""
    digest, size = client.blobs.put_bytes(b"x")
    client.store.record_artifacts(run_id, [("../../escaped.txt", digest, size)])
    (tmp_path / "dl" / "a").mkdir(parents=True)
    with pytest.raises(modelyard.ValidationError, match="climbs out"):
        client.download_artifacts(run_id, "", tmp_path / "dl" / "a")
    assert not (tmp_path / "escaped.txt").exists()
    assert os.listdir(tmp_path / "dl" / "a") == []
