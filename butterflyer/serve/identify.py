"""Identification: bytes in, :class:`IdentifyResult` out. The one code path behind
the API, the CLI and the web page.

>>> ident = Identifier.load("models:/butterflyer@champion")
>>> ident.identify_bytes(open("photo.jpg", "rb").read()).verdict
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from butterflyer.data.images import DecodeLimits
from butterflyer.errors import ImageError, ModelError
from butterflyer.models.meta import FEATURES
from butterflyer.serve.catalog import FAMILY_COMMON_NAMES, Catalog, load_catalog
from butterflyer.serve.ood import OodGate
from butterflyer.serve.openset import LabelledBank, OpenSetRule
from butterflyer.serve.openset import decide as openset_decide
from butterflyer.serve.preprocess import decode, resize_crop, to_tensor
from butterflyer.serve.rollup import Thresholds, decide
from butterflyer.serve.schemas import Gate, IdentifyResult, ModelRef, SpeciesGuess, Taxon
from butterflyer.serve.session import ServedModel, load_served_model
from butterflyer.serve.settings import ServeSettings

SERVING_KEY = "serving"


def stored_thresholds(meta_extra: dict[str, Any]) -> Thresholds:
    """Roll-up thresholds fitted for this model (``meta.extra["serving"]``), else the documented defaults."""
    rollup = (meta_extra.get(SERVING_KEY) or {}).get("thresholds") or {}
    base = Thresholds()
    return Thresholds(species=float(rollup.get("species", base.species)),
                      genus=float(rollup.get("genus", base.genus)),
                      family=float(rollup.get("family", base.family)))


def stored_openset(meta_extra: dict[str, Any], gate: OodGate) -> OpenSetRule | None:
    """The fitted open-set rule, or ``None`` for a model fitted before there was one.

    The rule reads the gate's feature bank and the label of each row; a rule without them is
    a broken fit, not a reason to drop the rule silently.
    """
    stored = (meta_extra.get(SERVING_KEY) or {}).get("openset")
    if not stored:
        return None
    rule = OpenSetRule.from_json(stored)
    if gate.neighbours is None or gate.neighbours.labels is None:
        raise ModelError("the model's open-set rule needs a feature gate whose bank rows carry labels; "
                         "re-run 'butterflyer fit-serving' for this model")
    return rule


@dataclass
class Identifier:
    """A served model bound to its catalog, roll-up thresholds and gate threshold."""

    model: ServedModel
    catalog: Catalog
    thresholds: Thresholds
    gate: OodGate
    limits: DecodeLimits = DecodeLimits()
    top_k: int = 5
    loaded_at: float = 0.0
    openset: OpenSetRule | None = None

    @classmethod
    def from_model(cls, model: ServedModel, settings: ServeSettings | None = None,
                   catalog: Catalog | None = None) -> Identifier:
        """Bind ``model``; explicit settings override what the model folder stores."""
        settings = settings or ServeSettings.from_env(model_uri=model.uri)
        stored = stored_thresholds(model.meta.extra)
        thresholds = Thresholds(species=settings.species_threshold or stored.species,
                                genus=settings.genus_threshold or stored.genus,
                                family=settings.family_threshold or stored.family)
        gate = OodGate.from_meta_extra(model.meta.extra, settings.gate_threshold, model.folder)
        if gate.neighbours is not None and FEATURES not in model.output_names:
            raise ModelError(f"{model.onnx_path} gives no '{FEATURES}' output, but its gate reads features; "
                             f"re-export the model (butterflyer compress export) and re-run fit-serving")
        openset = stored_openset(model.meta.extra, gate)
        return cls(model=model, catalog=catalog if catalog is not None else load_catalog(),
                   thresholds=thresholds, gate=gate,
                   limits=DecodeLimits(min_side=settings.min_side, max_pixels=settings.max_pixels),
                   top_k=settings.top_k, loaded_at=time.time(), openset=openset)

    @classmethod
    def load(cls, uri: str, settings: ServeSettings | None = None) -> Identifier:
        """Resolve and open ``uri`` (folder or ``models:/``) with ``settings`` (env defaults)."""
        settings = settings or ServeSettings.from_env(model_uri=uri)
        return cls.from_model(load_served_model(uri, settings.threads), settings)

    # -- the steps -------------------------------------------------------------------------------

    def decode(self, data: bytes) -> Image.Image:
        """Safe decode (raises :class:`butterflyer.errors.ImageError` with a reason)."""
        return decode(data, self.model.meta.data_config, self.limits)

    def identify_bytes(self, data: bytes, explain: bool = False, file: str | None = None) -> IdentifyResult:
        """Decode and identify one image."""
        start = time.perf_counter()
        img = self.decode(data)
        return self.identify_image(img, explain=explain, file=file, started=start)

    def identify_image(self, img: Image.Image, explain: bool = False, file: str | None = None,
                       started: float | None = None) -> IdentifyResult:
        """Identify one decoded RGB image."""
        start = time.perf_counter() if started is None else started
        cfg = self.model.meta.data_config
        crop = resize_crop(img, cfg)
        batch = to_tensor(crop, cfg)[None]
        out = self.model.run(batch)
        result = self.interpret(out.species[0], None if out.imagenet is None else out.imagenet[0],
                                None if out.features is None else out.features[0])
        if explain:
            from butterflyer.serve.explain import heatmap_data_url

            target = int(np.argmax(out.species[0]))
            result.heatmap_png = heatmap_data_url(self.model, crop, batch, target)
        result.file = file
        result.latency_ms = round((time.perf_counter() - start) * 1000.0, 2)
        return result

    def identify_path(self, path: str | Path, explain: bool = False) -> IdentifyResult:
        """Identify the image file at ``path`` (a regular file: a FIFO or device would block or never end)."""
        path = Path(path)
        if path.exists() and not path.is_file():
            raise ImageError("not_a_file", f"{path} is not a regular file (a folder, FIFO or device); "
                                           "give a photo file")
        return self.identify_bytes(path.read_bytes(), explain=explain, file=str(path))

    # -- probabilities to an answer ---------------------------------------------------------------

    @functools.cached_property
    def taxonomy(self) -> tuple[list[str | None], list[str | None]]:
        """Genus and family of every label, in label order (looked up once, not per photo)."""
        labels = self.model.meta.labels
        return [self.catalog.genus(x) for x in labels], [self.catalog.family(x) for x in labels]

    @functools.cached_property
    def labelled_bank(self) -> LabelledBank | None:
        """The gate's bank grouped by species, genus and family (built once per model)."""
        neighbours = self.gate.neighbours
        if self.openset is None or neighbours is None or neighbours.labels is None:
            return None
        genera, families = self.taxonomy
        return LabelledBank(neighbours.bank, neighbours.labels, genera, families)

    def guess(self, index: int, probability: float) -> SpeciesGuess:
        label = self.model.meta.labels[index]
        info = self.catalog.get(label)
        return SpeciesGuess(id=label, common_name=info.common_name, scientific_name=info.scientific_name,
                            probability=round(float(probability), 6))

    def interpret(self, species_probs: np.ndarray, imagenet_probs: np.ndarray | None,
                  features: np.ndarray | None = None) -> IdentifyResult:
        """Apply the gate, then the roll-up, to one image's probabilities (and pooled features)."""
        order = np.argsort(-species_probs)[: self.top_k]
        top_k = [self.guess(int(i), float(species_probs[i])) for i in order]
        ref = ModelRef(name=self.model.name, version=self.model.version)
        gate = None
        neighbours = self.gate.neighbours
        # one product with the bank serves both the gate and the open-set rule
        cosines = neighbours.cosines(features)[0] if neighbours is not None and features is not None else None
        decision = self.gate.decide(imagenet_probs, features, cosines)
        if decision is not None:
            gate = Gate(score=round(decision.score, 6), threshold=round(decision.threshold, 6))
            if not decision.passed:
                return IdentifyResult(verdict="not_a_butterfly", top_k=top_k, model=ref, latency_ms=0.0,
                                      gate=gate, message=("This doesn't look like a butterfly or moth to me, "
                                                          "so I won't guess a species."))
        genera, families = self.taxonomy
        known: bool | None = None
        relatives: list[SpeciesGuess] = []
        bank = self.labelled_bank
        if self.openset is not None and bank is not None and features is not None:
            verdict = openset_decide(self.openset, bank, species_probs, features, self.thresholds,
                                     sims=cosines)
            roll, known = verdict.roll, verdict.known_species
            relatives = [self.guess(i, float(species_probs[i])) for i in verdict.relatives]
        else:
            roll = decide(species_probs, genera, families, self.thresholds)
        species = taxon = None
        if roll.verdict == "species" and roll.species_index is not None:
            species = self.guess(roll.species_index, roll.probability)
            message = _species_message(species)
        elif roll.verdict in ("genus", "family") and roll.name:
            common = FAMILY_COMMON_NAMES.get(roll.name) if roll.verdict == "family" else None
            taxon = Taxon(rank=roll.verdict, name=roll.name, common_name=common,  # type: ignore[arg-type]
                          probability=round(roll.probability, 6))
            message = _taxon_message(taxon) if known is not False else _unknown_message(taxon, relatives)
        elif roll.verdict == "unknown_species":
            message = _unknown_message(None, relatives)
        else:
            message = (f"I can't tell what this is. My best guess is {top_k[0].common_name}, but only at "
                       f"{top_k[0].probability:.0%}.")
        return IdentifyResult(verdict=roll.verdict, species=species, taxon=taxon,  # type: ignore[arg-type]
                              top_k=top_k, model=ref, latency_ms=0.0, gate=gate, message=message,
                              known_species=known, relatives=relatives)


def _species_message(species: SpeciesGuess) -> str:
    sci = f" ({species.scientific_name})" if species.scientific_name else ""
    return f"{species.common_name}{sci}, {species.probability:.0%} sure."


def _unknown_message(taxon: Taxon | None, relatives: list[SpeciesGuess]) -> str:
    """The answer for a photo unlike every species the model knows."""
    closest = ", ".join(r.common_name for r in relatives[:2])
    near = f" The closest species I know: {closest}." if closest else ""
    if taxon is None:
        return ("This looks like a butterfly or moth, but probably a species outside the 100 I know, and I "
                f"can't place its genus or family.{near}")
    group = _group_phrase(taxon)
    return (f"Probably a species I don't know: it looks like {group} ({taxon.probability:.0%} sure), "
            f"but unlike the species of it that I know.{near}")


def _group_phrase(taxon: Taxon) -> str:
    if taxon.rank == "family":
        return f"one of the {taxon.common_name} (family {taxon.name})" if taxon.common_name else \
            f"a member of the family {taxon.name}"
    return f"a member of the genus {taxon.name}"


def _taxon_message(taxon: Taxon) -> str:
    return f"Probably {_group_phrase(taxon)}, {taxon.probability:.0%} sure, but I can't tell the species."
