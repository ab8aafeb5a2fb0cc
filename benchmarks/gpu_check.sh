#!/usr/bin/env bash
# The GPU check of issue 15: benchmarks/run.py --device gpu and the curvature example
# (examples/digits_spectrum.py) on a machine with an NVIDIA GPU, in one go.
#
#     bash benchmarks/gpu_check.sh                          # from the repository root
#     GPU_CHECK_DEVICE=cpu bash benchmarks/gpu_check.sh     # the same steps on the CPU, --quick sizes (tries this script)
#
# Each step has its own time limit and writes its output (stdout and stderr) to its own file in
# $OUT (a fresh temporary folder when $OUT is unset); a failing or timed-out step does not stop
# the next one, and summary.txt says how each ended. The limits add up to under 7 minutes
# (GPU_CHECK_BUDGET, 400 s, caps all steps together). Python wheels in .whl/ (packages the
# machine lacks, such as numexpr for W1's numexpr peer) are installed into /tmp/site first.
# The full run is one run.py process per workload, so a workload that hangs (torch.compile
# is the likeliest) costs only its own time; --progress prints each row to stderr as soon as
# it is measured, so a workload stopped at its limit still shows what it had.

set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2

DEVICE=${GPU_CHECK_DEVICE:-gpu}
case $DEVICE in gpu|cpu) ;; *) echo "GPU_CHECK_DEVICE must be gpu or cpu. Got '$DEVICE' instead." >&2; exit 2 ;; esac
BUDGET=${GPU_CHECK_BUDGET:-400}
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
# JAX fails loudly rather than falling back to the CPU when the GPU backend is missing
if [ "$DEVICE" = gpu ]; then JAX=cuda; SIZE=(); else JAX=cpu; SIZE=(--quick); fi
SUMMARY=$OUT/summary.txt
START=$SECONDS
: >"$SUMMARY"

# step NAME SECONDS FILE COMMAND...: run COMMAND under `timeout` (at most what is left of the
# budget), append its output to FILE, note in the summary how it ended and how long it took
step() {
    local name=$1 want=$2 file=$3
    shift 3
    local left=$((BUDGET - (SECONDS - START)))
    local limit=$((want < left ? want : left))
    if ((limit < 5)); then
        echo "$name: not run (the ${BUDGET} s budget is spent)" | tee -a "$SUMMARY"
        return
    fi
    local shown="$*"
    echo "=== $name (limit ${limit} s): ${shown:0:160}" | tee -a "$file"
    local t0=$SECONDS
    timeout -k 3 "$limit" "$@" 2>&1 | tee -a "$file"
    local rc=${PIPESTATUS[0]} how=ok
    if ((rc == 124 || rc == 137)); then how="TIMED OUT"; elif ((rc != 0)); then how=FAILED; fi
    echo "$name: $how (exit $rc) after $((SECONDS - t0)) s" | tee -a "$SUMMARY"
}

if compgen -G ".whl/*.whl" >/dev/null; then
    step wheels 15 "$OUT/env.txt" "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

step environment 25 "$OUT/env.txt" env JAX_PLATFORMS=$JAX bash -c '
    if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo "(no nvidia-smi)"; fi
    uname -m; nproc
    "$0" - <<"PYEOF"
import importlib.metadata as md
import sys

print("python", sys.version, sys.executable)
for name in ("jax", "jaxlib", "jax-cuda13-plugin", "jax-cuda12-plugin", "numpy", "optax", "sympy", "matplotlib",
             "typer", "rich", "scikit-learn", "scipy", "numexpr", "torch", "triton"):
    try:
        print(f"  {name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"  {name} (not installed)")
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
print("jax.devices():", jax.devices(), "default backend:", jax.default_backend())
x = np.linspace(-30.0, 30.0, 1_000_001)
got = np.asarray(jnp.sin(jnp.asarray(x)) * jnp.exp(-x * x / 32.0))
print("float64 on", jnp.asarray(x).devices(), "dtype", got.dtype, "max |jax - numpy|:",
      float(np.max(np.abs(got - np.sin(x) * np.exp(-x * x / 32.0)))))
try:
    import torch
except ImportError as exc:
    print("torch:", exc)
else:
    print("torch", torch.__version__, "CUDA", torch.version.cuda, "available:", torch.cuda.is_available(),
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
import losslab.curvature  # noqa: F401  (losslab imports with the packages there)

print("losslab from", losslab.__file__)
PYEOF
' "$PY"

step "run.py --quick" 60 "$OUT/quick.txt" "$PY" benchmarks/run.py --device "$DEVICE" --quick --progress

for w in W1 W2 W3 W4; do
    case $w in W1 | W3) want=80 ;; W2) want=35 ;; W4) want=50 ;; esac
    step "run.py --markdown $w" $want "$OUT/full.md" "$PY" benchmarks/run.py --device "$DEVICE" "${SIZE[@]}" --markdown --progress "$w"
done

step "examples/digits_spectrum.py" 45 "$OUT/digits.txt" env JAX_PLATFORMS=$JAX "$PY" -c '
import runpy
import sys

import jax

print("jax.devices():", jax.devices())
sys.argv = ["examples/digits_spectrum.py", sys.argv[1]]
runpy.run_path("examples/digits_spectrum.py", run_name="__main__")
' "$OUT/digits_density.png"

echo "--- summary ($((SECONDS - START)) s in all; files in $OUT)"
cat "$SUMMARY"
