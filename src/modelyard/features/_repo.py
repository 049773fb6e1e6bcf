"""Loading the definitions of a feature repository: every ``*.py`` file in the folder, then
every ``*.yaml``/``*.yml`` file (which may refer to entities and views defined in Python)."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from modelyard.core.errors import ValidationError
from modelyard.features._definitions import Definition, Entity, FeatureService, FeatureView
from modelyard.features._on_demand import OnDemandFeatureView
from modelyard.features._yaml import load_yaml


def load_definitions(repo: Path) -> list[Definition | OnDemandFeatureView]:
    """The Entity, FeatureView and FeatureService objects defined at module level."""
    if not repo.is_dir():
        raise ValidationError(f"feature repository {str(repo)!r} is not a folder")
    found: dict[tuple[str, str], Definition | OnDemandFeatureView] = {}
    for path in sorted(repo.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"_modelyard_repo_{abs(hash(str(path)))}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
            where = f"{path}:{frames[-1].lineno}" if frames else str(path)
            raise ValidationError(
                f"feature repository file {where} failed to load: {type(error).__name__}: {error}"
            ) from error
        for value in vars(module).values():
            if isinstance(value, Entity | FeatureView | FeatureService | OnDemandFeatureView):
                key = (type(value).__name__, value.name)
                if key in found and found[key] != value:
                    raise ValidationError(
                        f"{key[0]} {value.name!r} is defined twice in {str(repo)!r}, differently"
                    )
                found[key] = value
    for path in sorted([*repo.glob("*.yaml"), *repo.glob("*.yml")]):
        if path.name.startswith(("_", ".")) or path.name == "feature_store.yaml":
            continue
        for value in load_yaml(path, found):
            key = (type(value).__name__, value.name)
            if key in found and found[key] != value:
                raise ValidationError(f"{key[0]} {value.name!r} in {path} is already defined, differently")
            found[key] = value
    return list(found.values())
