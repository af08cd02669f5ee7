#!/usr/bin/env bash
# Build, offline, local folders with the seed's four backbones (ViT-L/16, Bio_ClinicalBERT-sized BERT-base,
# DeiT-base, DistilBERT) at full size with random weights, their image processors, and WordPiece tokenizers
# trained on MedPix 2.0's training texts; then print the config file that points the `paper` preset at them.
#   bash tools/seed-architectures.sh DIR [MEDPIX_ROOT]    (MEDPIX_ROOT: the MedPix-2-0 folder; default: synthetic texts)
# Then: medpix-kd run DIR/paper-local.yaml --preset paper --set data.root=MEDPIX_ROOT [--set device=cpu ...]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bash tools/seed-architectures.sh DIR [MEDPIX_ROOT]" >&2; exit 2; }
python - "$@" <<'PY'
import sys
from medpix_kd.config import get_preset
from medpix_kd.data import load_records, make_synthetic_medpix
from medpix_kd.backbones import write_seed_architectures
dest, root = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
if root is None:
    import tempfile; root = make_synthetic_medpix(tempfile.mkdtemp(prefix='medpix-syn-'))
fields = get_preset('paper')['data']['text_fields']
texts = [r.text for r in load_records(root, 'train', fields)]
print(write_seed_architectures(dest, texts))
PY
