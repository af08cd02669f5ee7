#!/usr/bin/env python
"""Hostile and careless-user cases against the medpix_kd command line and Python API, as one Markdown table.

Runs against whichever medpix_kd `python` imports: the command line only as `python -m medpix_kd.cli ...`, the API only
in subprocesses (`python -c ...`), so `PYTHONPATH=/some/clone python tools/hostile.py` tests that clone's code.
Fixtures (a finished demo run, a two-run batch sharing one teacher, a two-seed run) are trained once in --work;
every destructive case works on a copy. Each command has a timeout and never stops the script: a failure of the
script itself in a case is a row saying so. No network (HF_HUB_OFFLINE=1); memory-hungry cases run under RLIMIT_AS.

    python tools/hostile.py [--work DIR] [--out FILE.md] [--reuse] [--keep] [--only 1,2,...] [--full-bench]
"""
import argparse, hashlib, json, os, re, resource, shutil, signal, stat, subprocess, sys, tempfile, time, traceback
from pathlib import Path

CLI = [sys.executable, '-m', 'medpix_kd.cli']
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1',
       'PYTHONUNBUFFERED': '1', 'PYTHONDONTWRITEBYTECODE': '1'}
TIMEOUT = 300
GiB = 1 << 30
EPOCHS1 = ['--set', 'training.teacher_epochs=1', '--set', 'training.student_epochs=1']
TRACEBACK = 'Traceback (most recent call last)'

W: Path = None      # the work folder
ROWS: list = []     # (number, case, command, exit, line, kept)
KEEP = False
FULL_BENCH, BENCH_S = False, 60


# ---------------------------------------------------------------------------------------------------------- helpers
class Res:
    def __init__(self, rc, out, err, secs): self.rc, self.out, self.err, self.secs = rc, out, err, secs
    @property
    def text(self): return self.err + '\n' + self.out
    @property
    def traceback(self): return TRACEBACK in self.text


def limit_memory(gib=4):
    "A preexec_fn capping the child's address space at `gib` GiB."
    def f(): resource.setrlimit(resource.RLIMIT_AS, (gib * GiB, gib * GiB))
    return f


def _kill_group(p, sig=signal.SIGKILL):
    try: os.killpg(p.pid, sig)  # the child's own process group (start_new_session): it and its children only
    except (ProcessLookupError, PermissionError): pass


def sh(args, *, cwd=None, timeout=TIMEOUT, stdin=subprocess.DEVNULL, input=None, preexec_fn=None,
       interrupt_after=None, env=None) -> Res:
    "Run `args` in a new session; kill its whole group on timeout; with `interrupt_after` seconds, SIGINT the group then."
    start = time.monotonic()
    p = subprocess.Popen(args, cwd=cwd, env=env or ENV, stdin=subprocess.PIPE if input is not None else stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=preexec_fn)
    rc = None
    try:
        if interrupt_after is not None:
            try:
                out, err = p.communicate(input=input, timeout=interrupt_after)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                _kill_group(p, signal.SIGINT)
                try: out, err = p.communicate(timeout=timeout); rc = p.returncode
                except subprocess.TimeoutExpired:
                    _kill_group(p); out, err = p.communicate(); rc = f'killed after SIGINT + {timeout}s'
        else:
            out, err = p.communicate(input=input, timeout=timeout); rc = p.returncode
    except subprocess.TimeoutExpired:
        _kill_group(p); out, err = p.communicate(); rc = f'timeout {timeout}s'
    finally:
        if p.poll() is None: _kill_group(p); p.wait()
    if isinstance(rc, int) and rc < 0:
        try: rc = f'signal {signal.Signals(-rc).name}'
        except ValueError: rc = f'signal {-rc}'
    return Res(rc, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace'), time.monotonic() - start)


def cli(*args, **kw) -> Res: return sh([*CLI, *map(_arg, args)], **kw)
def py(code: str, **kw) -> Res: return sh([sys.executable, '-c', code], **kw)
def _arg(a): return a if isinstance(a, bytes) else str(a)


_ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
_NOISE = re.compile(r'^(\[IPKernelApp\]|Input Notebook:|Output Notebook:|Executing( notebook| Cell)?|Ending Cell|'
                    r'Black is not installed|Passed unknown parameter|Kernel is running over TCP|.*\d+%\|.*\||'
                    r'.*it/s\]$|.*s/it\]$|.*cell/s\]$|\s*warnings\.warn\(|-{10,})')
_EXC = re.compile(r'^([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Refused|Timeout)|[A-Za-z_][\w.]*Error)\b.*')


_BAR = re.compile(r'[\w ]*:?\s*\d+%\|[^|]*\|[^\]]*\]')  # a tqdm bar, which \r glues to the next message


def _answers(out: str):
    "A one-line summary of `predict`'s answers (its --json list, or its table), or None."
    text = out.strip()
    if text.startswith('['):
        try: got = json.loads(text)
        except ValueError: got = None
        if isinstance(got, list) and got and isinstance(got[0], dict) and 'modality' in got[0]:
            g, p = got[0], got[0].get('probabilities', {})
            pm, pl = (p.get('modality') or {}).get(g['modality']), (p.get('location') or {}).get(g['location'])
            return f"answers: modality {g['modality']} p={pm}, location {g['location']} p={pl}"
    lines = [l for l in text.splitlines() if l.strip()]
    if len(lines) > 1 and lines[0].split()[:2] == ['image', 'modality']: return 'answers: ' + ' '.join(lines[1].split()[1:])
    return None


def first_line(res: Res, prefer: str = None) -> str:
    "The line that matters: `prefer`'s first match if any; with a traceback, its exception line; else the first non-noise stderr line, or predict's answers, or stdout's first line."
    def lines(s):
        out = []
        for l in _ANSI.sub('', s).splitlines():
            l = _BAR.sub('', l).rstrip()
            if l.strip(): out.append(l)
        return out
    err, out = lines(res.err), lines(res.out)
    if prefer:
        for l in err + out:
            if re.search(prefer, l): return l.strip()
    if res.traceback:
        exc = [l for l in err + out if _EXC.match(l)]
        return 'TRACEBACK: ' + (exc[-1] if exc else (err or out or [''])[-1]).strip()
    good = [l for l in err if not _NOISE.match(l.strip())]
    if good: return good[0].strip()
    answers = _answers(res.out)
    if answers: return answers
    if out and out[0].split()[:2] == ['model', 'split']:  # `run`'s results table: its closing line says more
        closing = [l for l in out if l.startswith('parameters:')]
        if closing: return closing[0].strip()
    good = [l for l in out if not _NOISE.match(l.strip())]
    if good: return good[0].strip()
    return (err or out or ['(no output)'])[0].strip()


def md(s, n=140) -> str:
    s = ' '.join(str(s).split())
    if len(s) > n: s = s[:n - 1] + '…'
    return s.replace('|', '\\|')


def short(args) -> str:
    "A command for the table: `medpix-kd` for the CLI, W for the work folder."
    parts = []
    for a in args:
        a = a.decode('utf-8', 'backslashreplace') if isinstance(a, bytes) else str(a)
        parts.append(a)
    s = ' '.join(parts)
    s = s.replace(' '.join(CLI), 'medpix-kd').replace(sys.executable + ' -m papermill', 'papermill')
    s = s.replace(sys.executable, 'python')
    if W is not None: s = s.replace(str(W), 'W')
    return s


def row(num, case, command, res_or_exit, line=None, kept=''):
    if isinstance(res_or_exit, Res):
        res = res_or_exit
        exit_ = res.rc
        line = line if line is not None else first_line(res)
        if res.traceback and not line.startswith('TRACEBACK'): line = 'TRACEBACK; ' + line
    else: exit_ = res_or_exit
    cmd = command if isinstance(command, str) else short(command)
    if W is not None: line = (line or '').replace(str(W), 'W'); kept = kept.replace(str(W), 'W')
    ROWS.append((str(num), case, cmd, str(exit_), line or '', kept))
    print(f'  [{num}] {case}: exit {exit_}; {md(line or "", 200)}; {kept}', flush=True)


def sha(p) -> str:
    p = Path(p)
    if p.is_symlink(): return 'symlink'
    if not p.exists(): return 'missing'
    mode = p.stat().st_mode
    if stat.S_ISFIFO(mode): return 'fifo'
    if p.is_dir(): return 'dir'
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''): h.update(chunk)
    return h.hexdigest()[:16]


