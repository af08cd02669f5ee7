#!/usr/bin/env bash
# The whole test suite: every notebook under nbdev_test, plus the `slow` cells when the real
# MedPix 2.0 is found ($MEDPIX_DATA_ROOT, else ../shared/medpix-2-0 beside the repository).
# Tests never touch the network, so the Hugging Face Hub is put in offline mode.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
real=$(python3 -c "from medpix_kd.testing import real_data_root; print(real_data_root() or '')")
if [ -n "$real" ]; then flags="slow"; echo "tools/test.sh: real MedPix 2.0 at $real, running slow cells too"
else flags=""; echo "tools/test.sh: no real MedPix 2.0 found, skipping slow cells"; fi
n=$(python3 -c "import glob, os; print(sum('skip_exec: true' not in open(f).read(600) for f in glob.glob('nbs/*.ipynb') if not os.path.basename(f).startswith('_')))")
start=$(date +%s)
# One notebook at a time: every notebook trains with torch's full thread pool (and 07a starts two processes), so
# running notebooks side by side oversubscribes the cores. On 2 cores that took 1,835 s; one at a time, 410 s.
nbdev_test --flags "$flags" --timing --n_workers 1
echo "tools/test.sh: nbdev_test took $(( $(date +%s) - start )) s"
echo "notebooks: $n passed, 0 failed"
