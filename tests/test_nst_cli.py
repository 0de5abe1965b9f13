"""`python -m nst_flax`: a tiny run (random weights from an .npz) and bad inputs."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nst_flax import params_cache
from nst_flax.vgg import init_params

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--config.content_layers=('block2_conv1',)",
         "--config.style_layers=('block1_conv1','block2_conv1')",
         '--config.multiscale=False', '--config.compilation_cache=False']


def cli(*args, cwd=None):
  env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
  return subprocess.run([sys.executable, '-m', 'nst_flax', *args], capture_output=True,
                        text=True, cwd=cwd or REPO, env=env, timeout=300)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
  d = tmp_path_factory.mktemp('cli')
  params_cache.save_npz(str(d / 'random_vgg.npz'), init_params(image_size=32))
  g16 = (np.linspace(0, 65535, 40 * 36).reshape(40, 36)).astype(np.uint16)
  Image.fromarray(g16).save(d / 'gray16.png')  # 16-bit grayscale content
  rgba = (np.random.default_rng(0).random((30, 30, 4)) * 255).astype(np.uint8)
  Image.fromarray(rgba, 'RGBA').save(d / 'style_rgba.png')
  Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(d / 'one.png')
  (d / 'notimage.jpg').write_text('hello')
  return d


def test_cli_runs_writes_output_and_snapshots(files, tmp_path):
  out = tmp_path / 'out.png'
  r = cli('--content', str(files / 'gray16.png'), '--style', str(files / 'style_rgba.png'),
          '--out', str(out), '--snapshots_dir', str(tmp_path / 'snaps'),
          f"--config.weights={files / 'random_vgg.npz'}", '--config.steps=4',
          '--config.log_every=2', '--config.snapshot_every=2', *SMALL,
          cwd=str(tmp_path))  # the default config is found from any working directory
  assert r.returncode == 0, r.stderr
  assert 'step    2/4' in r.stdout and 'content' in r.stdout and 'wrote' in r.stdout
  img = np.asarray(Image.open(out))
  assert img.shape == (40, 36, 3)
  assert sorted(os.listdir(tmp_path / 'snaps')) == ['step_00002.png', 'step_00004.png']


@pytest.mark.parametrize('case', ['missing', 'notimage', 'onepixel', 'toolarge', 'badlayer',
                                  'badfield', 'badquality'])
def test_cli_bad_input_is_one_error_line(files, tmp_path, case):
  content, extra, first = str(files / 'gray16.png'), [], []
  if case == 'missing':
    content = str(files / 'nope.jpg')
  elif case == 'notimage':
    content = str(files / 'notimage.jpg')
  elif case == 'onepixel':
    content = str(files / 'one.png')
  elif case == 'toolarge':
    extra = ['--config.max_input_pixels=100']
  elif case == 'badlayer':
    extra = ["--config.content_layers=('block4_conv9',)"]
  elif case == 'badfield':
    extra = ['--config.no_such_field=1']
  elif case == 'badquality':  # the config file's preset argument
    first = [f"--config={os.path.join(REPO, 'configs', 'nst_default.py')}:best"]
  r = cli(*first, '--content', content, '--style', str(files / 'style_rgba.png'),
          '--out', str(tmp_path / 'o.png'), f"--config.weights={files / 'random_vgg.npz'}",
          '--config.steps=1', *extra)
  assert r.returncode == 1
  lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith('error: '), r.stderr
  assert 'Traceback' not in r.stderr
  assert not (tmp_path / 'o.png').exists()
  if case == 'badquality':
    assert "unknown quality 'best'; expected one of final, draft" in lines[0]


# ------------------------------------------------------------------ the one error reporter


def test_report_error_writes_one_line_and_returns_1(capsys):
  from nst_flax import cli

  def reported(*args, **kwargs):
    assert cli.report_error(*args, **kwargs) == 1
    out, err = capsys.readouterr()
    assert not out and err.endswith('\n') and err.count('\n') == 1
    return err.rstrip('\n')

  assert reported(ValueError('photo.jpg: no such file\nmore')) == 'error: photo.jpg: no such file'
  assert reported('a\n  b  c', join_lines=True) == 'error: a b c'  # train.py's, the scripts'
  assert reported(KeyError('nope'), config_error=True) == (
      "error: bad --config option: unknown config field 'nope'")
  config_file_error = ('Error loading config file c.py:\nTraceback (most recent call last):\n'
                       "  File \"c.py\", line 1\nNameError: name 'x' is not defined")
  assert reported(ValueError(config_file_error), config_error=True) == (
      "error: bad --config option: Error loading config file c.py: NameError: name 'x' is "
      'not defined')


def test_run_app_reports_the_errors_it_is_given(capsys):
  from unet_flax import runtime

  def main(argv):
    raise OSError(f'{argv[1]}: cannot write\n(read-only)')

  with pytest.raises(SystemExit) as e:
    runtime._reporting(main, (OSError,))(['prog', 'out/'])
  assert e.value.code == 1
  assert capsys.readouterr().err == 'error: out/: cannot write (read-only)\n'
  with pytest.raises(OSError):  # not one of its errors: the traceback as before
    runtime._reporting(main, (ValueError,))(['prog', 'out/'])
