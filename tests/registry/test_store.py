"""Registering versions with lineage, aliases, promotion history and rollback."""

from __future__ import annotations

import pytest

from butterflyer.errors import RegistryError
from butterflyer.registry import CHALLENGER, CHAMPION, store


def test_register_records_lineage_and_is_idempotent(mlflow_store, make_model):
    folder = make_model(top1=0.75, data_sha="sha-x")
    info, created = store.register_model_dir(folder, name="bf")
    assert created and info.version == 1
    assert info.tags["data_manifest_sha256"] == "sha-x"
    assert info.tags["git_commit"] == "abc123"
    assert info.tags["architecture"] == "tiny"
    assert info.metrics["test_top1"] == pytest.approx(0.75)
    assert '"epochs": 1' in info.tags["params"]
    assert CHALLENGER in info.aliases
    again, created_again = store.register_model_dir(folder, name="bf")
    assert not created_again and again.version == 1
    assert [v.version for v in store.list_versions("bf")] == [1]


def test_registered_artifacts_hold_the_model(mlflow_store, make_model, tmp_path):
    report = tmp_path / "report.md"
    report.write_text("# report\n")
    info, _ = store.register_model_dir(make_model(), name="bf", report=report)
    from butterflyer.registry.resolve import resolve_model_uri

    folder = resolve_model_uri(info.uri)
    assert (folder / "meta.json").is_file() and (folder / "model.safetensors").is_file()
    assert info.tags["report"] == str(report)


def test_register_refuses_a_folder_without_a_model(mlflow_store, tmp_path):
    with pytest.raises(Exception, match="meta.json"):
        store.register_model_dir(tmp_path, name="bf")


def test_promote_and_rollback_walk_back_through_champions(mlflow_store, make_model):
    versions = [store.register_model_dir(make_model(), name="bf")[0].version for _ in range(3)]
    for v in versions:
        store.promote(v, name="bf", reason=f"test {v}")
    assert store.alias_version(CHAMPION, "bf").version == 3
    assert store.alias_version(CHALLENGER, "bf") is None  # cleared when its version was promoted
    assert store.rollback(name="bf").version == 2
    assert store.rollback(name="bf").version == 1
    with pytest.raises(RegistryError, match="no earlier champion"):
        store.rollback(name="bf")
    assert store.get_version(2, "bf").tags.get("rolled_back_at")
    assert store.rollback(to=3, name="bf").version == 3
    assert [e["action"] for e in store.history("bf")][-1] == "rollback"


def test_rollback_without_champion_and_unknown_versions_say_what_to_do(mlflow_store, make_model):
    store.register_model_dir(make_model(), name="bf")
    with pytest.raises(RegistryError, match="promote one first"):
        store.rollback(name="bf")
    with pytest.raises(RegistryError, match="models list"):
        store.get_version(42, "bf")
    with pytest.raises(RegistryError, match="no version or alias"):
        store.get_version("nonexistent", "bf")


def test_re_registering_the_champion_does_not_make_it_challenger_again(mlflow_store, make_model):
    folder = make_model()
    info, _ = store.register_model_dir(folder, name="bf")
    store.promote(info.version, name="bf")
    again, created = store.register_model_dir(folder, name="bf")
    assert not created and again.aliases == [CHAMPION]


def test_a_corrupt_store_is_an_error_not_an_empty_registry(tmp_path, monkeypatch):
    bad = tmp_path / "mlflow.db"
    bad.write_bytes(b"this is not an sqlite database " * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{bad}")
    with pytest.raises(RegistryError, match="cannot be read .*not a database"):
        store.list_versions()
    with pytest.raises(RegistryError, match="cannot be read"):
        store.alias_version("champion")


@pytest.mark.slow  # sqlite waits for the lock before it gives up
def test_a_locked_store_is_an_error_not_an_empty_registry(mlflow_store, make_model):
    import sqlite3

    store.register_model_dir(make_model())
    holder = sqlite3.connect(mlflow_store.removeprefix("sqlite:///"), timeout=0)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing: readers wait, then fail
    try:
        with pytest.raises(RegistryError, match="cannot be read .*locked"):
            store.list_versions()
    finally:
        holder.rollback()
        holder.close()
    assert [v.version for v in store.list_versions()] == [1]
