"""Model registry: MLflow-backed versions with lineage, aliases, promotion.

Every trained or compressed model folder is registered as a version of one
registered model (``butterflyer`` by default) with lineage tags (data manifest
sha256, git commit, parameters, metrics, report). Two aliases matter:
``challenger`` (the newest candidate) and ``champion`` (what is served). The rules
in :mod:`butterflyer.registry.promotion` decides promotions; ``resolve_model_uri``
turns ``models:/butterflyer@champion`` (and friends) into a local folder.

Import the submodules directly; this package imports nothing heavy.
"""

MODEL_NAME = "butterflyer"
CHAMPION = "champion"
CHALLENGER = "challenger"
