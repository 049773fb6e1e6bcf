"""Steps as Ray tasks, on a private local Ray or on a running cluster.

``Pipeline.run(engine="ray")`` opens one ``RayRunner`` for the run. It connects on the first
step that is not cached (a run served wholly from the cache needs no cluster) and, if it
connected, disconnects when the run ends: a cluster it joined keeps running; only a private
local Ray it started stops. A process already connected to Ray (its own ``ray.init``) is used
as it is.

Where it connects: ``ray_address``, else ``$RAY_ADDRESS``, else a private local Ray with every
core. ``host:port`` joins the cluster whose head listens there from a node of it (the driver
needs a local raylet, as for any Ray driver), ``auto`` the cluster this machine is a node of,
and ``ray://host:10001`` reaches one from outside through Ray Client (``ray[client]``).

Joining a cluster sets the job's runtime environment: the store's environment
(``MODELYARD_TRACKING_URI`` and friends, never the token, which travels inside each call) and,
as ``py_modules``, the user's code the cluster cannot import: the modules and packages a
pipeline file imported from its own folder, and the top-level package of steps defined in a
module that is not installed. A pipeline file itself travels inside each call (see
``_payload``). Installed packages, modelyard among them, must be installed on the nodes.

Each step is a task with its declared resources (``@step(resources=...)``), ``max_retries=3``
for system failures (a worker or its node dying: Ray runs the task again elsewhere) and
``retry_exceptions=False`` (an exception raised by the step fails the run at once).
"""

from __future__ import annotations

import math
import os
import re
import site
import sys
import sysconfig
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelyard.core.errors import ConfigurationError, ValidationError
from modelyard.core.extras import require
from modelyard.pipelines._payload import FILE_MODULE_PREFIX, run_payload

MAX_RETRIES = 3  # system failures only: a step's own exception is never retried
RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory", "resources")
_RAY_OWN = ("CPU", "GPU", "memory", "object_store_memory")  # asked for by keyword, not by name
_HOST = r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
_ADDRESS = re.compile(rf"auto|ray://{_HOST}(?::\d{{1,5}})?|{_HOST}:\d{{1,5}}")
EXCLUDES = ["__pycache__", "*.pyc", ".git", ".modelyard", ".venv"]


def check_resources(step: str, resources: Mapping[str, Any] | None) -> dict[str, Any]:
    """``resources`` as Ray task options, or the ValidationError naming the step and the key."""
    if resources is None:
        return {}
    if not isinstance(resources, Mapping):
        raise ValidationError(
            f"step {step!r}: resources must be a dict such as {{'num_cpus': 1}}, not {type(resources).__name__}"
        )
    out: dict[str, Any] = {}
    for key, value in resources.items():
        if key not in RESOURCE_KEYS:
            raise ValidationError(
                f"step {step!r}: resources key {key!r} is not one of {list(RESOURCE_KEYS)}; "
                "custom resources go under 'resources': {'resources': {'trainer': 1}}"
            )
        if key == "resources":
            if not isinstance(value, Mapping):
                raise ValidationError(
                    f"step {step!r}: resources['resources'] must be a dict of name to amount, not {type(value).__name__}"
                )
            for name, amount in value.items():
                if not isinstance(name, str) or not name or name in _RAY_OWN:
                    raise ValidationError(
                        f"step {step!r}: custom resource {name!r} must be a name other than {list(_RAY_OWN)} "
                        "(ask for those with num_cpus, num_gpus and memory)"
                    )
                _amount(step, f"resources['resources'][{name!r}]", amount)
            out[key] = dict(value)
        else:
            out[key] = _amount(step, f"resources[{key!r}]", value)
    return out


def _amount(step: str, where: str, value: Any) -> float | int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValidationError(f"step {step!r}: {where} must be a finite number >= 0, not {value!r}")
    return value


def check_address(address: str, source: str = "ray_address") -> str:
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address.strip()):
        raise ValidationError(
            f"{source}={address!r} is not a Ray address; use host:port (the head's GCS port, from a node "
            "of the cluster), ray://host:10001 (Ray Client, from anywhere) or auto"
        )
    return address.strip()


