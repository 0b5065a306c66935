"""Turn any model URI into a local model folder.

Accepted forms:

- ``models:/NAME@ALIAS`` (e.g. ``models:/butterflyer@champion``), ``models:/NAME/VERSION``,
  ``models:/NAME/latest``: looked up in the MLflow registry on ``paths.mlflow_uri()``;
- a local model folder, a training run folder holding ``model/``, or a ``file://`` URI;
- any other fsspec URI (``gs://``, ``s3://``, ``memory://``, ``https://`` to a folder
  fsspec can list).

Registry versions whose artifacts are not on this disk, and remote folders, are
downloaded once into ``cache/models/`` (atomically: a partial download is never
returned). The serving app calls this again to notice a new champion.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from butterflyer.errors import ModelError, RegistryError
from butterflyer.fileio import is_remote
from butterflyer.models.meta import META_FILE
from butterflyer.paths import cache_dir

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/NAME@ALIAS`` -> ``(NAME, ALIAS, None)``; ``models:/NAME/3`` -> ``(NAME, None, "3")``."""
    match = _MODELS_URI.match(uri.strip())
    if not match:
        raise RegistryError(f"cannot parse {uri!r}; use models:/NAME@ALIAS or models:/NAME/VERSION "
                            "(e.g. models:/butterflyer@champion)")
    return match["name"], match["alias"], match["version"]


def resolve_model_uri(uri: str) -> Path:
    """A local folder holding ``meta.json`` for ``uri`` (see the module docstring for forms)."""
    uri = str(uri).strip()
    if not uri:
        raise RegistryError("empty model URI; pass a model folder or models:/butterflyer@champion")
    if uri.startswith("models:/"):
        return _resolve_registry(uri)
    if uri.startswith("file://"):
        return _check_local(Path(unquote(urlparse(uri).path)), uri)
    if is_remote(uri):
        return _download_fsspec(uri)
    return _check_local(Path(uri).expanduser(), uri)


def registry_version(uri: str) -> int:
    """The version number a ``models:/`` URI points at now (what the app shows as the model's version)."""
    return _version_info(uri).version


def _version_info(uri: str) -> Any:
    from butterflyer.registry import store

    name, alias, version = parse_models_uri(uri)
    if version == "latest":
        versions = store.list_versions(name)
        if not versions:
            raise RegistryError(f"model {name!r} has no versions; run 'butterflyer pipeline run' or "
                                "'butterflyer models register FOLDER'")
        return versions[0]
    try:
        return store.get_version(alias or version or "", name)
    except RegistryError as exc:
        raise RegistryError(f"{uri} does not resolve: {exc}. Run 'butterflyer up' (or "
                            "'butterflyer pipeline run') to train and promote a champion") from exc


def _check_local(path: Path, uri: str) -> Path:
    """A local model folder, or the ``model/`` inside a training run folder."""
    from butterflyer.models.folder import resolve_model_folder

    if not path.exists():
        raise RegistryError(f"model folder {uri} does not exist; train one ('butterflyer train') or pass "
                            "models:/butterflyer@champion")
    try:
        return resolve_model_folder(path).resolve()
    except ModelError as exc:
        raise RegistryError(str(exc)) from exc


def _resolve_registry(uri: str) -> Path:
    name = parse_models_uri(uri)[0]
    info = _version_info(uri)
    source = info.source
    if source.startswith("file://"):
        local = Path(unquote(urlparse(source).path))
    elif "://" not in source:
        local = Path(source)
    else:
        local = None
    if local is not None and (local / META_FILE).is_file():
        return local.resolve()
    target = cache_dir() / "models" / f"{name}-v{info.version}"
    if (target / META_FILE).is_file():
        return target
    return _download_mlflow(source, target)


def _download_mlflow(source: str, target: Path) -> Path:
    import mlflow.artifacts

    from butterflyer.paths import mlflow_uri

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(tmp), tracking_uri=mlflow_uri())
        found = next((p.parent for p in tmp.rglob(META_FILE)), None)
        if found is None:
            raise RegistryError(f"registry source {source} holds no {META_FILE}")
        _publish(found, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _download_fsspec(uri: str) -> Path:
    import fsspec

    fs, root = fsspec.core.url_to_fs(uri)
    try:
        found = fs.find(root, detail=True)
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot list model folder {uri}: {exc}") from exc
    if not any(p.rstrip("/").endswith("/" + META_FILE) or p == META_FILE for p in found):
        raise RegistryError(f"{uri} is not a saved model ({META_FILE} missing)")
    # The key covers the listing (names, sizes, etags/mtimes) so a changed remote folder is fetched again.
    listing = sorted((p, info.get("size"), str(info.get("ETag") or info.get("etag") or info.get("mtime")
                                                 or info.get("updated") or info.get("md5Hash") or ""))
                     for p, info in found.items())
    key = hashlib.sha256(json.dumps([uri, listing], default=str).encode()).hexdigest()[:16]
    target = cache_dir() / "models" / f"remote-{key}"
    if (target / META_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        prefix = root.rstrip("/") + "/"
        for path in found:
            rel = path[len(prefix):] if path.startswith(prefix) else Path(path).name
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(path, str(dest))
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _publish(src: Path, target: Path) -> None:
    """Move a complete download into place; a concurrent winner is kept."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.pub.", dir=target.parent))
    shutil.rmtree(staging)
    shutil.copytree(src, staging)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / META_FILE).is_file():
            raise
