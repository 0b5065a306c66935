"""Robustness under realistic shifts: test top-1 and the not-a-butterfly gate, models side by side.

    .venv/bin/python benchmarks/bench_shift.py --model [NAME=]DIR [--model ...] [--records URI]
        [--limit N] [--severities 1,2,3] [--seed 0] [--json OUT]

Each test photo is shifted the way field photos differ from a curated dataset, in the
spirit of ImageNet-C, at up to three severities: a tighter crop, a looser crop (the
subject smaller, the frame filled out by reflection), low resolution, rotation, blur,
JPEG artefacts, a colour cast, under/over exposure, sensor noise, and the subject
shrunk onto a cluttered background (a bundled everyday photo: grass, gravel, brick,
coffee ...). For every model (a served ONNX model folder, opened exactly as the
server opens it) it prints top-1 (the first guess, whatever the gate says) and the
share of butterflies the gate lets through, per shift and as the mean over shifts.
Then the gate on the bundled everyday photos, clean and under every shift at the
strongest severity: the share of non-butterflies it rejects.

A candidate should not be worse than the shipped model on the mean over shifts.
Everything is seeded: the same photos, shifts and backgrounds on every run.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

Shift = Callable[[Image.Image, int, np.random.Generator], Image.Image]
CLUTTER = ("grass", "gravel", "brick", "coffee", "astronaut", "rocket", "motorcycle", "chelsea", "horse")


def _crop_tight(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    keep = (0.8, 0.65, 0.5)[s - 1]
    w, h = img.size
    cw, ch = int(w * keep), int(h * keep)
    x = int(rng.integers(0, w - cw + 1))
    y = int(rng.integers(0, h - ch + 1))
    return img.crop((x, y, x + cw, y + ch))


def _crop_loose(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    pad = (0.15, 0.3, 0.5)[s - 1]
    arr = np.asarray(img)
    py, px = int(arr.shape[0] * pad), int(arr.shape[1] * pad)
    py, px = min(py, arr.shape[0] - 1), min(px, arr.shape[1] - 1)  # reflection needs a smaller pad
    return Image.fromarray(np.pad(arr, ((py, py), (px, px), (0, 0)), mode="reflect"))


def _low_res(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    f = (0.5, 0.33, 0.2)[s - 1]
    w, h = img.size
    small = img.resize((max(8, int(w * f)), max(8, int(h * f))), Image.Resampling.BILINEAR)
    return small.resize((w, h), Image.Resampling.BILINEAR)


def _rotate(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    angle = (10.0, 20.0, 35.0)[s - 1] * (1 if rng.random() < 0.5 else -1)
    return img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))


def _blur(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur((1.0, 2.0, 3.5)[s - 1] * min(img.size) / 256))


def _jpeg(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=(30, 15, 7)[s - 1])
    with Image.open(io.BytesIO(buf.getvalue())) as out:
        return out.convert("RGB")


def _colour_cast(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    k = (0.1, 0.2, 0.3)[s - 1]
    gains = np.array([1 + k, 1.0, 1 - k]) if rng.random() < 0.5 else np.array([1 - k, 1.0, 1 + k])
    arr = np.asarray(img, dtype=np.float32) * gains  # warm (tungsten) or cool (shade) white balance
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _exposure(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    under, over = ((0.6, 1.4), (0.45, 1.7), (0.3, 2.0))[s - 1]
    return ImageEnhance.Brightness(img).enhance(under if rng.random() < 0.5 else over)


def _noise(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    sigma = (8.0, 16.0, 28.0)[s - 1]
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


_BACKGROUNDS: list[Image.Image] = []


def backgrounds() -> list[Image.Image]:
    """Cluttered everyday scenes (bundled with scikit-image/matplotlib) to paste subjects onto."""
    if not _BACKGROUNDS:
        from butterflyer.serve.everyday import everyday_photos

        photos = everyday_photos()
        _BACKGROUNDS.extend(photos[name] for name in CLUTTER if name in photos)
    return _BACKGROUNDS


def _clutter(img: Image.Image, s: int, rng: np.random.Generator) -> Image.Image:
    scale = (0.7, 0.55, 0.4)[s - 1]
    pool = backgrounds()
    bg = pool[int(rng.integers(len(pool)))]
    w, h = img.size
    bg = ImageOps.fit(bg, (w, h), Image.Resampling.BILINEAR, centering=(rng.random(), rng.random()))
    sw, sh = max(8, int(w * scale)), max(8, int(h * scale))
    x, y = int(rng.integers(0, w - sw + 1)), int(rng.integers(0, h - sh + 1))
    out = bg.convert("RGB").copy()
    out.paste(img.resize((sw, sh), Image.Resampling.BILINEAR), (x, y))
    return out


SHIFTS: dict[str, Shift] = {
    "crop_tight": _crop_tight,
    "crop_loose": _crop_loose,
    "low_res": _low_res,
    "rotate": _rotate,
    "blur": _blur,
    "jpeg": _jpeg,
    "colour_cast": _colour_cast,
    "exposure": _exposure,
    "noise": _noise,
    "clutter": _clutter,
}


def apply_shift(img: Image.Image, shift: str, severity: int, seed: int, index: int) -> Image.Image:
    """``img`` under ``shift`` at ``severity`` (1-3); the random choices depend only on the arguments."""
    rng = np.random.default_rng([seed, list(SHIFTS).index(shift), severity, index])
    return SHIFTS[shift](img.convert("RGB"), severity, rng)


def conditions(severities: list[int]) -> list[tuple[str, int]]:
    """``("clean", 0)`` followed by every shift at every severity."""
    return [("clean", 0)] + [(name, s) for name in SHIFTS for s in severities]


def test_photos(records: str, limit: int | None, seed: int) -> list[tuple[Image.Image, str]]:
    """``(image, label)`` for the test split (a seeded sample of ``limit`` photos when given)."""
    from butterflyer.data.reader import iter_examples

    rows = []
    for ex in iter_examples(records, "test"):
        with Image.open(io.BytesIO(ex["encoded"])) as img:
            rows.append((img.convert("RGB"), ex["text"]))
    if limit is not None and limit < len(rows):
        pick = sorted(np.random.default_rng(seed).choice(len(rows), limit, replace=False).tolist())
        rows = [rows[i] for i in pick]
    return rows


def _shifted(images: list[Image.Image], shift: str, severity: int, seed: int) -> Iterator[Image.Image]:
    for i, img in enumerate(images):
        yield img if shift == "clean" else apply_shift(img, shift, severity, seed, i)


def evaluate(
    ident: Any, photos: list[tuple[Image.Image, str]], everyday: list[Image.Image],
    severities: list[int], seed: int,
) -> dict[str, Any]:
    """One model: per condition top-1 and gate pass rate on butterflies, and the gate on everyday photos."""
    images, labels = [p[0] for p in photos], [p[1] for p in photos]
    out: dict[str, Any] = {"butterflies": {}, "everyday": {}}
    for shift, sev in conditions(severities):
        hits = passed = 0
        for img, label in zip(_shifted(images, shift, sev, seed), labels, strict=True):
            res = ident.identify_image(img)
            hits += res.top_k[0].id == label
            passed += res.verdict != "not_a_butterfly"
        out["butterflies"][_name(shift, sev)] = {"top1": hits / len(images), "passed": passed / len(images)}
    strongest = max(severities)
    for shift, sev in [("clean", 0)] + [(name, strongest) for name in SHIFTS]:
        rejected = sum(ident.identify_image(img).verdict == "not_a_butterfly"
                       for img in _shifted(everyday, shift, sev, seed + 1))
        out["everyday"][_name(shift, sev)] = rejected / max(1, len(everyday))
    shifted = [v for k, v in out["butterflies"].items() if k != "clean"]
    out["mean_shift_top1"] = float(np.mean([v["top1"] for v in shifted]))
    out["mean_shift_passed"] = float(np.mean([v["passed"] for v in shifted]))
    out["mean_everyday_rejected"] = float(np.mean(list(out["everyday"].values())))
    return out


def _name(shift: str, severity: int) -> str:
    return shift if shift == "clean" else f"{shift}@{severity}"


def table(results: dict[str, dict[str, Any]]) -> str:
    """The side-by-side table: rows are conditions, two columns (top-1, gate pass) per model."""
    names = list(results)
    head = f"| shift | {' | '.join(f'{n} top-1 | {n} passed' for n in names)} |"
    lines = [head, "|---|" + "---:|---:|" * len(names)]
    first = results[names[0]]["butterflies"]
    for cond in first:
        cells = " | ".join(f"{results[n]['butterflies'][cond]['top1']:.1%} | "
                           f"{results[n]['butterflies'][cond]['passed']:.1%}" for n in names)
        lines.append(f"| {cond} | {cells} |")
    cells = " | ".join(f"**{results[n]['mean_shift_top1']:.1%}** | **{results[n]['mean_shift_passed']:.1%}**"
                       for n in names)
    lines.append(f"| mean over shifts | {cells} |")
    lines += ["", f"| everyday photos rejected | {' | '.join(names)} |", "|---|" + "---:|" * len(names)]
    for cond in results[names[0]]["everyday"]:
        cells = " | ".join(f"{results[n]['everyday'][cond]:.1%}" for n in names)
        lines.append(f"| {cond} | {cells} |")
    cells = " | ".join(f"**{results[n]['mean_everyday_rejected']:.1%}**" for n in names)
    lines.append(f"| mean | {cells} |")
    return "\n".join(lines)


def model_name(spec: str) -> tuple[str, str]:
    """``NAME=URI`` or a bare URI (named after its folder, or its parent's for a generic ``model`` folder)."""
    left, sep, right = spec.partition("=")
    if sep and left and "/" not in left and ":" not in left:
        return left, right
    path = Path(spec.rstrip("/"))
    if "://" in spec:
        return spec, spec
    return (path.parent.name if path.name == "model" and path.parent.name else path.name), spec


def run(
    models: list[str], records: str, limit: int | None, severities: list[int], seed: int
) -> dict[str, Any]:
    """Evaluate every model on the same photos and shifts; returns ``{model name: results}``."""
    from butterflyer.serve.everyday import everyday_photos
    from butterflyer.serve.identify import Identifier

    photos = test_photos(records, limit, seed)
    everyday = list(everyday_photos().values())
    results: dict[str, Any] = {}
    for spec in models:
        name, uri = model_name(spec)
        ident = Identifier.load(uri)
        while name in results:
            name += "'"
        results[name] = evaluate(ident, photos, everyday, severities, seed)
        results[name]["model"] = uri
        results[name]["photos"] = len(photos)
    return results


def main(argv: list[str] | None = None) -> None:
    from butterflyer import paths

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True,
                    help="served model folder or URI, optionally NAME=URI (repeatable)")
    ap.add_argument("--records", default=None, help="records folder (default: records/ in the home)")
    ap.add_argument("--limit", type=int, default=None, help="a seeded sample of N test photos (quick runs)")
    ap.add_argument("--severities", default="1,2,3", help="comma-separated severities from 1-3")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    severities = sorted({int(s) for s in args.severities.split(",")})
    if not severities or any(s not in (1, 2, 3) for s in severities):
        ap.error("--severities takes numbers from 1 to 3, e.g. 1,3")
    records = args.records or str(paths.records_dir())
    results = run(args.model, records, args.limit, severities, args.seed)
    n = next(iter(results.values()))["photos"]
    print(f"test photos: {n} from {records}; severities {severities}; seed {args.seed}\n")
    print(table(results))
    if args.json:
        from butterflyer.fileio import atomic_write_json

        atomic_write_json(args.json, results)


if __name__ == "__main__":
    main()