def copy_tree(src, dst) -> Path:
    dst = Path(dst)
    if dst.exists(): shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst, symlinks=True)
    return dst


def fresh(name) -> Path:
    "An empty scratch folder W/cases/<name>."
    d = W/'cases'/name
    if d.exists(): shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def drop(*paths):
    "Remove a case's big copies once its rows are written (unless --keep)."
    if KEEP: return
    for p in paths:
        p = Path(p)
        if p.is_dir() and not p.is_symlink(): shutil.rmtree(p, ignore_errors=True)


def marker(name) -> Path:
    m = W/'markers'/name
    m.parent.mkdir(parents=True, exist_ok=True)
    if m.exists(): shutil.rmtree(m) if m.is_dir() else m.unlink()
    return m


def tb(r: Res) -> str: return 'Traceback: YES' if r.traceback else 'Traceback: no'


def said(m: Path) -> str: return 'MARKER CREATED (payload ran)' if m.exists() else 'marker absent'


def read_json_file(p): return json.loads(Path(p).read_text())


# ---------------------------------------------------------------------------------------------------------- fixtures
class Fx:
    run: Path = None        # a finished demo run
    batch: Path = None      # a batch root: leader and follower sharing a teacher
    leader: Path = None
    follower: Path = None
    seeds: Path = None      # `run --seeds 0,1` root
    seeds_cmd: list = None
    data: Path = None       # the run's data folder
    img: Path = None        # one image of it
    notes: dict = {}


