"""The Kubeflow pipeline: one component per stage, a DAG that only wires them.

- :mod:`~butterflyer.pipeline.steps`: the stage adapters (plain functions that call
  the package's stage functions and skip work whose inputs did not change);
- :mod:`~butterflyer.pipeline.components`: the kfp v2 components, thin wrappers
  over the steps;
- :mod:`~butterflyer.pipeline.dag`: the pipeline function and its parameters;
- :mod:`~butterflyer.pipeline.compile`, :mod:`~butterflyer.pipeline.local`,
  :mod:`~butterflyer.pipeline.vertex`: compile to ``pipeline.yaml``, run with
  ``kfp.local``, submit to Vertex AI Pipelines (deploying the champion to a Vertex
  endpoint is :mod:`butterflyer.deploy.vertex`).
"""
