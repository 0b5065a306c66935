"""The ButterFlyer pipeline: raw photos to a promoted, deployed champion. Wiring only.

collect -> prepare -> build-records -> train -> evaluate(teacher)
        -> compress -> fit-serving -> evaluate(candidate) -> register (promotion) -> [promoted] deploy

``build_pipeline`` returns the pipeline function for a set of images and the
train step's accelerator, so the committed ``pipeline.yaml`` (defaults), the local
run (no accelerator) and a Vertex submission (your images, your GPU) share one DAG.
"""

# No ``from __future__ import annotations`` here: kfp reads the real annotation objects.
from collections.abc import Callable
from typing import Any

from kfp import dsl

from butterflyer.pipeline.components import Images, make_components

PIPELINE_NAME = "butterflyer"
DEFAULT_ACCELERATOR = "NVIDIA_L4"


def build_pipeline(images: Images | None = None, accelerator: str = DEFAULT_ACCELERATOR, gpus: int = 1,
                   train_cpu: str = "8", train_memory: str = "32G") -> Callable[..., Any]:
    """The pipeline function; ``gpus=0`` leaves the train step on CPU (local runs)."""
    ops = make_components(images)

    @dsl.pipeline(name=PIPELINE_NAME,
                  description="ButterFlyer: raw butterfly photos to a served species classifier.")
    def butterflyer_pipeline(
        source: str = "",
        home: str = "",
        prepare_config: dict = {},  # noqa: B006 - kfp reads defaults from the signature
        records_output: str = "",
        records_runner: str = "local",
        model: str = "efficientnet_lite0",
        epochs: int = 0,
        train_profile: str = "auto",
        seed: int = 0,
        train_config: dict = {},  # noqa: B006
        compress: bool = True,
        compress_target: float = 0.0,
        compress_config: dict = {},  # noqa: B006
        model_name: str = "butterflyer",
        promotion_margin: float = 0.0,
        min_top1: float = 0.0,
        latency_budget_ms: float = 250.0,
        deploy_target: str = "local",
        vertex_deploy: dict = {},  # noqa: B006
        code_version: str = "",  # the runner's butterflyer version + source hash: in every cache key
    ) -> None:
        common = {"home": home, "code_version": code_version}  # every step's
        collect = ops["collect"](source=source, **common).set_display_name("collect")
        collect.set_caching_options(False)  # the source may change behind the same name; collect checks it
        prepare = ops["prepare"](raw=collect.outputs["raw"], config=prepare_config, **common)
        prepare.set_display_name("prepare")
        records = ops["build-records"](interim=prepare.outputs["interim"], output=records_output,
                                       runner=records_runner, **common).set_display_name("build-records")
        train = ops["train"](records=records.outputs["records"], model_name=model, epochs=epochs,
                             profile=train_profile, seed=seed, config=train_config, **common)
        train.set_display_name("train").set_cpu_limit(train_cpu).set_memory_limit(train_memory)
        if gpus > 0:
            train.set_accelerator_type(accelerator).set_accelerator_limit(gpus)
        teacher_eval = ops["evaluate"](model=train.outputs["model"], records=records.outputs["records"],
                                       split="test", **common).set_display_name("evaluate-teacher")
        shrink = ops["compress"](teacher=train.outputs["model"], records=records.outputs["records"],
                                 enabled=compress, target=compress_target, config=compress_config, **common)
        shrink.set_display_name("compress")
        served = ops["fit-serving"](model=shrink.outputs["model"], records=records.outputs["records"],
                                    **common)
        served.set_display_name("fit-serving")
        candidate_eval = ops["evaluate"](model=served.outputs["served"], records=records.outputs["records"],
                                         split="test", **common).set_display_name("evaluate-candidate")
        register = ops["register"](teacher=train.outputs["model"],
                                   teacher_metrics=teacher_eval.outputs["metrics"],
                                   teacher_report=teacher_eval.outputs["report"],
                                   candidate=served.outputs["served"],
                                   candidate_metrics=candidate_eval.outputs["metrics"],
                                   candidate_report=shrink.outputs["report"],
                                   records=records.outputs["records"], model_name=model_name,
                                   margin=promotion_margin, min_top1=min_top1,
                                   latency_budget_ms=latency_budget_ms, **common)
        register.set_display_name("register").set_caching_options(False)  # the champion may have moved
        with dsl.If(register.outputs["Output"] == True, name="promoted"):  # noqa: E712 - kfp condition
            deploy = ops["deploy"](target=deploy_target, model_name=model_name, vertex=vertex_deploy,
                                   **common)
            deploy.set_display_name("deploy").set_caching_options(False)

    return butterflyer_pipeline
