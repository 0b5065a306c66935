"""``butterflyer identify FOLDER --save --report``: groups, report, Darwin Core, resume after interruption."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from butterflyer.cli.main import app
from butterflyer.serve.identify import Identifier
from butterflyer.serve.session import load_served_model
from butterflyer.sightings.batch import STATE_FILE, run_batch
from butterflyer.sightings.store import SightingStore

from .conftest import encode, imagenet_logits, make_constant_onnx, photo


def _folder(root: Path, n: int = 6, size: tuple[int, int] = (120, 90)) -> Path:
    folder = root / "trip"
    (folder / "day2").mkdir(parents=True)
    for i in range(n):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = f"2024:07:{10 + i % 2:02d} 09:0{i}:00"
        sub = folder / ("day2" if i % 2 else "")
        (sub / f"p{i}.jpg").write_bytes(encode(photo(size, seed=i), "JPEG", exif=exif))
    (folder / "notes.jpg").write_bytes(b"a text file with a photo's name\n" * 4)
    return folder


def _model(tmp_path: Path, butterfly: bool = True) -> Path:
    return make_constant_onnx(tmp_path / ("m" if butterfly else "rejecting"), [4.0, 1.0, 0.5],
                              imagenet_logits(butterfly), labels=["MONARCH", "QUEEN", "VICEROY"], version="3")


class Stop(Exception):
    pass


def test_interrupted_batch_resumes_without_repeating_work(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    photos = sorted(folder.rglob("*.jpg"))
    ident = Identifier.from_model(load_served_model(str(_model(tmp_path))))
    store, state = SightingStore(), tmp_path / "out.batch"

    def stop_after_three(done: int, _total: int, _key: str) -> None:
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        run_batch(ident, photos, state, root=folder, store=store, progress=stop_after_three)
    assert len(json.loads((state / STATE_FILE).read_text())["items"]) == 3
    assert store.count() == 3 - sum(p.name == "notes.jpg" for p in photos[:3])

    calls: list[str] = []
    original = ident.identify_bytes
    ident.identify_bytes = (  # counts the photos this run identifies
        lambda data, explain=False, file=None: calls.append(file) or original(data, file=file))
    outcome = run_batch(ident, photos, state, root=folder, store=store)
    assert outcome.resumed == 3 and outcome.done_now == len(photos) - 3 and len(calls) == len(photos) - 3
    assert store.count() == 6 and outcome.saved == 6
    assert outcome.groups == {"identified": 6, "unreadable": 1}


def test_cli_batch_writes_report_and_darwin_core_and_keeps_rejected_photos(tmp_path: Path) -> None:
    folder = _folder(tmp_path, n=4)
    report = tmp_path / "out.html"
    res = CliRunner().invoke(app, ["identify", str(folder), "--save", "--report", str(report),
                                   "--model", str(_model(tmp_path, butterfly=False))])
    assert res.exit_code == 0, res.output
    assert "4 saved as sightings" in res.output and "review 4" in res.output and "unreadable 1" in res.output
    page = report.read_text()
    assert "For review: unsure or not a butterfly (4)" in page and "Unreadable files (1)" in page
    assert page.count("data:image/jpeg;base64,") == 4 and "2024-07-10" in page and "2024-07-11" in page
    assert "day2/p1.jpg" in page and "notes.jpg" in page
    dwc = list(csv.DictReader(io.StringIO(report.with_suffix(".dwc.csv").read_text())))
    assert dwc == []  # not-a-butterfly photos are no Lepidoptera occurrences; the report keeps them
    again = CliRunner().invoke(app, ["identify", str(folder), "--save", "--report", str(report),
                                     "--model", str(_model(tmp_path, butterfly=False))])
    assert "(5 done before, 0 now)" in again.output and SightingStore().count() == 4


def test_cli_single_photo_save_and_species_counts(tmp_path: Path) -> None:
    folder = _folder(tmp_path, n=2)
    report = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["identify", str(folder / "p0.jpg"), "--save", "--report", str(report),
                                   "--model", str(_model(tmp_path))])
    assert res.exit_code == 0, res.output
    (row,) = SightingStore().latest()
    assert row.model_species == "MONARCH" and row.taken_at == "2024-07-10T09:00:00"
    assert "<td>Monarch</td><td>1</td>" in report.read_text()
    dwc = list(csv.DictReader(io.StringIO(report.with_suffix(".dwc.csv").read_text())))
    assert dwc[0]["occurrenceID"] == f"urn:uuid:{row.id}" and dwc[0]["eventDate"] == "2024-07-10T09:00:00"


@pytest.mark.slow
def test_kill_9_mid_batch_then_resume(tmp_path: Path) -> None:
    # the batch state is flushed every FLUSH_SECONDS: enough photos that an idle machine is still busy
    # well after the first flush, so the kill lands mid-batch
    photos = 150
    folder = _folder(tmp_path, n=photos, size=(1600, 1200))
    files = photos + 1  # and the unreadable notes.jpg
    report = tmp_path / "out.html"
    state = report.with_suffix(".batch") / STATE_FILE
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cmd = [sys.executable, "-m", "butterflyer.cli.main", "identify", str(folder), "--save", "--report",
           str(report), "--model", str(_model(tmp_path))]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if state.is_file() and len(json.loads(state.read_text())["items"]) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(json.loads(state.read_text())["items"])
    assert 3 <= done < files, "the batch finished before it could be killed; use more or larger photos"
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"({done} done before, {files - done} now)" in res.stdout
    assert SightingStore().count() == photos  # nothing saved twice, nothing lost