def build_fixtures(reuse: bool):
    fx = W/'fx'
    fx.mkdir(parents=True, exist_ok=True)
    # a finished demo run
    run = fx/'run'
    if not (reuse and (run/'results.json').is_file() and (run/'student.safetensors').is_file()):
        if run.exists(): shutil.rmtree(run)
        r = cli('run', '--set', f'logging.log_dir={run}', *EPOCHS1, '--set', 'logging.progress=false', timeout=600)
        print(f'fixture run: exit {r.rc} in {r.secs:.0f} s: {first_line(r)}', flush=True)
        if r.rc != 0: Fx.notes['run'] = f'fixture run failed: exit {r.rc}: {first_line(r)}'
    if (run/'results.json').is_file():
        Fx.run = run
        prov = read_json_file(run/'results.json').get('provenance', {}).get('data', {})
        root = prov.get('root')
        if root and Path(root, 'images').is_dir(): Fx.data = Path(root)
    # a batch whose second run distils the first run's teacher
    batch = fx/'batch'
    def batch_done():
        try: return all(r['status'] == 'finished' for r in read_json_file(batch/'batch.json')) and len(read_json_file(batch/'batch.json')) == 2
        except Exception: return False
    if not (reuse and batch_done()):
        if batch.exists(): shutil.rmtree(batch)
        r = cli('batch', '--runs', 'original', '--losses', 'rkd,vanilla', '--execute', '--log-root', batch,
                '--epochs', '1', timeout=600)
        print(f'fixture batch: exit {r.rc} in {r.secs:.0f} s: {first_line(r)}', flush=True)
        if r.rc != 0: Fx.notes['batch'] = f'fixture batch failed: exit {r.rc}: {first_line(r)}'
    if batch_done():
        import yaml
        Fx.batch = batch
        for d in sorted(batch.glob('run_*')):
            ck = (yaml.safe_load((d/'config.yaml').read_text()).get('teacher') or {}).get('checkpoint')
            if ck: Fx.follower, Fx.leader = d, Path(ck).parent
        if Fx.follower is None: Fx.notes['batch'] = 'no run of the batch names a teacher.checkpoint (no shared teacher)'
    # two seeds through `run --seeds`
    seeds = fx/'seeds'
    Fx.seeds_cmd = lambda root: ['run', '--seeds', '0,1', '--set', f'logging.log_dir={root}', *EPOCHS1]
    def seeds_done():
        return all((seeds/f'run_original_s{s}'/'results.json').is_file() and (seeds/f'run_original_s{s}'/'report.ipynb').is_file() for s in (0, 1))
    if not (reuse and seeds_done()):
        if seeds.exists(): shutil.rmtree(seeds)
        r = cli(*Fx.seeds_cmd(seeds), timeout=600)
        print(f'fixture seeds: exit {r.rc} in {r.secs:.0f} s: {first_line(r)}', flush=True)
        if r.rc != 0: Fx.notes['seeds'] = f'fixture seeds failed: exit {r.rc}: {first_line(r)}'
    if seeds_done(): Fx.seeds = seeds
    # an image, copied out of the data folder
    if Fx.data:
        pngs = sorted((Fx.data/'images').glob('*.png'))
        if pngs:
            Fx.img = W/'img.png'
            shutil.copyfile(pngs[0], Fx.img)


def need(*names):
    missing = [n for n in names if getattr(Fx, n) is None]
    if missing: raise RuntimeError(f"fixture missing: {', '.join(missing)} ({'; '.join(Fx.notes.values()) or 'see the log'})")


def predict_img(run, *extra, **kw) -> tuple:
    args = ['predict', run, '--image', Fx.img, '--text', 'axial ct', *extra]
    return [*CLI, *map(str, args)], cli(*args, **kw)


# ------------------------------------------------------------------------------------------------------------- cases
EVIL_PTH = r'''
import os, sys, torch
path, mark, base = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
class Evil:
    def __reduce__(self): return (os.mkdir, (mark,))
obj = torch.load(base, map_location='cpu', weights_only=True) if base else {'state_dict': {}}
obj['extra'] = Evil()
torch.save(obj, path)
'''


def case1():
    need('run', 'img')
    d = fresh('c1')
    m = marker('c1a')
    evil = d/'evil.pth'
    r = sh([sys.executable, '-c', EVIL_PTH, evil, m])
    if r.rc != 0: raise RuntimeError(f'could not write evil.pth: {first_line(r)}')
    args = [*CLI, 'convert', str(evil)]
    r = sh(args)
    row(1, 'convert a .pth with a pickle payload', args, r, kept=f'{said(m)}; evil.pth.pickle {"written" if (d/"evil.pth.pickle").exists() else "absent"}')

    m = marker('c1b')
    run = copy_tree(Fx.run, d/'run')
    base = run/'student_best.pth'
    r = sh([sys.executable, '-c', EVIL_PTH, base, m, base])
    if r.rc != 0: raise RuntimeError(f'could not write the payload student_best.pth: {first_line(r)}')
    args = [*CLI, 'convert', str(run)]
    r = sh(args)
    row(1, 'convert RUN whose student_best.pth holds a pickle payload', args, r, kept=said(m))
    drop(run)

    run = copy_tree(Fx.run, d/'run_nost')
    (run/'student.safetensors').unlink()
    args, r = predict_img(run)
    hint = 'convert' in r.text
    followed = sh([*CLI, 'convert', str(run)]) if hint else None  # follow the hint: does convert unpickle anything?
    again = predict_img(run)[1] if hint else None
    row(1, 'predict on a finished run without student.safetensors (the hint)', args, r,
        kept=(f'hint followed: convert exit {followed.rc} ("{followed.out.count("loads as weights only already")} checkpoints load as weights only '
              f'already", nothing unpickled), then predict exit {again.rc}') if hint else 'no convert hint')
    drop(run)


EVIL_PY = '''import os
os.makedirs({mark!r}, exist_ok=True)
from transformers import PreTrainedTokenizerFast, PretrainedConfig, PreTrainedModel
class EvilTokenizer(PreTrainedTokenizerFast): pass
class EvilConfig(PretrainedConfig): model_type = 'evilbert'
class EvilModel(PreTrainedModel): config_class = EvilConfig
'''


def evil_tokenizer(folder: Path, mark: Path, class_too: bool = False):
    "Make the tokenizer folder `folder` name `evil.EvilTokenizer` in auto_map (and as tokenizer_class with `class_too`), with evil.py beside it."
    cfg_path = folder/'tokenizer_config.json'
    cfg = json.loads(cfg_path.read_text())
    cfg['auto_map'] = {'AutoTokenizer': ['evil.EvilTokenizer', None]}
    if class_too: cfg['tokenizer_class'] = 'EvilTokenizer'
    cfg_path.write_text(json.dumps(cfg, indent=2))
    (folder/'evil.py').write_text(EVIL_PY.format(mark=str(mark)))


