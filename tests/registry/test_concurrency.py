"""Several processes registering versions and moving one alias at the same moment."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import modelyard as my

REGISTER = textwrap.dedent(
    """
    import json, sys
    import modelyard as my

    class Constant(my.PythonModel):
        def __init__(self, value):
            self.value = value
        def predict(self, model_input, params=None):
            return [self.value] * len(model_input)

    uri, artifacts, count, worker = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = my.Client(uri, artifact_uri=artifacts)
    print("ready", flush=True)
    sys.stdin.readline()  # the start barrier
    versions = []
    for i in range(count):
        v = client.register_model("shared", Constant(worker * 100 + i), input_example={"x": [1.0]})
        versions.append(v.version)
    print(json.dumps(versions))
    """
)

MOVE = textwrap.dedent(
    """
    import sys
    import modelyard as my
    uri, artifacts, version, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = my.Client(uri, artifact_uri=artifacts)
    print("ready", flush=True)
    sys.stdin.readline()  # the start barrier
    for _ in range(rounds):
        client.set_registered_model_alias("shared", "champion", version, reason=f"worker for v{version}")
    print("ok")
    """
)


def _run_all(script: Path, args: list[list[str]]) -> list[str]:
    """Run the script once per argument list, all released at once when every one is loaded
    (a barrier on stdin, not a wall-clock start time); their last output lines."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), *a],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for a in args
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.communicate()[1][-3000:]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out.strip().splitlines()[-1])
    return outputs


def test_versions_are_gap_free_under_concurrent_registration(
    store_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "register.py"
    script.write_text(REGISTER)
    artifacts = str(tmp_path / "artifacts")
    my.Client(store_url, artifact_uri=artifacts).search_registered_models()  # create the schema
    outputs = _run_all(script, [[store_url, artifacts, "5", str(w)] for w in range(4)])
    numbers = sorted(n for out in outputs for n in json.loads(out))
    assert numbers == list(range(1, 21))
    client = my.Client(store_url, artifact_uri=artifacts)
    assert [v.version for v in client.search_model_versions("name = 'shared'")] == list(
        range(20, 0, -1)
    )
    predictions = {
        int(client.load_model(f"models:/shared/{n}").predict({"x": [1.0]})[0]) for n in numbers
    }
    assert len(predictions) == 20  # every version holds its own worker's model


def test_two_processes_moving_one_alias(store_url: str, tmp_path: Path) -> None:
    artifacts = str(tmp_path / "artifacts")
    client = my.Client(store_url, artifact_uri=artifacts)

    class Constant(my.PythonModel):
        def predict(self, model_input, params=None):  # type: ignore[no-untyped-def]
            return [0] * len(model_input)

    for _ in range(2):
        client.register_model("shared", Constant(), input_example={"x": [1.0]})
    script = tmp_path / "move.py"
    script.write_text(MOVE)
    _run_all(script, [[store_url, artifacts, "1", "15"], [store_url, artifacts, "2", "15"]])
    moves = [e for e in reversed(client.get_audit_log("shared")) if e.alias == "champion"]
    assert len(moves) == 30
    # each entry's "from" is exactly the previous entry's "to": no move was lost or interleaved
    for before, after in itertools.pairwise(moves):
        assert after.from_version == before.to_version
    assert client.get_model_version_by_alias("shared", "champion").version == moves[-1].to_version
