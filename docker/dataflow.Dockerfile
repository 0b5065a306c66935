# ButterFlyer Dataflow worker: the Beam SDK container plus what build-records' pickled functions import.
# Build from the repository root, with the Beam version of the launching environment (pip show apache-beam):
#   docker build -f docker/dataflow.Dockerfile --build-arg BEAM_VERSION=2.77.0 -t REGISTRY/REPO/dataflow:0.1.0 .
# and pass it as --sdk_container_image (see the README's records section). Not built in this project's CI.
# The package goes in without its dependencies: a worker only encodes images and writes shards,
# so torch, MLflow, FastAPI, ... are not needed there (docker/dataflow-requirements.txt lists what is).
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/butterflyer
COPY docker/dataflow-requirements.txt ./
RUN pip install -r dataflow-requirements.txt
COPY pyproject.toml README.md ./
COPY butterflyer ./butterflyer
RUN pip install --no-deps . && python -c "import butterflyer.data.beam_runner; print('ok')"
# the SDK image's own entrypoint (/opt/apache/beam/boot) starts the worker