def evil_model_folder(folder: Path, mark: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder/'config.json').write_text(json.dumps({
        'model_type': 'evilbert', 'architectures': ['EvilModel'], 'vocab_size': 100, 'hidden_size': 32,
        'auto_map': {'AutoConfig': 'evil.EvilConfig', 'AutoModel': 'evil.EvilModel'}}, indent=2))
    (folder/'evil.py').write_text(EVIL_PY.format(mark=str(mark)))
    return folder


def student_json(run: Path, edit):
    p = run/'student.json'
    about = json.loads(p.read_text())
    edit(about)
    p.write_text(json.dumps(about, indent=1))  # allow_nan: NaN is written bare
    return about


def case2():
    need('run', 'img')
    d = fresh('c2')
    tok_name = json.loads((Fx.run/'student.json').read_text())['preprocessing']['tokenizer']
    for tag, class_too, stdin_text, what in (
            ('a', False, None, 'tokenizer_config auto_map -> evil.py (stdin /dev/null)'),
            ('b', True, None, 'auto_map + tokenizer_class EvilTokenizer (no local class; stdin /dev/null)'),
            ('c', True, b'y\n', 'same, user answers y to the prompt (stdin "y")')):
        m = marker(f'c2{tag}')
        run = copy_tree(Fx.run, d/f'run_{tag}')
        evil_tokenizer(run/tok_name, m, class_too)
        args, r = predict_img(run, **({'input': stdin_text} if stdin_text else {}))
        prompt = ' ; prompt shown' if 'Do you wish to run the custom code' in r.text else ''
        row(2, what, args, r, kept=said(m) + prompt)
        drop(run)
    # the student's backbones named by student.json's config
    evil = evil_model_folder(d/'evil_model', marker('c2model'))
    for tag, key, value, what in (('d', 'text', str(evil), 'student.json config.student.text = abs folder with auto_map'),
                                  ('e', 'vision', str(evil), 'student.json config.student.vision = abs folder with auto_map'),
                                  ('f', 'text', 'someone/evil-model', 'student.json config.student.text = hub id someone/evil-model')):
        m = marker('c2model')
        run = copy_tree(Fx.run, d/f'run_{tag}')
        student_json(run, lambda a: a['config']['student'].__setitem__(key, value))
        args, r = predict_img(run)
        row(2, what, args, r, kept=said(m))
        drop(run)
    # preprocessing.tokenizer outside the run folder
    outside = d/'x'
    shutil.copytree(Fx.run/tok_name, outside)
    m = marker('c2g')
    evil_tokenizer(outside, m, class_too=True)
    for tag, value, what in (('g', '../../x', 'student.json preprocessing.tokenizer = ../../x (evil tokenizer there)'),
                             ('h', str(outside), 'preprocessing.tokenizer = absolute path of that evil tokenizer')):
        m = marker('c2g')
        run = copy_tree(Fx.run, d/'r'/f'run_{tag}')  # ../../x from d/r/run_<tag>/ is d/x
        student_json(run, lambda a: a['preprocessing'].__setitem__('tokenizer', value))
        args, r = predict_img(run)
        read_outside = 'Do you wish to run the custom code' in r.text or m.exists() or 'evil' in r.text.lower() or str(outside) in r.text
        row(2, what, args, r, kept=said(m) + ('; the folder outside the run was read' if read_outside else ''))
        drop(run)
    # the same, with a benign tokenizer outside: accepted silently?
    benign = d/'y'
    shutil.copytree(Fx.run/tok_name, benign)
    run = copy_tree(Fx.run, d/'r'/'run_i')
    student_json(run, lambda a: a['preprocessing'].__setitem__('tokenizer', '../../y'))
    args, r = predict_img(run)
    row(2, 'preprocessing.tokenizer = ../../y (a benign tokenizer outside the run)', args, r,
        kept='accepted: loaded a tokenizer from outside the run folder' if r.rc == 0 else 'refused')
    drop(run)


def case3():
    need('run')
    d = fresh('c3')
    user_files = {'notes.txt': b'my notes\n', 'model.onnx': b'ONNX-of-mine', 'x.safetensors': b'my tensors',
                  'predictions_test.csv': b'id,my,own\n1,2,3\n', 'student_best.pth': b'my own checkpoint'}
    for tag, with_results in (('a', True), ('b', False)):
        folder = d/f'user_{tag}'
        folder.mkdir()
        cfg = (Fx.run/'config.yaml').read_text().replace(str(Fx.run), str(folder))
        if str(folder) not in cfg: cfg = re.sub(r'(?m)^(\s*log_dir:).*$', rf'\1 {folder}', cfg)
        (folder/'config.yaml').write_text(cfg)
        if with_results: shutil.copyfile(Fx.run/'results.json', folder/'results.json')
        for n, b in user_files.items(): (folder/n).write_bytes(b)
        before = {n: sha(folder/n) for n in user_files}
        args = [*CLI, 'run', str(folder/'config.yaml'), '--overwrite', *EPOCHS1]
        r = sh(args)
        kept = [n for n in user_files if sha(folder/n) == before[n]]
        lost = [n for n in user_files if n not in kept]
        what = ('no marker; config.yaml + results.json + user files' if with_results
                else 'no marker; config.yaml + user files (no results.json)')
        row(3, f'run --overwrite on a user folder ({what})', args, r,
            kept=f"kept: {', '.join(kept) or 'none'}; LOST/CHANGED: {', '.join(lost) or 'none'}")
        drop(folder)


