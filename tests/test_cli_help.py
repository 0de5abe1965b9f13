"""Every command-line entry point answers --help (and -h) with its flags and their defaults, exits
0 and writes nothing."""
import os
import subprocess
import sys

import pytest

from conftest import REPO

# (command after `python`, flags its help must name)
ENTRY_POINTS = [
    (['train.py'], ['--config', '--workdir', '--coordinator_address', '--num_processes',
                    '--process_id']),
    (['stylize.py'], ['--content', '--style', '--unet', '--mode', '--config']),
    (['-m', 'nst_flax'], ['--content', '--style', '--out', '--config']),
    (['experiments/ablate_unet.py'], ['--config', '--results', '--workdir']),
    (['experiments/eval_real.py'], ['--workdir', '--out_dir']),
    (['experiments/make_colab_notebook.py'], ['--out']),
    (['experiments/make_pseudo_labels.py'], []),
    (['experiments/fit_person_head.py'], ['--out']),
    (['experiments/measure_vmap_seeds.py'], ['--seeds', '--cells']),
    (['benchmarks/nst_step.py'], ['--sizes', '--steps']),
    (['benchmarks/nst_time_to_quality.py'], ['--size', '--methods', '--target-iters']),
    (['benchmarks/stylize_latency.py'], ['--size', '--unet', '--set']),
    (['benchmarks/nst_presets_sheet.py'], ['--schedules', '--style', '--out']),
    (['benchmarks/unet_train_step.py'], ['--sizes', '--models', '--cores']),
    (['benchmarks/input_pipeline.py'], ['--sizes', '--workers', '--kinds', '--seconds']),
]


# absl's `app.run` (train.py, the experiments) knows --help, --helpshort and --helpfull; the
# style-transfer commands parse their flags themselves and answer -h too.
CASES = [(c, f, h) for c, f in ENTRY_POINTS
         for h in (['--help', '-h'] if c[-1] in ('stylize.py', 'nst_flax') or
                   'argparse' in open(os.path.join(REPO, c[-1]) if c[-1].endswith('.py')
                                      else os.devnull).read() else ['--help'])]


@pytest.mark.parametrize('command,expected_flags,help_flag', CASES,
                         ids=[f'{" ".join(c)} {h}' for c, _, h in CASES])
def test_entry_point_answers_help(command, expected_flags, help_flag, tmp_path):
  args = [os.path.join(REPO, a) if a.endswith('.py') else a for a in command]
  notebook = os.path.join(REPO, 'experiments', 'colab_tpu.ipynb')
  before = os.stat(notebook).st_mtime_ns
  result = subprocess.run([sys.executable, *args, help_flag], cwd=str(tmp_path),
                          env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  out = result.stdout
  assert 'usage' in out.lower() or out.startswith(('Trains', 'Person', 'Command', 'U-Net', 'Real'))
  for flag in expected_flags:
    assert flag in out, f'{flag} missing from {command} {help_flag}:\n{out}'
  if expected_flags:
    assert 'default' in out
  assert not os.listdir(tmp_path)  # help writes nothing
  assert os.stat(notebook).st_mtime_ns == before
