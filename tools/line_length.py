"""Source lines of the package at most 120 characters: `ruff check` (E501, configured in pyproject.toml), less one line
per module that nbdev writes itself. nbdev 2 wraps a module's `__all__` names at 120 characters and only then puts
`__all__ = ` in front of the first line, so that line can reach 130 whatever the notebooks say."""
import json, subprocess, sys
from pathlib import Path

out = subprocess.run(['ruff', 'check', 'medpix_kd', '--output-format', 'json'], capture_output=True, text=True)
if out.returncode not in (0, 1): sys.exit(out.stderr or f'ruff failed with status {out.returncode}')
found = [v for v in json.loads(out.stdout or '[]')
         if not Path(v['filename']).read_text().splitlines()[v['location']['row'] - 1].startswith('__all__ = [')]
for v in found: print(f"{v['filename']}:{v['location']['row']}: {v['message']}")
print(f"line length: {len(found)} line(s) of medpix_kd/ over 120 characters" if found else
      "line length: every line of medpix_kd/ is at most 120 characters (nbdev's generated __all__ lines aside)")
sys.exit(1 if found else 0)