def case4():
    need('run')
    d = fresh('c4')
    data = Fx.data
    if data is None: raise RuntimeError('the run names no data folder in results.json provenance.data.root')
    for name in ('results.json', 'predictions_test.csv', 'student.safetensors'):
        run = copy_tree(Fx.run, d/'run')
        target = run/name
        before = sha(target)
        args = [*CLI, 'predict', str(run), '--data-root', str(data), '--split', 'test', '--out', str(target), '--overwrite']
        r = sh(args)
        after = sha(target)
        row(4, f'predict --out RUN/{name} --overwrite', args, r,
            kept='unchanged' if after == before else f'REPLACED ({before[:8]} -> {after[:8]})')
        drop(run)
    run = copy_tree(Fx.run, d/'run')
    # a FIFO and a folder as --out
    fifo = d/'fifo'
    os.mkfifo(fifo)
    args = [*CLI, 'predict', str(run), '--data-root', str(data), '--split', 'test', '--out', str(fifo), '--overwrite']
    r = sh(args, timeout=90)
    now = sha(fifo)
    row(4, 'predict --out FIFO --overwrite', args, r,
        kept=f"--out is now: {now if now in ('fifo', 'missing', 'dir') else 'a regular file (the FIFO was replaced)'}")
    folder = d/'adir'
    folder.mkdir()
    (folder/'keep.txt').write_text('mine')
    args = [*CLI, 'predict', str(run), '--data-root', str(data), '--split', 'test', '--out', str(folder), '--overwrite']
    r = sh(args)
    row(4, 'predict --out FOLDER --overwrite', args, r,
        kept='folder and its file kept' if (folder/'keep.txt').is_file() else 'FOLDER GONE or emptied')
    row(4, 'predict --out /dev/null --overwrite', '(not run)', 'skipped', '',
        'not run: as root, a write-to-temp-then-rename would replace the device file /dev/null on this shared machine')
    # bench --no-run over the run's results.json: a refusal comes up front; a bench that is not refused takes minutes
    # and writes --out only at its end, so it is stopped after BENCH_S seconds unless --full-bench
    before = sha(run/'results.json')
    args = [*CLI, 'bench', '--preset', 'demo', '--no-run', '--naive-samples', '16', '--out', str(run/'results.json'), '--overwrite']
    r = sh(args, timeout=400 if FULL_BENCH else BENCH_S)
    after = sha(run/'results.json')
    stopped = isinstance(r.rc, str) and r.rc.startswith('timeout')
    row(4, 'bench --preset demo --no-run --out RUN/results.json --overwrite', args, r,
        line=f'(no refusal within {BENCH_S} s: still benchmarking, stopped; it writes --out at its end, see --full-bench)' if stopped and not FULL_BENCH else None,
        kept='unchanged' + (' (stopped before its end)' if stopped else '') if after == before else f'REPLACED ({before[:8]} -> {after[:8]})')
    drop(run)


