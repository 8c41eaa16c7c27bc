# One image for every deployable: the Kubernetes manifests choose the entry point
# (python -m services.gateway.ingress | services.gateway.egress | services.intent | services.reports | services.news).
# Base pinned by version; replace with the digest your registry mirrors (python:3.11.14-slim-bookworm@sha256:…).
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY contracts ./contracts
COPY servicekit ./servicekit
COPY services ./services
RUN python -m pip wheel --wheel-dir /wheels .

FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --no-create-home app
COPY --from=build /wheels /wheels
RUN python -m pip install --no-index --find-links=/wheels zalo-an-ninh && rm -rf /wheels
# The data files the services read by default; in Kubernetes the ConfigMaps mounted at /etc/zalo-an-ninh win.
COPY config /etc/zalo-an-ninh/config
WORKDIR /home/app
USER 10001:10001
EXPOSE 8080 8081 8082 8083 8084
CMD ["python", "-m", "services.gateway.ingress"]