def shipped_code(fns: list[Callable[..., Any]]) -> list[str]:
    """The local paths to ship as ``py_modules`` so that a cluster can import what the steps
    ``fns`` need: for a step in a pipeline file (or a script), the modules and packages the file
    imported from its folder; for a step in a module that is not installed, its top-level
    package. Installed code (site-packages, modelyard) is left to the nodes."""
    found: dict[str, None] = {}
    for fn in fns:
        name = getattr(fn, "__module__", None) or ""
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if not file:
            continue
        top = name.partition(".")[0]
        if name.startswith(FILE_MODULE_PREFIX) or name == "__main__":
            folder = Path(file).resolve().parent
            for other in list(sys.modules.values()):
                path = _beside(other, folder)
                if path is not None:
                    found[path] = None
        elif top != "modelyard":
            root = getattr(sys.modules.get(top), "__file__", None)
            where = Path(root).resolve() if root else None
            if where is not None and not _installed(where):
                found[str(where.parent if where.name == "__init__.py" else where)] = None
    return list(found)


def _beside(module: types.ModuleType, folder: Path) -> str | None:
    """The path of ``module`` if it is a top-level module or package in ``folder``."""
    name, file = module.__name__, getattr(module, "__file__", None)
    if not file or "." in name or name == "__main__" or name.startswith(FILE_MODULE_PREFIX):
        return None
    path = Path(file).resolve()
    if path.name == "__init__.py":
        return str(path.parent) if path.parent.parent == folder else None
    return str(path) if path.parent == folder and path.suffix == ".py" else None


def _installed(path: Path) -> bool:
    """Whether ``path`` is in the standard library or a site-packages folder."""
    paths = sysconfig.get_paths()
    roots = {
        paths["stdlib"],
        paths["platstdlib"],
        paths["purelib"],
        paths["platlib"],
        *site.getsitepackages(),
        site.getusersitepackages(),
    }
    return any(path.is_relative_to(Path(root).resolve()) for root in roots)


class RayRunner:
    """Runs packed step calls as Ray tasks for one pipeline run (see the module's docstring)."""

    def __init__(
        self, *, address: str | None, env: dict[str, str], fns: list[Callable[..., Any]]
    ) -> None:
        self.explicit = address is not None
        if address is not None:
            self.address: str | None = check_address(address)
        elif os.environ.get("RAY_ADDRESS"):
            self.address = check_address(os.environ["RAY_ADDRESS"], "$RAY_ADDRESS")
        else:
            self.address = None
        self.env = env
        self.fns = fns
        self.connected_here = False
        self._ray: Any = None

    @property
    def same_machine(self) -> bool:
        """Whether the tasks run on this machine only (a private local Ray)."""
        return self.address is None

    def connect(self) -> Any:
        if self._ray is not None:
            return self._ray
        ray = require("ray", "Pipelines with engine='ray'")
        quiet = {"log_to_driver": False, "configure_logging": False}
        if ray.is_initialized():
            if self.explicit:
                raise ValidationError(
                    f"ray_address={self.address!r} was given but this process is already connected to Ray; "
                    "leave ray_address out to use that connection, or call ray.shutdown() first"
                )
        elif self.address is None:
            ray.init(
                address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet
            )
            self.connected_here = True
        else:
            runtime_env: dict[str, Any] = {"env_vars": dict(self.env)}
            modules = shipped_code(self.fns)
            if modules:
                runtime_env.update(py_modules=modules, excludes=EXCLUDES)
            try:
                ray.init(address=self.address, runtime_env=runtime_env, **quiet)
            except ConnectionError as error:
                raise ConfigurationError(
                    f"cannot reach the Ray cluster at {self.address!r}: {error}; start one with "
                    "`ray start --head`, or check the address (host:port on a node, ray://host:10001 from outside)"
                ) from error
            self.connected_here = True
        self._ray = ray
        return ray

    def __call__(
        self, payload: bytes, *, name: str, resources: dict[str, Any]
    ) -> tuple[str, bytes]:
        ray = self.connect()
        task = ray.remote(run_payload).options(
            name=name, max_retries=MAX_RETRIES, retry_exceptions=False, **resources
        )
        attempt, data = ray.get(task.remote(payload))
        return str(attempt), bytes(data)

    def close(self) -> None:
        """Disconnect if this runner connected: a joined cluster keeps running."""
        if self.connected_here and self._ray is not None:
            self._ray.shutdown()
        self.connected_here = False
        self._ray = None
