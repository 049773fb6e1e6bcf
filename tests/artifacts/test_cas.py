"""The content-addressed store, on a local folder and on an S3 server on loopback (moto)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.artifacts import ContentAddressedStore, _progress


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto's server mode) on 127.0.0.1."""
    pytest.importorskip("s3fs")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import uuid

    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MODELYARD_S3_ENDPOINT_URL", s3_endpoint)
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def cas(request: pytest.FixtureRequest, tmp_path: Path) -> ContentAddressedStore:
    if request.param == "local":
        return ContentAddressedStore(str(tmp_path / "cas"))
    bucket = request.getfixturevalue("s3_bucket")
    return ContentAddressedStore(f"s3://{bucket}/artifacts")


def test_put_and_get_round_trip(cas: ContentAddressedStore, tmp_path: Path) -> None:
    data = b"model weights" * 1000
    source = tmp_path / "w.bin"
    source.write_bytes(data)
    digest, size = cas.put_file(source)
    assert digest == hashlib.sha256(data).hexdigest() and size == len(data)
    assert cas.exists(digest)
    assert cas.get_bytes(digest) == data
    out = cas.get_file(digest, tmp_path / "out" / "w.bin", size)
    assert out.read_bytes() == data
    assert cas.put_bytes(data) == (digest, size)  # same content, same address


def test_missing_blob(cas: ContentAddressedStore) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not cas.exists(digest)
    with pytest.raises(modelyard.ArtifactError, match=f"blob {digest} is missing"):
        cas.get_bytes(digest)


def test_bad_digest_is_refused(cas: ContentAddressedStore) -> None:
    with pytest.raises(modelyard.ValidationError, match="is not a sha256"):
        cas.get_bytes("../../etc/passwd")


def test_corrupted_blob_on_s3_is_detected(s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    import boto3

    cas = ContentAddressedStore(f"s3://{s3_bucket}/a")
    digest, _ = cas.put_bytes(b"the real bytes")
    key = f"a/blobs/{digest[:2]}/{digest[2:]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").put_object(
        Bucket=s3_bucket, Key=key, Body=b"evil"
    )
    with pytest.raises(modelyard.ArtifactIntegrityError, match="is corrupted"):
        cas.get_bytes(digest)
    with pytest.raises(modelyard.ArtifactIntegrityError):
        cas.get_file(digest, tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists()


def test_local_writes_leave_no_partial_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cas = ContentAddressedStore(str(tmp_path / "cas"))
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 3_000_000)

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        cas.put_file(source)
    assert [p for p in (tmp_path / "cas").rglob("*") if p.is_file()] == []


def test_client_with_s3_artifacts(s3_bucket: str, tmp_path: Path) -> None:
    client = modelyard.Client(f"sqlite:///{tmp_path}/m.db", artifact_uri=f"s3://{s3_bucket}/runs")
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("A")
    client.log_artifacts(run_id, tmp_path / "d", "data")
    assert client.read_artifact(run_id, "data/a.txt") == b"A"


def test_large_transfers_show_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_PROGRESS_MIN_BYTES", "1000")
    seen: list[int] = []
    original = _progress.RichCallback.relative_update

    def spy(self: _progress.RichCallback, inc: int = 1) -> None:
        seen.append(inc)
        original(self, inc)

    monkeypatch.setattr(_progress.RichCallback, "relative_update", spy)
    cas = ContentAddressedStore(str(tmp_path / "cas"))
    source = tmp_path / "f.bin"
    source.write_bytes(b"y" * 2_500_000)
    cas.put_file(source)
    assert sum(seen) == 2_500_000
    assert isinstance(_progress.callback_for("x", 10), _progress.NoOpCallback)


def _overwrite_blob(cas: ContentAddressedStore, digest: str, data: bytes) -> None:
    """Corrupt the stored blob behind the store's back (bit rot, a bad disk, a bad copy)."""
    with cas._fs.open(cas.blob_path(digest), "wb") as handle:
        handle.write(data)


@pytest.mark.parametrize("rot", [b"bit rot!" * 1000 + b"Y", b"truncated"])  # same size / not
@pytest.mark.parametrize("how", ["put_file", "put_bytes"])
def test_writing_a_blob_again_replaces_a_corrupt_copy(
    cas: ContentAddressedStore, tmp_path: Path, rot: bytes, how: str
) -> None:
    data = b"the real bytes!!" * 500 + b"X"
    source = tmp_path / "w.bin"
    source.write_bytes(data)
    digest, size = cas.put_file(source)
    assert len(rot) in (size, 9)
    _overwrite_blob(cas, digest, rot)
    with pytest.raises(modelyard.ArtifactIntegrityError, match="is corrupted") as caught:
        cas.get_bytes(digest)
    assert (cas.put_file(source) if how == "put_file" else cas.put_bytes(data)) == (digest, size)
    assert cas.get_bytes(digest) == data  # healed
    assert "Log the same file again (that replaces the stored blob)" in str(caught.value)


def test_writing_an_intact_blob_again_leaves_it_alone(tmp_path: Path) -> None:
    cas = ContentAddressedStore(str(tmp_path / "cas"))
    digest, _ = cas.put_bytes(b"same")
    blob = Path(cas.blob_path(digest))
    before = blob.stat().st_ino
    cas.put_bytes(b"same")
    assert blob.stat().st_ino == before  # not rewritten
    assert [p for p in (tmp_path / "cas" / "tmp").iterdir()] == []


def test_relogging_an_artifact_heals_its_corrupt_blob(fluent: str, tmp_path: Path) -> None:
    """The D5 repro: 'log the artifact again', as ArtifactIntegrityError advises."""
    source = tmp_path / "imp.txt"
    source.write_bytes(b"important v1")
    digest = hashlib.sha256(b"important v1").hexdigest()
    with modelyard.start_run():
        modelyard.log_artifact(str(source))
    (tmp_path / "artifacts" / "blobs" / digest[:2] / digest[2:]).write_bytes(b"bit rot")
    with modelyard.start_run() as second:
        modelyard.log_artifact(str(source))
    assert modelyard.get_client().read_artifact(second.info.run_id, "imp.txt") == b"important v1"


def test_a_failed_repair_leaves_the_old_blob_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cas = ContentAddressedStore(str(tmp_path / "cas"))
    digest, _ = cas.put_bytes(b"real")
    blob = Path(cas.blob_path(digest))
    blob.write_bytes(b"rot!")

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        cas.put_bytes(b"real")
    assert blob.read_bytes() == b"rot!"  # replaced whole or not at all
    assert list((tmp_path / "cas" / "tmp").iterdir()) == []
