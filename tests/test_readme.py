"""Every snippet and command in README.md and the documentation site (docs/*.md) runs as written.

The ```python and ```bash blocks run in one scratch folder — their working directory, whose
``./.modelyard`` is the home — the README section by section, then the site page by page in
the order of mkdocs.yml's nav (a later page may use what an earlier one made).
A block just after an ``<!-- illustrative -->`` comment is skipped (``./dev demo`` sets up a
virtual environment; the test runs ``modelyard demo`` instead). A block whose first line is a
comment naming a file (``# pipelines.py``, ``# credit_repo/definitions.py``, ``# gate.yaml``)
is that file: it is written into the folder before any section runs.

What the harness does so that the commands run unattended, and nothing else:

* ``modelyard ...`` commands run through the CLI in this process (the click app the console
  script runs, without a process start each); a python block runs in a new process;
* commands that start a server (``modelyard serve``, ``modelyard features serve``,
  ``modelyard ui``, ``modelyard server``, ``modelyard scheduler`` without ``--once``) run as
  processes on a free port (``--port 8080`` and ``localhost:8080`` are rewritten, in python
  blocks too; a command without ``--port`` gets one) until the end of their section (or page),
  then get SIGTERM; they must be ready first and exit cleanly after;
* other commands (``curl``) run in bash, curl with ``--fail-with-body`` so that an HTTP error
  fails the test; the webhook in ``alerts.yaml`` points at a receiver on loopback;
* the data a section needs comes from fixtures: the demo (``modelyard demo``, small) for the
  sections that use what it left; ``credit_repo/data/finances.parquet`` and
  ``applications.parquet`` (the README says what they hold).

``MODELYARD_README_TRACKING_URI`` points every block at another store — an empty PostgreSQL
database, or a team server — instead of the scratch folder's. Against a team server
(``http://...``; tests/server/test_readme_remote.py starts one) the sections in
``REMOTE_SKIPS`` are skipped with the reason given there.
"""

from __future__ import annotations

import datetime as _dt
import http.server
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from modelyard.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
TRACKING_URI = os.environ.get("MODELYARD_README_TRACKING_URI")
BIN = Path(sys.executable).parent
ILLUSTRATIVE = re.compile(r"<!--\s*illustrative\b.*?-->", re.S)
FILE_LINE = re.compile(r"^#\s*([\w./-]+\.(?:py|ya?ml))\s*$")
WEBHOOK = "https://hooks.example/ml"
NEEDS_DEMO = ("Quickstart", "Serving", "Monitoring", "getting-started.md", "serving.md", "monitoring.md")  # sections and pages that use what the demo left
READY_SECONDS = 240  # a loaded machine (CI shares its cores) may take long to import and load
REMOTE = bool(TRACKING_URI and TRACKING_URI.startswith(("http://", "https://")))
REMOTE_SKIPS = {  # page -> why it cannot run against a team server (yet)
    "ui.md": "the web UI reads its store in process (on a team, it is the team server's own pages)",
    "server.md": "starts its own server on the scratch folder's store",
}


@dataclass
class Block:
    lang: str
    code: str
    line: int
    illustrative: bool
    file: str | None = None


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def runnable(self) -> list[Block]:
        return [b for b in self.blocks if b.lang in ("python", "bash") and not b.illustrative and b.file is None]


def sections(path: Path = README, split: bool = True) -> list[Section]:
    """A page's sections (``## ...``; the whole page as one when not ``split``) and their fenced
    blocks, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Section] = [Section("(top)" if split else path.relative_to(DOCS).as_posix())]
    i = 0
    while i < len(lines):
        line = lines[i]
        if split and line.startswith("## "):
            found.append(Section(line[3:].strip()))
        elif line.startswith("```"):
            lang, start = line[3:].strip(), i
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            code = "\n".join(lines[i + 1 : end]) + "\n"
            previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            named = FILE_LINE.match(lines[i + 1]) if end > i + 1 and lang in ("python", "yaml") else None
            found[-1].blocks.append(Block(lang, code, start + 1, bool(ILLUSTRATIVE.fullmatch(previous.strip())), named.group(1) if named else None))
            i = end
        i += 1
    return [s for s in found if s.blocks]


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    return []


def pages() -> list[Section]:
    """The documentation site's pages, one section each, in the order of mkdocs.yml's nav."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    return [s for page in _nav_pages(nav) for s in sections(DOCS / page, split=False)]


