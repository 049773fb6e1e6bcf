"""A step call packed for another process (the process and Ray engines), and run there.

The packed bytes hold the step's function, its resolved inputs, the environment it runs in
(the pipeline run and step, the store's URI and token) and the source of each pipeline file
the call refers to. A file read by ``load_file`` is a module whose name no other process can
import (``modelyard_pipelines_<digest of its path>``), so the worker defines that module from
the shipped source, under the same name, before it unpickles the call: the file's helpers and
classes resolve there as they do here, and the file need not exist on the worker's machine.

Each execution is an attempt with its own id, in ``$MODELYARD_PIPELINE_ATTEMPT`` while the
step runs (tracking runs started then are tagged with it): when Ray retries a step whose node
died, the runner links the runs of the attempt whose result it kept, not those of the dead one.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle

from modelyard.registry import _webhooks
from modelyard.tracking import _openlineage

FILE_MODULE_PREFIX = "modelyard_pipelines_"
ATTEMPT_ENV = "MODELYARD_PIPELINE_ATTEMPT"
SOURCE = "__modelyard_source__"  # a pipeline file's text as it was loaded (see load_file)
_DIGEST = "__modelyard_source_digest__"


def file_module_name(file: Path) -> str:
    """The module name of a pipeline file: the same in every process (never ``hash()``, which
    Python salts per process), since it is part of every step's code hash."""
    return f"{FILE_MODULE_PREFIX}{hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:16]}"


def file_modules() -> list[types.ModuleType]:
    """The pipeline files loaded in this process, as modules."""
    return [
        m
        for name, m in list(sys.modules.items())
        if name.startswith(FILE_MODULE_PREFIX) and getattr(m, "__file__", None)
    ]


def pack(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    env: dict[str, str],
    *,
    same_machine: bool,
) -> bytes:
    """``same_machine``: the worker runs here (the process engine, a local Ray), so the modules
    beside a pipeline file are imported from its folder; elsewhere they come shipped (see
    ``_ray.shipped_code``)."""
    call = cloudpickle.dumps((fn, args, kwargs, env), protocol=5)
    # a file the call refers to by reference has its module name in the pickle
    files = [
        (m.__name__, str(m.__file__), getattr(m, SOURCE, None) or Path(str(m.__file__)).read_text())
        for m in file_modules()
        if m.__name__.encode() in call
    ]
    folders = sorted({str(Path(path).parent) for _, path, _ in files}) if same_machine else []
    return bytes(cloudpickle.dumps((files, folders, call), protocol=5))


def run_payload(payload: bytes) -> tuple[str, bytes]:
    """Run one packed step call; return the attempt's id and the pickled result."""
    files, folders, call = cloudpickle.loads(payload)
    sys.path.extend(f for f in folders if f not in sys.path)
    for name, path, source in files:
        _define(name, path, source)
    fn, args, kwargs, env = cloudpickle.loads(call)
    attempt = uuid.uuid4().hex
    os.environ.update({**env, ATTEMPT_ENV: attempt})
    try:
        return attempt, bytes(cloudpickle.dumps(fn(*args, **kwargs), protocol=5))
    finally:  # a pool's worker ends without atexit: send the step's events now
        os.environ.pop(ATTEMPT_ENV, None)
        _webhooks.flush_all()
        _openlineage.flush_all()


def _define(name: str, path: str, source: str) -> None:
    """Make the pipeline file ``path`` the module ``name`` here, from its shipped source (once
    per version of the source: a worker that outlives an edit gets the new one)."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    if getattr(sys.modules.get(name), _DIGEST, None) == digest:
        return
    module = types.ModuleType(name)
    module.__file__ = path
    setattr(module, _DIGEST, digest)
    # tracebacks show the file's lines, even where the file is not
    linecache.cache[path] = (len(source), None, source.splitlines(keepends=True), path)
    sys.modules[name] = module
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
