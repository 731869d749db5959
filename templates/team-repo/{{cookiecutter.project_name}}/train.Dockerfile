# syntax=docker/dockerfile:1
{%- if cookiecutter.platform == "sagemaker" %}
# Training image: every step of the SageMaker training pipeline runs it. Preprocess and Evaluate
# are Processing jobs (`python -m {{ cookiecutter.package_name }}.preprocess` and `.evaluate`); Train is a
# training job, which starts the entry point with the argument `train` and follows SageMaker's
# contract under /opt/ml (container.py): the `train` channel in, the model to /opt/ml/model.
{%- else %}
# Training image: runs as a Kubernetes Job. The model goes to /opt/ml/model, SageMaker's
# contract, which the Kubernetes Job mounts too.
{%- endif %}
FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5 AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-cache-dir /build

FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5
RUN groupadd --system --gid 10001 model \
    && useradd --system --uid 10001 --gid model --no-create-home model \
    && mkdir -p /opt/ml/model /opt/ml/output \
    && chown -R 10001:10001 /opt/ml
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODEL_DIR=/opt/ml/model
USER 10001:10001
# A batch job serves nothing: the health check only proves the code and its libraries import.
HEALTHCHECK --interval=60s --timeout=10s --retries=1 \
    CMD ["python", "-c", "import {{ cookiecutter.package_name }}.train"]
# SageMaker starts the container with the argument `train`; the entry point accepts it.
ENTRYPOINT ["{{ cookiecutter.project_name }}-train"]
