#!/usr/bin/env bash
# The one llama-cpp-python build of the project, used by the Makefile and the Dockerfile alike.
#
#   .ci/build-llama.sh PYTHON
#
# Never tuned to the build host (GGML_NATIVE=OFF): a wheel built on one CPU must run on the user's.
#   - base:   GGML_NATIVE=OFF with AVX2/FMA/F16C/BMI2, the x86-64 floor the project supports (Haswell, 2013, and later);
#   - avx512: the same sources with AVX-512 (F/CD/BW/DQ/VL, VBMI, VNNI, BF16): Zen 4, Sapphire Rapids and later;
#             only libggml-cpu.so differs, so only that target is rebuilt. Not AVX-VNNI, the VEX form: Zen 4 lacks it,
#             and ggml's 256-bit dot products take the EVEX form of the same instruction from AVX512-VNNI with VL.
# kgsolver.connectors.llms.llama_build picks one at load time from the CPU's flags and proves it in a subprocess
# before the first use. There is no AMX build: AMX tiles trap on VMs that advertise them (issue 15).
#
# Both builds are cached under $KGSOLVER_BUILD_CACHE (default ~/.cache/kgsolver/llama-build), keyed by the version,
# the flags and the Python ABI, so a second .venv installs in seconds. pip's own wheel cache is not used for this:
# its key ignores CMAKE_ARGS, so it could hand back a wheel built with other flags.
set -euo pipefail

PY=${1:?usage: build-llama.sh PYTHON}
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=0.3.36
BASE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
AVX512_ARGS="$BASE_ARGS -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON"
ABI=$("$PY" -c 'import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_platform())')
KEY=$(printf '%s|%s|%s|%s' "$VERSION" "$BASE_ARGS" "$AVX512_ARGS" "$ABI" | sha256sum | cut -c1-16)
CACHE=${KGSOLVER_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kgsolver/llama-build}
DIR=$CACHE/$KEY
JOBS=$(nproc 2>/dev/null || echo 2)

if [ ! -f "$DIR/DONE" ]; then
    mkdir -p "$CACHE"
    TMP=$(mktemp -d "$CACHE/.tmp.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
    echo "build-llama: building llama-cpp-python $VERSION (portable base + avx512 CPU backend), key $KEY"
    "$PY" -m pip download -q --no-deps --no-binary :all: -d "$TMP/src" "llama-cpp-python==$VERSION"
    tar -xzf "$TMP"/src/llama_cpp_python-*.tar.gz -C "$TMP/src"
    SRC=$(echo "$TMP"/src/llama_cpp_python-*/)
    CMAKE_ARGS="$BASE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$JOBS \
        "$PY" -m pip wheel -q --no-deps --no-cache-dir -w "$TMP/wheel" "$SRC"
    # The avx512 CPU backend from the same source tree and top-level CMakeLists, so every other option matches.
    # shellcheck disable=SC2086
    cmake -S "$SRC" -B "$TMP/avx512" -DCMAKE_BUILD_TYPE=Release $AVX512_ARGS >"$TMP/avx512.log" 2>&1 \
        || { cat "$TMP/avx512.log"; exit 1; }
    cmake --build "$TMP/avx512" --target ggml-cpu -j "$JOBS" >>"$TMP/avx512.log" 2>&1 \
        || { tail -50 "$TMP/avx512.log"; exit 1; }
    mkdir -p "$TMP/out/variants/avx512"
    cp "$TMP"/wheel/*.whl "$TMP/out/"
    cp -L "$(find "$TMP/avx512" -name 'libggml-cpu.so' | head -1)" "$TMP/out/variants/avx512/libggml-cpu.so"
    printf '%s\n' "version=$VERSION" "base=$BASE_ARGS" "avx512=$AVX512_ARGS" "abi=$ABI" >"$TMP/out/BUILD"
    touch "$TMP/out/DONE"
    rm -rf "$DIR" && mv "$TMP/out" "$DIR"
else
    echo "build-llama: cached build $KEY"
fi

# Its own dependencies come from the registry at the versions of the project's lock (numpy, jinja2, diskcache, ...).
LOCK="$HERE/../requirements.lock"
"$PY" -m pip install -q -c "$HERE/constraints.txt" --force-reinstall --no-deps "$DIR"/*.whl
"$PY" -m pip install -q -c "$HERE/constraints.txt" -c "$LOCK" "$DIR"/*.whl

# Lay out each variant as a complete library folder (libllama.so finds libggml*.so through RPATH $ORIGIN), in the
# environment's share/ where the loader looks for it.
LIB=$("$PY" -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("llama_cpp").origin).parent / "lib")')
VARIANTS=$("$PY" -c 'import sys; print(sys.prefix)')/share/kgsolver/llama-cpu
rm -rf "$VARIANTS" && mkdir -p "$VARIANTS/avx512"
cp -a "$LIB"/. "$VARIANTS/avx512/"
# libggml.so needs libggml-cpu.so.0 (its SONAME): the variant takes every name the base build installed.
for name in "$LIB"/libggml-cpu.so*; do
    cp "$DIR/variants/avx512/libggml-cpu.so" "$VARIANTS/avx512/$(basename "$name")"
done
cp "$DIR/BUILD" "$VARIANTS/BUILD"
echo "build-llama: installed base into $LIB and avx512 into $VARIANTS/avx512"