def _weight_in_head(path: Path) -> tuple:
    "(tensor name, byte offset) of the middle float32 of a classification-head weight in the safetensors file `path`."
    with open(path, 'rb') as f:
        n = int.from_bytes(f.read(8), 'little')
        header = json.loads(f.read(n))
    tensors = {k: v for k, v in header.items() if k != '__metadata__' and v.get('dtype') == 'F32'}
    heads = [k for k in tensors if re.search(r'head|classifier', k) and k.endswith('weight')] or list(tensors)
    name = sorted(heads)[0]
    start, end = tensors[name]['data_offsets']
    return name, 8 + n + start + ((end - start) // 2) // 4 * 4


def case5():
    need('batch', 'leader', 'follower', 'img')
    d = fresh('c5')
    # (a) in-place change of the leader's teacher.safetensors
    root = copy_tree(Fx.batch, d/'a')
    leader, follower = root/Fx.leader.name, root/Fx.follower.name
    # copytree copies each file: re-create the hard links the batch made, as they are in the original
    linked = []
    for n in ('teacher_best.pth', 'teacher.safetensors'):
        if (Fx.follower/n).exists() and (Fx.leader/n).exists() and os.path.samefile(Fx.follower/n, Fx.leader/n):
            (follower/n).unlink(); os.link(leader/n, follower/n); linked.append(n)
    base_args, base = predict_img(Fx.follower, '--model', 'teacher', '--json')
    target = leader/'teacher.safetensors'
    name, pos = _weight_in_head(target)
    with open(target, 'r+b') as f:  # in place: the same inode, so every hard link sees it
        f.seek(pos); f.write(b'\x7f\x7f\x7f\x7f')  # one float32 weight -> 3.4e38
    args, r = predict_img(follower, '--model', 'teacher', '--json')
    changed = 'output CHANGED vs pristine follower' if r.rc == 0 and base.rc == 0 and r.out != base.out else (
        'output identical' if r.rc == 0 and base.rc == 0 else '')
    row(5, f"shared teacher: one weight of the leader's teacher.safetensors ({name}) changed in place; predict FOLLOWER --model teacher",
        args, r, kept=f"hard-linked in batch: {', '.join(linked) or 'none'}; {changed}")
    drop(root)
    # (b) leader deleted, then run FOLLOWER/config.yaml --overwrite
    root = copy_tree(Fx.batch, d/'b')
    leader, follower = root/Fx.leader.name, root/Fx.follower.name
    cfgp = follower/'config.yaml'
    cfgp.write_text(cfgp.read_text().replace(str(Fx.batch), str(root)))  # point the copy's follower at the copy's leader
    shutil.rmtree(leader)
    had = (follower/'teacher_best.pth').is_file()
    args = [*CLI, 'run', str(cfgp), '--overwrite']
    r = sh(args)
    row(5, 'shared teacher: leader folder deleted, run FOLLOWER/config.yaml --overwrite', args, r,
        kept=f"follower teacher_best.pth: before {'present' if had else 'absent'}, after "
             f"{'present' if (follower/'teacher_best.pth').is_file() else 'GONE'}; config.yaml "
             f"{'present' if cfgp.is_file() else 'GONE'}")
    drop(root)
    # (c) the batch copied elsewhere: whose teacher does the copied follower name?
    root = copy_tree(Fx.batch, d/'c'/'moved')
    import yaml
    ck = (yaml.safe_load((root/Fx.follower.name/'config.yaml').read_text()).get('teacher') or {}).get('checkpoint')
    where = lambda ck: 'the ORIGINAL batch' if ck and str(ck).startswith(str(Fx.batch)) else ('the copy' if ck and str(ck).startswith(str(root)) else 'elsewhere')
    row(5, 'shared teacher: batch copied to a new root; copied follower config.yaml teacher.checkpoint', '(copytree + read config.yaml)',
        '-', f'teacher.checkpoint: {short([ck])}', f'names {where(ck)}')
    # (d) and the copied follower run again: which leader does it distil from?
    args = [*CLI, 'run', str(root/Fx.follower.name/'config.yaml'), '--overwrite']
    r = sh(args)
    source = root/Fx.follower.name/'teacher_source.json'
    used = json.loads(source.read_text()).get('checkpoint') if source.is_file() else None
    row(5, 'shared teacher: the copied follower run again (--overwrite)', args, r,
        kept=f"distilled from {where(used) if used else 'an unrecorded teacher (no teacher_source.json)'}")
    drop(root)


def _reports(root: Path) -> dict:
    out = {}
    for rd in sorted(root.glob('run_*')):
        for n in ('report.ipynb', 'report.html'):
            p = rd/n
            out[f'{rd.name}/{n}'] = (sha(p), p.stat().st_mtime_ns if p.exists() else None,
                                     p.is_file() and n == 'report.ipynb' and 'teacher epoch' in p.read_text(errors='replace'))
    return out


def case6():
    need('leader')
    nb = _template()
    d = fresh('c6')
    for tag, spelling in (('a', 'out/report.ipynb'), ('b', './out/report.ipynb')):
        cwd = d/tag
        out = copy_tree(Fx.leader, cwd/'out')
        if not (out/'report.ipynb').is_file(): (out/'report.ipynb').write_text('{"note": "placeholder report"}')
        before = sha(out/'report.ipynb')
        args = [sys.executable, '-m', 'papermill', str(nb), spelling, '-k', 'python3', '-p', 'log_dir', 'out']
        r = sh(args, cwd=cwd, timeout=300)
        after = sha(out/'report.ipynb')
        row(6, f'papermill into a finished run, output spelled {spelling} (cwd W)', args, r,
            kept='report.ipynb unchanged' if after == before else f'report.ipynb REWRITTEN ({before[:8]} -> {after[:8]})')
        drop(cwd)


def _template() -> Path:
    r = py('import medpix_kd, pathlib; print(pathlib.Path(medpix_kd.__file__).parents[1]/"nbs"/"run.ipynb")')
    p = Path(r.out.strip().splitlines()[-1]) if r.rc == 0 and r.out.strip() else None
    return p if p and p.is_file() else Path('/work/main/nbs/run.ipynb')


def case7():
    need('seeds')
    d = fresh('c7')
    # (a) the finished seed batch run again with the same command
    root = copy_tree(Fx.seeds, d/'seeds')
    for cfg in root.glob('run_*/config.yaml'): cfg.write_text(cfg.read_text().replace(str(Fx.seeds), str(root)))
    before = _reports(root)
    time.sleep(1.1)
    args = [*CLI, *Fx.seeds_cmd(root)]
    r = sh(args, timeout=500)
    after = _reports(root)
    rewritten = [k for k in before if before[k][:2] != after.get(k, (None, None))[:2]]
    log_gone = [k for k in before if before[k][2] and not after.get(k, (0, 0, False))[2]]
    row(7, 'run --seeds 0,1 again on the finished seed batch (same command)', args, r,
        line=None if r.traceback else first_line(r, prefer=r'^summary:|[Ee]rror'),
        kept=f"reports rewritten: {', '.join(rewritten) or 'none'}; training log lost from: {', '.join(log_gone) or 'none'}")
    drop(root)
    # (b) interrupted with SIGINT after ~20 s, then (c) --resume
    root = d/'int'
    args = [*CLI, *Fx.seeds_cmd(root)]
    r = sh(args, interrupt_after=20, timeout=120)
    hint = first_line(r, prefer=r'(?i)interrupt')
    if len(hint) > 130: hint = hint[:62] + ' … ' + hint[-66:]
    row(7, 'run --seeds 0,1 interrupted by SIGINT after 20 s (the hint)', args, r, line=hint.replace(str(W), 'W'),
        kept=('hint says --resume' if '--resume' in hint else 'hint does not say --resume') + f'; {tb(r)}')
    args = [*CLI, *Fx.seeds_cmd(root), '--resume']
    r = sh(args)
    row(7, 'the hinted command: run --seeds 0,1 ... --resume', args, r,
        kept='refused' if r.rc not in (0,) else 'accepted')
    drop(root)


NAN_WEIGHTS = r'''
import sys, torch
from safetensors.torch import load_file, save_file
p = sys.argv[1]
sd = load_file(p)
save_file({k: (torch.full_like(v, float('nan')) if v.is_floating_point() else v) for k, v in sd.items()}, p)
'''


def _has_nan(text): return bool(re.search(r'\bNaN\b|\bnan\b|\bInfinity\b|\binf\b', text))


def case8():
    need('run', 'img')
    d = fresh('c8')
    nanrun = copy_tree(Fx.run, d/'nanw')
    r = sh([sys.executable, '-c', NAN_WEIGHTS, nanrun/'student.safetensors'])
    if r.rc != 0: raise RuntimeError(f'could not write NaN weights: {first_line(r)}')
    args, r = predict_img(nanrun, '--json', preexec_fn=limit_memory(4))
    row(8, 'student.safetensors all NaN, predict --json', args, r, kept=f"NaN in output: {'YES' if _has_nan(r.out) else 'no'}")
    for tag, edit, what in (('mean', lambda a: a['preprocessing'].__setitem__('image_mean', [float('nan')] * 3), 'student.json image_mean [NaN,NaN,NaN]'),
                            ('std', lambda a: a['preprocessing'].__setitem__('image_std', [0, 0, 0]), 'student.json image_std [0,0,0]')):
        run = copy_tree(Fx.run, d/tag)
        student_json(run, edit)
        args, r = predict_img(run, '--json', preexec_fn=limit_memory(4))
        row(8, f'{what}, predict --json', args, r, kept=f"NaN in output: {'YES' if _has_nan(r.out) else 'no'}")
        drop(run)
    if py('import onnxruntime, onnx').rc != 0:
        row(8, 'export --format onnx on the NaN-weights run', '(not run)', 'skipped', '', 'onnx/onnxruntime not importable')
    else:
        args = [*CLI, 'export', str(nanrun), '--format', 'onnx', '--out', str(d/'onnx'), '--samples', '8']
        r = sh(args, timeout=300, preexec_fn=limit_memory(6))
        row(8, 'export --format onnx on the NaN-weights run', args, r,
            kept=f"exported: {'yes' if (d/'onnx').is_dir() and any((d/'onnx').glob('*.onnx')) else 'no'}; NaN in output: {'YES' if _has_nan(r.out) else 'no'}")
    drop(nanrun)


BOMB = ('{key}: [&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"], '
        + ', '.join(f'&{c} [' + ','.join([f'*{p}'] * 9) + ']' for p, c in zip('abcdefgh', 'bcdefghi')) + ']\n')


def case9():
    need('run', 'img')
    d = fresh('c9')
    # (a) resume from a damaged checkpoints/last.pth
    for tag, content in (('empty', b''), ('garbage', b'\x00garbage\xff' * 100)):
        run = copy_tree(Fx.run, d/f'unfinished_{tag}')
        (run/'results.json').unlink()
        (run/'checkpoints').mkdir(exist_ok=True)
        (run/'checkpoints'/'last.pth').write_bytes(content)
        args = [*CLI, 'run', str(run/'config.yaml'), '--resume']
        r = sh(args)
        row(9, f'run --resume with a {"0-byte" if not content else "garbage"} checkpoints/last.pth', args, r,
            kept=tb(r))
        drop(run)
    # (b) convert a 0-byte and a text .pth
    for name, content in (('empty.pth', b''), ('text.pth', b'just some text, not a checkpoint\n')):
        p = d/name
        p.write_bytes(content)
        args = [*CLI, 'convert', str(p)]
        r = sh(args)
        row(9, f'convert {name}', args, r, kept=tb(r) + f"; file {'unchanged' if p.read_bytes() == content else 'CHANGED'}")
    # (c) a --text that is not UTF-8
    args = [*CLI, 'predict', str(Fx.run), '--image', str(Fx.img), '--text', b'\xff\xfe']
    r = sh(args)
    row(9, "predict --text b'\\xff\\xfe' (argv not UTF-8)", args, r, kept=tb(r))
    # (d) a YAML alias bomb
    for key, cmd in (('seed', 'run'), ('seed', 'data'), ('data', 'run')):
        bomb = d/f'bomb_{key}.yaml'
        text = BOMB.format(key=key) if key != 'data' else 'data:\n  text_fields: ' + BOMB.format(key='x').split(': ', 1)[1]
        bomb.write_text(text)
        args = [*CLI, cmd, str(bomb), '--set', f'logging.log_dir={d/"bomb_run"}']
        r = sh(args, timeout=120, preexec_fn=limit_memory(4))
        row(9, f'YAML alias bomb ({len(text)} bytes, 9^9 leaves) under `{key}:`, {cmd} (4 GiB cap, 120 s)', args, r,
            kept=tb(r))
    # (e) tampered student.json values
    run = copy_tree(Fx.run, d/'tampered')
    original = (run/'student.json').read_text()
    for key, value in (('max_length', -1), ('max_length', 10**9), ('image_size', 0), ('image_size', 30000),
                       ('image_mean', [0.5, 0.5])):
        (run/'student.json').write_text(original)
        student_json(run, lambda a: a['preprocessing'].__setitem__(key, value))
        args, r = predict_img(run, preexec_fn=limit_memory(4), timeout=180)
        row(9, f'student.json preprocessing.{key} = {value}, predict (4 GiB cap)', args, r,
            kept=tb(r))
    drop(run)
    # (f) seeds beyond 2**32 - 1
    for args in ([*CLI, 'run', '--seeds', '4294967296', '--set', f'logging.log_dir={d/"bigseed_batch"}', *EPOCHS1],
                 [*CLI, 'run', '--set', 'seed=4294967296', '--set', f'logging.log_dir={d/"bigseed_run"}', *EPOCHS1]):
        r = sh(args)
        row(9, f"{'--seeds 4294967296' if '--seeds' in args else '--set seed=4294967296'}", args, r,
            line=first_line(r, prefer=r': failed|Error:') if not r.traceback else None, kept=tb(r))
    drop(d/'bigseed_batch', d/'bigseed_run')
    # (g) a full disk while a checkpoint is written
    mnt = d/'tmpfs'
    mnt.mkdir()
    if os.geteuid() != 0:
        row(9, 'disk full (3 MiB tmpfs) during a run', '(not run)', 'skipped', '', 'needs root to mount a tmpfs')
        return
    m = sh(['mount', '-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', str(mnt)], timeout=30)
    if m.rc != 0:
        row(9, 'disk full (3 MiB tmpfs) during a run', '(not run)', 'skipped', '', f'mount failed: {first_line(m)}')
        return
    try:
        args = [*CLI, 'run', '--set', f'logging.log_dir={mnt/"run"}', *EPOCHS1]
        r = sh(args)
        left = sorted(p.name for p in (mnt/'run').iterdir()) if (mnt/'run').is_dir() else []
        tmp = [n for n in left if n.endswith(('.tmp', '.partial'))]
        row(9, 'disk full (3 MiB tmpfs) during a run', args, r,
            kept=tb(r) + f"; left: {', '.join(left) or 'nothing'}"
                 + (f"; TEMP FILES LEFT: {', '.join(tmp)}" if tmp else ''))
    finally:
        sh(['umount', str(mnt)], timeout=60)


CASES = {1: case1, 2: case2, 3: case3, 4: case4, 5: case5, 6: case6, 7: case7, 8: case8, 9: case9}


# ------------------------------------------------------------------------------------------------------------- main
def main():
    global W, KEEP, FULL_BENCH
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--work', help='scratch folder (created; default: a new temporary folder)')
    ap.add_argument('--out', help='also write the Markdown table to this file')
    ap.add_argument('--reuse', action='store_true', help='reuse the fixtures already trained in --work')
    ap.add_argument('--keep', action='store_true', help="keep every case's copies (default: remove the big ones)")
    ap.add_argument('--only', help='comma-separated case numbers, e.g. 1,4')
    ap.add_argument('--full-bench', action='store_true',
                    help=f'let case 4\'s `bench --out RUN/results.json` run to its end (minutes) instead of stopping it '
                         f'after {BENCH_S} s when it has not refused by then')
    args = ap.parse_args()
    W = Path(args.work or tempfile.mkdtemp(prefix='hostile-')).resolve()
    W.mkdir(parents=True, exist_ok=True)
    KEEP, FULL_BENCH = args.keep, args.full_bench
    ENV['HF_MODULES_CACHE'] = str(W/'hf_modules')  # transformers copies remote code here: keep it out of ~/.cache
    began = time.monotonic()
    probe = py('import medpix_kd, sys, torch, transformers; print(medpix_kd.__file__); '
               'print(getattr(medpix_kd, "__version__", "?"), torch.__version__, transformers.__version__)')
    where = probe.out.strip().splitlines() if probe.rc == 0 else [f'import failed: {first_line(probe)}', '?']
    pkg_dir = Path(where[0]).parent if probe.rc == 0 else None
    head = sh(['git', '-C', str(pkg_dir.parent), 'log', '-1', '--format=%h %s'], timeout=30) if pkg_dir else None
    dirty = sh(['git', '-C', str(pkg_dir.parent), 'status', '--porcelain', '--untracked-files=no'], timeout=30) if pkg_dir else None
    print(f'medpix_kd: {where[0]}\nwork: {W}', flush=True)

    build_fixtures(args.reuse)
    fixture_s = time.monotonic() - began
    only = {int(x) for x in args.only.split(',')} if args.only else set(CASES)
    for n, case in CASES.items():
        if n not in only: continue
        t = time.monotonic()
        print(f'== case {n}', flush=True)
        try: case()
        except Exception as e:
            row(n, f'case {n} did not complete', '(script)', 'error', f'{type(e).__name__}: {e}',
                'script error: ' + traceback.format_exc().strip().splitlines()[-1])
        print(f'   case {n}: {time.monotonic() - t:.0f} s', flush=True)

    total = time.monotonic() - began
    lines = [f'medpix_kd imported from `{where[0]}` (version {where[1] if len(where) > 1 else "?"})',
             f'git: {md(head.out.strip(), 100) if head and head.rc == 0 else "n/a"}'
             + (' (tracked files modified)' if dirty and dirty.rc == 0 and dirty.out.strip() else ''),
             f'work folder: `{W}`; python {sys.version.split()[0]}; fixtures {fixture_s:.0f} s, total {total:.0f} s',
             *[f'fixture note: {v}' for v in Fx.notes.values()],
             '',
             '"first line": the first stderr line that is not progress or kernel noise (stdout if none); for a '
             'Python traceback, TRACEBACK and its exception line. W = the work folder.',
             '',
             '| # | case | command | exit | first line of stderr/stdout that matters | kept? |',
             '|---|---|---|---|---|---|']
    lines += [f'| {n} | {md(c, 120)} | `{md(cmd, 160)}` | {md(e, 40)} | {md(l)} | {md(k, 200)} |' for n, c, cmd, e, l, k in ROWS]
    table = '\n'.join(lines) + '\n'
    print('\n' + table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)


if __name__ == '__main__':
    main()
