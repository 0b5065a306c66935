"""resolve_model_uri: registry aliases and versions, local folders, fsspec URIs, errors."""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import fsspec
import pytest

from butterflyer.errors import RegistryError
from butterflyer.registry import store
from butterflyer.registry.resolve import parse_models_uri, resolve_model_uri


def test_parse_models_uri():
    assert parse_models_uri("models:/butterflyer@champion") == ("butterflyer", "champion", None)
    assert parse_models_uri("models:/butterflyer/3") == ("butterflyer", None, "3")
    with pytest.raises(RegistryError, match="models:/NAME@ALIAS"):
        parse_models_uri("models:/")


def test_resolve_alias_version_and_latest(mlflow_store, make_model):
    a, _ = store.register_model_dir(make_model(), name="butterflyer")
    b, _ = store.register_model_dir(make_model(), name="butterflyer")
    store.promote(a.version)
    champ = resolve_model_uri("models:/butterflyer@champion")
    assert (champ / "meta.json").is_file()
    assert resolve_model_uri(f"models:/butterflyer/{a.version}") == champ
    latest = resolve_model_uri("models:/butterflyer/latest")
    assert latest == resolve_model_uri(f"models:/butterflyer/{b.version}")
    assert resolve_model_uri("models:/butterflyer@challenger") != champ


def test_resolve_downloads_when_the_registry_copy_is_not_local(mlflow_store, make_model, monkeypatch):
    info, _ = store.register_model_dir(make_model(), name="bf")
    real = store.get_version

    def remote_source(ref, name="butterflyer"):
        got = real(ref, name)
        got.source = "mlflow-artifacts:/pretend/remote"
        return got

    downloaded = []

    def fake_download(artifact_uri, dst_path, tracking_uri=None):
        downloaded.append(artifact_uri)
        shutil.copytree(urlparse(info.source).path, f"{dst_path}/model")
        return dst_path

    monkeypatch.setattr(store, "get_version", remote_source)
    monkeypatch.setattr("mlflow.artifacts.download_artifacts", fake_download)
    folder = resolve_model_uri("models:/bf/1")
    assert (folder / "model.safetensors").is_file() and "cache" in str(folder)
    assert resolve_model_uri("models:/bf/1") == folder and len(downloaded) == 1  # cached


def test_resolve_missing_alias_says_how_to_get_a_champion(mlflow_store):
    with pytest.raises(RegistryError, match="butterflyer up"):
        resolve_model_uri("models:/butterflyer@champion")


def test_resolve_local_folder_file_uri_and_errors(make_model, tmp_path):
    folder = make_model()
    assert resolve_model_uri(str(folder)) == folder.resolve()
    assert resolve_model_uri(folder.as_uri()) == folder.resolve()
    with pytest.raises(RegistryError, match="does not exist"):
        resolve_model_uri(str(tmp_path / "nope"))
    with pytest.raises(RegistryError, match="meta.json"):
        resolve_model_uri(str(tmp_path))
    with pytest.raises(RegistryError, match="empty"):
        resolve_model_uri("  ")


def test_resolve_fsspec_folder_is_fetched_once_and_refetched_when_changed(make_model):
    folder = make_model()
    fs = fsspec.filesystem("memory")
    for path in folder.iterdir():
        fs.pipe(f"/bucket/m/{path.name}", path.read_bytes())
    local = resolve_model_uri("memory://bucket/m")
    assert (local / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    assert resolve_model_uri("memory://bucket/m") == local
    fs.pipe("/bucket/m/extra.txt", b"changed")
    assert resolve_model_uri("memory://bucket/m") != local
    fs.pipe("/bucket/empty/readme.txt", b"x")
    with pytest.raises(RegistryError, match="meta.json"):
        resolve_model_uri("memory://bucket/empty")


def test_registry_version_follows_the_alias(mlflow_store, make_model):
    from butterflyer.registry import store
    from butterflyer.registry.resolve import registry_version

    for top1 in (0.7, 0.8):
        store.register_model_dir(make_model(top1=top1))
    store.promote(2)
    assert registry_version("models:/butterflyer@champion") == 2
    assert registry_version("models:/butterflyer/1") == 1
    assert registry_version("models:/butterflyer/latest") == 2
