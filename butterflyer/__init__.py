"""ButterFlyer: identify butterflies and moths in wild photos, and learn about them.

The package is laid out by pipeline stage: ``data`` (collect, prepare, records),
``models``, ``train``, ``compress``, ``registry``, ``pipeline``, ``serve`` and ``chat``.
Every stage is a plain function; the CLI, the Kubeflow components and the API wrap them.
"""

__version__ = "0.1.0"
