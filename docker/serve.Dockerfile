# ButterFlyer serve container: the identification API and web page (Vertex AI endpoint or any container host)
# Build from the repository root:  docker build -f docker/serve.Dockerfile -t REGISTRY/REPO/serve:0.1.0 .
# Not built in this project's CI (no Docker engine there). No secrets are baked in: credentials come from
# the environment at run time (Google application default credentials on Vertex AI / GKE).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 BUTTERFLYER_HOME=/home/app/.butterflyer MPLBACKEND=Agg

RUN useradd --create-home --uid 10001 app
WORKDIR /opt/butterflyer

# torch first, pinned as in pyproject.toml (cpu), then the package with its extras.
RUN pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY butterflyer ./butterflyer
RUN pip install ".[gcp]" && python -c "import butterflyer, kfp; print('ok')"

USER app
WORKDIR /home/app
# Vertex AI sets AIP_HTTP_PORT and copies the model folder to AIP_STORAGE_URI; elsewhere pass
# BUTTERFLYER_SERVE_MODEL_URI (a gs:// folder or models:/butterflyer@champion with MLFLOW_TRACKING_URI).
EXPOSE 8080
CMD ["sh", "-c", "exec butterflyer serve --host 0.0.0.0 --port \"${AIP_HTTP_PORT:-8080}\" --model \"${AIP_STORAGE_URI:-${BUTTERFLYER_SERVE_MODEL_URI:-models:/butterflyer@champion}}\""]
