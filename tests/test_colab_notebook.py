"""experiments/colab_tpu.ipynb: every code cell runs on CPU with UNET_SMOKE_TEST=1 (tiny config), on
2 simulated devices so training goes through the sharded path; `!` shell lines (the pip installs
and the git clone) are skipped, so the notebook's Python cannot rot."""
import json
import os
import subprocess
import sys
import textwrap

import nbformat

from conftest import REPO

NOTEBOOK = os.path.join(REPO, 'experiments', 'colab_tpu.ipynb')

_RUN_CELLS = textwrap.dedent('''
    import json, sys
    import nbformat
    nb = nbformat.read(sys.argv[1], as_version=4)
    namespace = {'__name__': '__main__'}
    for i, cell in enumerate(nb.cells):
      if cell.cell_type == 'code':
        source = '\\n'.join(line for line in cell.source.splitlines()
                            if not line.lstrip().startswith(('!', '%')))
        exec(compile(source, f'<notebook cell {i}>', 'exec'), namespace)
    print('NOTEBOOK_RESULT ' + json.dumps({
        'devices': namespace['summary']['devices'], 'step': namespace['summary']['step'],
        'results': namespace['results'], 'rows': len(namespace['rows']), 'out': namespace['out']}))
''')


def test_notebook_is_valid_and_installs_what_it_needs():
  nb = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(nb)
  shell = '\n'.join(line for cell in nb.cells if cell.cell_type == 'code'
                    for line in cell.source.splitlines() if line.lstrip().startswith('!'))
  assert 'jax[tpu]' in shell and 'tensorflow-cpu' in shell and 'pip install -q -e' in shell
  assert 'git clone' in shell


def test_notebook_code_runs_on_cpu_with_a_tiny_config(tiny_data_dir, tmp_path):
  env = dict(os.environ, UNET_SMOKE_TEST='1', UNET_REPO_DIR=REPO, UNET_WORKDIR=str(tmp_path),
             UNET_DATA_DIR=tiny_data_dir, MPLBACKEND='Agg',
             XLA_FLAGS='--xla_force_host_platform_device_count=2')
  result = subprocess.run([sys.executable, '-c', _RUN_CELLS, NOTEBOOK], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-4000:]
  line = [l for l in result.stdout.splitlines() if l.startswith('NOTEBOOK_RESULT ')][-1]
  out = json.loads(line.split(' ', 1)[1])
  assert out['devices'] == 2 and out['step'] == 6      # trained across both (simulated) devices
  assert out['rows'] == 2
  for path in out['results'].values():
    assert os.path.getsize(path) > 0
  for suffix in ('.png', '_mask.png', '_sheet.png'):
    assert os.path.getsize(out['out'].replace('.png', suffix)) > 0
