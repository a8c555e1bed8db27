"""Current aliases of a few registered models, for commands that decorate an answer with them
(`graph`, `impact`): one registry call per model name, through the MLflow adapter (which imports
MLflow only if the registry is not a server it can ask over REST); failures become warnings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path


def live_aliases(
    names: Iterable[str], *, environ: Mapping[str, str], cwd: Path
) -> tuple[dict[str, dict[str, int]], tuple[str, ...]]:
    """Each model's current aliases, asked of the registry once per name; what cannot be read
    is left out and said in a warning (aliases decorate an answer, they never stop it)."""
    names = list(names)
    if not names:
        return {}, ()
    from lineage.adapters import mlflow as mlflow_adapter

    uri = mlflow_adapter.tracking_uri(environ, cwd)
    registry = mlflow_adapter.registry_uri(environ, uri)
    found: dict[str, dict[str, int]] = {}
    missing: list[str] = []
    warnings: list[str] = []
    for name in names:
        try:
            found[name] = mlflow_adapter.model_aliases(uri, registry, name)
        except mlflow_adapter.ModelNotFoundError:
            missing.append(name)
        except Exception as exc:  # unreachable, refused, or MLflow failing in its own way
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            warnings.append(
                f"could not read model aliases from the registry ({reason}); they are left out"
            )
            break
    if missing:
        listed = ", ".join(repr(n) for n in missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        warnings.insert(
            0,
            f"{'model' if len(missing) == 1 else 'models'} {listed} "
            f"{'is' if len(missing) == 1 else 'are'} not in the registry "
            f"{mlflow_adapter.redact_uri(registry)}, so aliases are unknown; set "
            "MLFLOW_TRACKING_URI to the registry the models were registered in",
        )
    return found, tuple(warnings)