SECTIONS = sections()
PAGES = pages()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_") and k != "PYTEST_CURRENT_TEST"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "100"
    if TRACKING_URI:
        env["MODELYARD_TRACKING_URI"] = TRACKING_URI
    return env


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        _Receiver.bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ml"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, webhook: str) -> Path:
    """The scratch folder: the README's files, and the data its sections read."""
    folder = tmp_path_factory.mktemp("readme")
    for section in [*SECTIONS, *PAGES]:
        for block in section.blocks:
            if block.file is not None:
                target = folder / block.file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code.replace(WEBHOOK, webhook), encoding="utf-8")
    rng = np.random.default_rng(7)
    # credit_repo/data/finances.parquet: one row per applicant and event, over the last days
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    times = [now - _dt.timedelta(days=3 - i // 20, hours=i % 20) for i in range(40)]
    finances = pd.DataFrame(
        {
            "applicant_id": [i % 20 for i in range(40)],
            "event_time": times,
            "created": times,
            "income": rng.lognormal(np.log(42.0), 0.35, 40).round(2),
            "debt_ratio": rng.beta(2.0, 5.0, 40).round(4),
        }
    )
    (folder / "credit_repo" / "data").mkdir(parents=True, exist_ok=True)
    finances.to_parquet(folder / "credit_repo" / "data" / "finances.parquet", index=False)
    # applications.parquet: rows with the credit model's five inputs
    age = rng.integers(21, 76, 500).astype("float64")
    pd.DataFrame(
        {
            "income": rng.lognormal(np.log(42.0), 0.35, 500).round(2),
            "debt_ratio": rng.beta(2.0, 5.0, 500).round(4),
            "age": age,
            "open_loans": rng.poisson(2.0, 500).astype("float64"),
            "credit_years": np.clip(age - 20 - rng.exponential(4.0, 500), 0, None).round(1),
        }
    ).to_parquet(folder / "applications.parquet", index=False)
    return folder


def _cli(folder: Path, args: list[str], where: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("MODELYARD_HOME", raising=False)
        mp.delenv("MODELYARD_ARTIFACT_URI", raising=False)
        if TRACKING_URI:
            mp.setenv("MODELYARD_TRACKING_URI", TRACKING_URI)
        else:
            mp.delenv("MODELYARD_TRACKING_URI", raising=False)
        result = CliRunner().invoke(app, args, env={"COLUMNS": "100"})
    assert result.exit_code == 0, f"{where}: `modelyard {shlex.join(args)}` exited {result.exit_code}:\n{result.output}"


@pytest.fixture(scope="module")
def demo(workspace: Path) -> Path:
    """What ``./dev demo`` leaves, on a smaller scenario."""
    _cli(workspace, ["demo", "--weeks", "8", "--rows-per-week", "250"], "the demo fixture")
    return workspace


class _Servers:
    """The long-running commands of a section: started, waited for, stopped."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, tokens: list[str], where: str) -> None:
        metrics = Path(tempfile.mkdtemp(prefix=".metrics-", dir=self.folder))  # several workers' counters
        log = metrics.with_suffix(".log")
        env = {**_env(self.folder), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        with log.open("wb") as out:
            process = subprocess.Popen([str(BIN / "modelyard"), *tokens[1:]], cwd=self.folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((where, process, log))
        deadline = time.monotonic() + READY_SECONDS
        port = tokens[tokens.index("--port") + 1] if "--port" in tokens else None
        health = "/v2/health/ready" if tokens[1] == "serve" else "/health"
        while True:
            if process.poll() is not None:
                pytest.fail(f"{where}: `{shlex.join(tokens)}` exited {process.returncode} before it was ready:\n{log.read_text()}")
            if port is not None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            elif "started" in log.read_text():  # the scheduler logs its start
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{where}: `{shlex.join(tokens)}` was not ready after {READY_SECONDS}s:\n{log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        failures = []
        for where, process, log in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    failures.append(f"{where}: did not stop within 30s of SIGTERM:\n{log.read_text()}")
                    continue
            if process.returncode not in (0, -signal.SIGTERM) or "Traceback" in log.read_text():
                failures.append(f"{where}: exited {process.returncode}:\n{log.read_text()}")
        self.running.clear()
        assert not failures, "\n\n".join(failures)


def _commands(code: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line for line in joined.splitlines() if shlex.split(line, comments=True)]


def _run_bash_block(block: Block, folder: Path, servers: _Servers, ports: dict[str, str], where: str) -> None:
    for line in _commands(block.code):
        for written, free in ports.items():
            line = line.replace(written, free)
        tokens = shlex.split(line, comments=True)
        server = tokens[:2] in (["modelyard", "serve"], ["modelyard", "ui"], ["modelyard", "server"]) or tokens[:3] == ["modelyard", "features", "serve"] or (tokens[:2] == ["modelyard", "scheduler"] and "--once" not in tokens)
        if server and tokens[1] != "scheduler" and "--port" not in tokens:
            tokens += ["--port", str(_free_port())]
        if server:
            servers.start(tokens, f"{where}: {line.strip()}")
        elif tokens[0] == "modelyard":
            _cli(folder, tokens[1:], where)
        else:
            if tokens[0] == "curl":
                tokens.insert(1, "--fail-with-body")
            done = subprocess.run(["bash", "-c", shlex.join(tokens)], cwd=folder, env=_env(folder), capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{where}: `{line.strip()}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def _run_python_block(block: Block, folder: Path, ports: dict[str, str], where: str) -> None:
    code = block.code
    for written, free in ports.items():
        code = code.replace(written, free)
    script = folder / f".readme-block-{abs(hash(where))}.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, script.name], cwd=folder, env=_env(folder), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{where}:\n{done.stdout}\n{done.stderr}"


def _ports(section: Section) -> dict[str, str]:
    """``8080`` as written, a free port as run (one per section)."""
    if not any("8080" in b.code for b in section.runnable):
        return {}
    free = str(_free_port())
    return {"--port 8080": f"--port {free}", "localhost:8080": f"127.0.0.1:{free}"}


def _run_section(section: Section, page: str, workspace: Path, request: pytest.FixtureRequest) -> None:
    if REMOTE and page.removeprefix("docs/") in REMOTE_SKIPS:
        pytest.skip(REMOTE_SKIPS[page.removeprefix("docs/")])
    if section.title.startswith(NEEDS_DEMO):
        request.getfixturevalue("demo")
    servers = _Servers(workspace)
    ports = _ports(section)
    try:
        for block in section.runnable:
            where = f"{page}:{block.line} ({section.title})"
            if block.lang == "python":
                _run_python_block(block, workspace, ports, where)
            else:
                _run_bash_block(block, workspace, servers, ports, where)
    finally:
        servers.stop()


def test_the_readme_runs_as_written(workspace: Path, request: pytest.FixtureRequest) -> None:
    """The README keeps the two commands (illustrative: they set up a venv) and links; any
    runnable block someone adds to it runs here, section by section."""
    assert any(b.illustrative and "./dev demo" in b.code for s in SECTIONS for b in s.blocks)
    for section in (s for s in SECTIONS if s.runnable):
        _run_section(section, "README.md", workspace, request)


@pytest.mark.parametrize("page", [p for p in PAGES if p.runnable], ids=lambda p: p.title)
def test_the_docs_run_as_written(page: Section, workspace: Path, request: pytest.FixtureRequest) -> None:
    _run_section(page, f"docs/{page.title}", workspace, request)


def test_the_readme_marks_few_blocks_illustrative() -> None:
    blocks = [b for s in SECTIONS for b in s.blocks]
    assert sum(b.illustrative for b in blocks) <= 2


def test_the_docs_mark_few_blocks_illustrative_and_name_their_files() -> None:
    blocks = [b for p in PAGES for b in p.blocks if b.lang in ("python", "bash")]
    illustrative = [f"{p.title}:{b.line}" for p in PAGES for b in p.blocks if b.illustrative and b.lang in ("python", "bash")]
    # the two commands, two setups that need PostgreSQL and a bucket, a webhook receiver, a Spark session
    assert len(illustrative) <= 5, illustrative
    assert len(blocks) - len(illustrative) >= 15
    assert {b.file for p in PAGES for b in p.blocks if b.file} >= {"credit_repo/definitions.py", "gate.yaml", "alerts.yaml", "pipelines.py"}
    assert {p.title for p in PAGES if p.runnable} >= {
        "getting-started.md", "tracking.md", "registry.md", "features.md", "serving.md", "monitoring.md", "pipelines.md", "ui.md", "server.md",
    }
