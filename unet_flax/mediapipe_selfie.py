"""MediaPipe selfie segmentation in Flax Linen, with its weights read from the released .tflite.

    params = mediapipe_selfie.load_params()                    # fetched once, then cached
    model = mediapipe_selfie.SelfieSegmentation()
    logits = model.apply({'params': params}, images)           # [N, H, W, 1], pre-sigmoid
    person = jax.nn.sigmoid(logits)                            # the .tflite's output
    feats = model.apply({'params': params}, images, features=True)
    {k: v.shape for k, v in feats.items()}  # at 256 px: stride2 [N, 128, 128, 16],
    # stride4 [N, 64, 64, 16], stride8 [N, 32, 32, 24], stride16 [N, 16, 16, 32],
    # head [N, 16, 16, 128]

`images` are RGB in [0, 1], NHWC, of any height and width divisible by 16 (the released model
runs at 256 x 256).

Architecture (written out from the .tflite graph; Keras layer names in `TFLITE_LAYERS`):
  encoder, a truncated MobileNetV3-Small: a 3x3/2 stem conv (16, hard-swish), then the inverted
    residual blocks of `ENCODER_BLOCKS` (1x1 expand, depthwise kxk, optional squeeze-excite,
    linear 1x1 project; identity added where stride is 1 and channels do not change), down to
    stride 16;
  head (LR-ASPP style): relu(1x1 conv 32 -> 128) gated by sigmoid(1x1 conv of the global mean);
  decoder, three stages up to stride 2, each: bilinear 2x upsampling, 1x1 conv to the skip's
    channels (`up`), a squeeze-excite gate computed from skip + up and applied to the skip,
    sum = gated skip + up, then relu(1x1 conv) plus relu(depthwise 3x3) of it (a residual);
  a 2x2/2 transposed conv to one channel (the custom op `Convolution2DTransposeBias`): logits at
    full resolution. The .tflite ends with a sigmoid; `__call__` returns the logits before it.
The skip points (`FEATURES`) are the tensors the decoder merges: the stem's output (stride 2), the
outputs of blocks 1 and 3 (strides 4, 8), the encoder's output (stride 16), and the head's output,
which the decoder upsamples first.

Source and licence: npm `@mediapipe/selfie_segmentation@0.1.1675465747` (Apache-2.0), file
`package/selfie_segmentation.tflite` (249,024 bytes; float16 constants, 106k parameters; its
description: keras2tflite_selfiesegmentation_mlkit-256x256-2021_01_19-v1215). The registry's
tarball is fetched and verified by `nst_flax.package_files` (`WEIGHTS`); the .tflite is parsed by the
small FlatBuffer reader below (`read_tflite`, struct and numpy only: no TFLite or TensorFlow).

Conventions, as in the graph (tests/test_mediapipe_selfie.py compares every skip point and the
output with the TFLite interpreter): TF 'SAME' padding (for stride 2 the extra pixel is padded at
the bottom/right, which `nn.Conv(padding='SAME')` does too); hard-swish x * relu6(x + 3) / 6;
RESIZE_BILINEAR with half_pixel_centers=True, align_corners=False (`upsample2x`); the AVERAGE_POOL
ops cover the whole feature map at 256 px, so they are global means here, at any size; no input
normalisation (the model takes RGB in [0, 1] as is).
"""
from __future__ import annotations

import dataclasses
import os
import struct

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nst_flax import package_files
from nst_flax import params_cache
from nst_flax import weights

Array = jax.Array

WEIGHTS = package_files.PackageFile(
    what='the MediaPipe selfie segmentation model',
    requirement='@mediapipe/selfie_segmentation@0.1.1675465747',
    archive='selfie_segmentation-0.1.1675465747.tgz',
    archive_sha256='7767b33eaa68990ee06c28bbb89f39a13a47ebb07ff0f1fd4947d9e817bb9bf9',
    member='package/selfie_segmentation.tflite',
    sha256='8d13b7fae74af625c641226813616a2117bd6bca19eb3b75574621fc08557f27',
    size='4 MB',
    url=('https://registry.npmjs.org/@mediapipe/selfie_segmentation/-/'
         'selfie_segmentation-0.1.1675465747.tgz'))
# Bumped whenever the cached .npz layout changes.
NPZ_NAME = 'mediapipe_selfie_segmentation_v2.npz'

INPUT_SIZE = 256  # the size the model was trained and released at
STEM_FEATURES = 16
# (expand channels, kernel, stride, output channels, squeeze-excite channels or 0, activation).
ENCODER_BLOCKS = (
    (16, 3, 2, 16, 8, 'relu'),
    (72, 3, 2, 24, 0, 'relu'),
    (88, 3, 1, 24, 0, 'relu'),
    (96, 5, 2, 32, 24, 'hard_swish'),
    (128, 5, 1, 32, 32, 'hard_swish'),
    (128, 5, 1, 32, 32, 'hard_swish'),
    (96, 5, 1, 32, 24, 'hard_swish'),
    (96, 5, 1, 32, 24, 'hard_swish'),
)
HEAD_FEATURES = 128
# (name, stride, channels) of the skip points; the decoder merges stride8, stride4, stride2.
FEATURES = (('stride2', 2, 16), ('stride4', 4, 16), ('stride8', 8, 24), ('stride16', 16, 32),
            ('head', 16, HEAD_FEATURES))
MAX_STRIDE = 16
NUM_PARAMS = 106_401

_ACTIVATIONS = {'relu': nn.relu, 'hard_swish': nn.hard_swish}


def upsample2x(x: Array) -> Array:
  """Bilinear 2x upsampling of NHWC `x`, as TFLite's RESIZE_BILINEAR with half_pixel_centers=True
  and align_corners=False: output pixel 2i samples input coordinate i - 1/4 and 2i + 1 samples
  i + 1/4, clamped to the edge pixels."""
  for axis in (1, 2):
    n = x.shape[axis]
    first, last = jnp.take(x, jnp.array([0]), axis), jnp.take(x, jnp.array([n - 1]), axis)
    prev = jnp.concatenate([first, jax.lax.slice_in_dim(x, 0, n - 1, axis=axis)], axis)
    next_ = jnp.concatenate([jax.lax.slice_in_dim(x, 1, n, axis=axis), last], axis)
    pair = jnp.stack([0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * next_], axis + 1)
    x = pair.reshape(x.shape[:axis] + (2 * n,) + x.shape[axis + 1:])
  return x


class SqueezeExcite(nn.Module):
  """sigmoid(1x1 conv(relu(1x1 conv(global mean of x)))): a per-channel gate in (0, 1)."""
  hidden: int
  features: int

  @nn.compact
  def __call__(self, x: Array) -> Array:
    x = jnp.mean(x, axis=(1, 2), keepdims=True)
    x = nn.relu(nn.Conv(self.hidden, (1, 1), name='reduce')(x))
    return nn.sigmoid(nn.Conv(self.features, (1, 1), name='expand')(x))


class InvertedResidual(nn.Module):
  """1x1 expand, depthwise kxk, optional squeeze-excite, linear 1x1 project (+ identity)."""
  expand: int
  kernel_size: int
  stride: int
  features: int
  se: int  # squeeze-excite hidden channels; 0: none
  activation: str

  @nn.compact
  def __call__(self, x: Array) -> Array:
    act, k = _ACTIVATIONS[self.activation], self.kernel_size
    y = act(nn.Conv(self.expand, (1, 1), name='expand')(x))
    y = act(nn.Conv(self.expand, (k, k), strides=self.stride, padding='SAME',
                    feature_group_count=self.expand, name='depthwise')(y))
    if self.se:
      y = y * SqueezeExcite(self.se, self.expand, name='se')(y)
    y = nn.Conv(self.features, (1, 1), name='project')(y)
    if self.stride == 1 and x.shape[-1] == self.features:
      y = y + x
    return y


class DecoderStage(nn.Module):
  """2x upsampling of `x`, merged with `skip` through a squeeze-excite gate, then refined."""

  @nn.compact
  def __call__(self, x: Array, skip: Array) -> Array:
    c = skip.shape[-1]
    up = nn.Conv(c, (1, 1), name='project')(upsample2x(x))
    # The gate sees both inputs but scales only the skip connection.
    x = skip * SqueezeExcite(c, c, name='se')(skip + up) + up
    x = nn.relu(nn.Conv(c, (1, 1), name='conv')(x))
    return x + nn.relu(nn.Conv(c, (3, 3), padding='SAME', feature_group_count=c,
                               name='depthwise')(x))


class SelfieEncoder(nn.Module):
  """The encoder and head: RGB [0, 1] images [N, H, W, 3] (H, W divisible by 16) -> the skip
  points of `FEATURES` (name -> [N, H/s, W/s, c])."""

  @nn.compact
  def __call__(self, x: Array) -> dict[str, Array]:
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[1] % MAX_STRIDE or x.shape[2] % MAX_STRIDE:
      raise ValueError(f'SelfieSegmentation: expected RGB images [N, H, W, 3] with H and W '
                       f'divisible by {MAX_STRIDE}, got shape {list(x.shape)}')
    x = nn.hard_swish(nn.Conv(STEM_FEATURES, (3, 3), strides=2, padding='SAME', name='stem')(x))
    skips = {'stride2': x}
    for i, (expand, kernel, stride, cout, se, act) in enumerate(ENCODER_BLOCKS, 1):
      x = InvertedResidual(expand, kernel, stride, cout, se, act, name=f'block{i}')(x)
      if i == 1:
        skips['stride4'] = x
      elif i == 3:
        skips['stride8'] = x
    skips['stride16'] = x
    y = nn.relu(nn.Conv(HEAD_FEATURES, (1, 1), name='head')(x))
    skips['head'] = y * nn.sigmoid(nn.Conv(HEAD_FEATURES, (1, 1), name='head_gate')(
        jnp.mean(x, axis=(1, 2), keepdims=True)))
    return skips


class SelfieDecoder(nn.Module):
  """The decoder: the skip points of `SelfieEncoder` -> person logits [N, H, W, 1]."""

  @nn.compact
  def __call__(self, skips: dict[str, Array]) -> Array:
    x = skips['head']
    for i, name in enumerate(('stride8', 'stride4', 'stride2'), 1):
      x = DecoderStage(name=f'up{i}')(x, skips[name])
    return nn.ConvTranspose(1, (2, 2), strides=(2, 2), padding='VALID', transpose_kernel=True,
                            name='segment')(x)


class SelfieSegmentation(nn.Module):
  """MediaPipe selfie segmentation on RGB [0, 1] images [N, H, W, 3] (H, W divisible by 16).

  `__call__(x)` -> person logits [N, H, W, 1] (sigmoid of them: the .tflite's probabilities);
  `__call__(x, features=True)` -> dict of the skip points of `FEATURES` (name -> [N, H/s, W/s, c]),
  computing only the encoder and head (which are then all the parameters). The parameters are
  {'encoder': ..., 'decoder': ...}, as in a `unet_flax.models.UNet` that uses the whole network.
  """

  @nn.compact
  def __call__(self, x: Array, features: bool = False) -> Array | dict[str, Array]:
    skips = SelfieEncoder(name='encoder')(x)
    if features:
      return skips
    return SelfieDecoder(name='decoder')(skips)


# ----------------------------------------------------------------------------- .tflite reader


# The few TFLite schema enums the model uses (tensorflow/compiler/mlir/lite/schema/schema.fbs).
_TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
_BUILTIN_OPS = {0: 'ADD', 1: 'AVERAGE_POOL_2D', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D',
                6: 'DEQUANTIZE', 14: 'LOGISTIC', 18: 'MUL', 19: 'RELU', 23: 'RESIZE_BILINEAR',
                32: 'CUSTOM', 117: 'HARD_SWISH'}
_PADDING = {0: 'SAME', 1: 'VALID'}
_ACTIVATION = {0: 'NONE', 1: 'RELU', 2: 'RELU_N1_TO_1', 3: 'RELU6', 4: 'TANH', 5: 'SIGN_BIT'}
# Builtin options tables: (field, struct format, default) in schema order, absent fields default.
_OPTIONS = {
    'CONV_2D': (('padding', 'b', 0), ('stride_w', 'i', 0), ('stride_h', 'i', 0),
                ('fused_activation', 'b', 0), ('dilation_w', 'i', 1), ('dilation_h', 'i', 1)),
    'DEPTHWISE_CONV_2D': (('padding', 'b', 0), ('stride_w', 'i', 0), ('stride_h', 'i', 0),
                          ('depth_multiplier', 'i', 0), ('fused_activation', 'b', 0),
                          ('dilation_w', 'i', 1), ('dilation_h', 'i', 1)),
    'AVERAGE_POOL_2D': (('padding', 'b', 0), ('stride_w', 'i', 0), ('stride_h', 'i', 0),
                        ('filter_w', 'i', 0), ('filter_h', 'i', 0), ('fused_activation', 'b', 0)),
    'ADD': (('fused_activation', 'b', 0),),
    'MUL': (('fused_activation', 'b', 0),),
    'RESIZE_BILINEAR': (('new_height', 'i', 0), ('new_width', 'i', 0),
                        ('align_corners', '?', False), ('half_pixel_centers', '?', False)),
}


class _Table:
  """A FlatBuffer table at `pos` in `buf`: fields by index, located through its vtable."""

  def __init__(self, buf: bytes, pos: int):
    self.buf, self.pos = buf, pos
    vtable = pos - struct.unpack_from('<i', buf, pos)[0]
    size = struct.unpack_from('<H', buf, vtable)[0]
    self.fields = struct.unpack_from(f'<{(size - 4) // 2}H', buf, vtable + 4)

  def _at(self, i: int) -> int | None:
    return self.pos + self.fields[i] if i < len(self.fields) and self.fields[i] else None

  def _target(self, i: int) -> int | None:
    """Where the vector, string or table that field `i` refers to begins."""
    p = self._at(i)
    return None if p is None else p + struct.unpack_from('<I', self.buf, p)[0]

  def scalar(self, i: int, fmt: str, default=0):
    p = self._at(i)
    return default if p is None else struct.unpack_from('<' + fmt, self.buf, p)[0]

  def table(self, i: int) -> _Table | None:
    p = self._target(i)
    return None if p is None else _Table(self.buf, p)

  def vector(self, i: int, dtype) -> np.ndarray:
    p = self._target(i)
    if p is None:
      return np.zeros(0, dtype)
    return np.frombuffer(self.buf, dtype, struct.unpack_from('<I', self.buf, p)[0], p + 4)

  def tables(self, i: int) -> list[_Table]:
    p = self._target(i)
    n = 0 if p is None else struct.unpack_from('<I', self.buf, p)[0]
    # A vector of tables holds offsets, each relative to its own position.
    return [_Table(self.buf, q + struct.unpack_from('<I', self.buf, q)[0])
            for q in range(p + 4, p + 4 + 4 * n, 4)] if n else []

  def string(self, i: int) -> str:
    return self.vector(i, np.uint8).tobytes().decode()


@dataclasses.dataclass
class Tensor:
  name: str
  shape: tuple[int, ...]
  dtype: type
  data: np.ndarray | None  # constants only; float16 ones as float32


@dataclasses.dataclass
class Operator:
  op: str  # builtin name, or the custom code for CUSTOM ops
  inputs: tuple[int, ...]  # tensor indices; -1: an omitted optional input
  outputs: tuple[int, ...]
  options: dict  # decoded builtin options, or a custom op's options where known


@dataclasses.dataclass
class TFLiteGraph:
  """The first subgraph of a .tflite file: what the model port needs and tests inspect."""
  tensors: list[Tensor]
  operators: list[Operator]
  inputs: tuple[int, ...]
  outputs: tuple[int, ...]
  description: str

  def constants(self) -> dict[str, np.ndarray]:
    """Constant tensors by name, float32 where the file stores float16."""
    return {t.name: t.data for t in self.tensors if t.data is not None}


def _operator_options(op: str, table: _Table, custom: np.ndarray) -> dict:
  if op == 'Convolution2DTransposeBias':
    # MediaPipe's custom op keeps TfLiteTransposeConvParams raw: int32 padding (1 SAME,
    # 2 VALID), stride_w, stride_h.
    padding, stride_w, stride_h = struct.unpack_from('<3i', custom.tobytes())
    return {'padding': {1: 'SAME', 2: 'VALID'}.get(padding, padding), 'stride_w': stride_w,
            'stride_h': stride_h}
  options_table = table.table(4)  # builtin_options (a union: field 3 holds its type)
  if options_table is None:
    return {}
  options = {}
  for i, (name, fmt, default) in enumerate(_OPTIONS.get(op, ())):
    value = options_table.scalar(i, fmt, default)
    options[name] = (_PADDING.get(value, value) if name == 'padding' else
                     _ACTIVATION.get(value, value) if name == 'fused_activation' else value)
  return options


def read_tflite(path: str) -> TFLiteGraph:
  """Tensors (with constant data), operators and inputs/outputs of a .tflite's first subgraph.

  Constants are read from the buffers inside the FlatBuffer (files under 2 GB keep them there).
  """
  with open(path, 'rb') as f:
    buf = f.read()
  if len(buf) < 8 or buf[4:8] != b'TFL3':
    raise weights.WeightsError(f'{path}: not a TFLite model (no TFL3 file identifier)')
  try:
    return _read_model(buf)
  except (struct.error, IndexError, ValueError) as e:  # offsets out of range, bad shapes, ...
    raise weights.WeightsError(f'{path}: truncated or malformed TFLite model ({e})') from e


def _read_model(buf: bytes) -> TFLiteGraph:
  model = _Table(buf, struct.unpack_from('<I', buf, 0)[0])
  buffers = model.tables(4)
  opcodes = []
  for code in model.tables(1):
    # Newer files keep the code in `builtin_code` (field 3); old ones in the deprecated byte.
    builtin = max(code.scalar(0, 'b'), code.scalar(3, 'i'))
    opcodes.append(code.string(1) if builtin == 32 else _BUILTIN_OPS.get(builtin, str(builtin)))
  graph = model.tables(2)[0]
  tensors = []
  for t in graph.tables(0):
    dtype = _TENSOR_TYPES.get(t.scalar(1, 'b'))
    data = buffers[t.scalar(2, 'I')].vector(0, np.uint8)  # buffer 0 is the empty one
    shape = tuple(int(d) for d in t.vector(0, '<i4'))
    if len(data) and dtype is not None:
      data = np.frombuffer(data.tobytes(), np.dtype(dtype).newbyteorder('<')).reshape(shape)
      data = data.astype(np.float32) if dtype == np.float16 else data
    else:
      data = None
    tensors.append(Tensor(t.string(3), shape, dtype, data))
  operators = []
  for o in graph.tables(3):
    op = opcodes[o.scalar(0, 'I')]
    operators.append(Operator(op, tuple(int(i) for i in o.vector(1, '<i4')),
                              tuple(int(i) for i in o.vector(2, '<i4')),
                              _operator_options(op, o, o.vector(5, np.uint8))))
  return TFLiteGraph(tensors, operators, tuple(int(i) for i in graph.vector(1, '<i4')),
                     tuple(int(i) for i in graph.vector(2, '<i4')), model.string(3))


# ----------------------------------------------------------------------------- weights


def _tflite_layers() -> dict[tuple[str, ...], str]:
  """Flax module path -> the Keras layer whose `<name>/Kernel` and `/Bias` it takes.

  Keras numbers the layers of each kind in the order they were built, which is the order of
  `SelfieSegmentation.__call__`: conv2d, conv2d_1, ... and depthwise_conv2d, depthwise_conv2d_1,
  ... (the graph confirms it: each op's inputs name its Kernel and Bias).
  """
  counters = {'conv2d': 0, 'depthwise_conv2d': 0}

  def next_name(kind):
    n = counters[kind]
    counters[kind] += 1
    return kind if n == 0 else f'{kind}_{n}'

  layers = {('encoder', 'stem'): next_name('conv2d')}
  for i, (*_, se, _) in enumerate(ENCODER_BLOCKS, 1):
    block = ('encoder', f'block{i}')
    layers[block + ('expand',)] = next_name('conv2d')
    layers[block + ('depthwise',)] = next_name('depthwise_conv2d')
    if se:
      layers[block + ('se', 'reduce')] = next_name('conv2d')
      layers[block + ('se', 'expand')] = next_name('conv2d')
    layers[block + ('project',)] = next_name('conv2d')
  layers[('encoder', 'head')] = next_name('conv2d')
  layers[('encoder', 'head_gate')] = next_name('conv2d')
  for i in (1, 2, 3):
    for path in (('project',), ('se', 'reduce'), ('se', 'expand'), ('conv',)):
      layers[('decoder', f'up{i}') + path] = next_name('conv2d')
    layers[('decoder', f'up{i}', 'depthwise')] = next_name('depthwise_conv2d')
  layers[('decoder', 'segment')] = 'segment'
  return layers


TFLITE_LAYERS = _tflite_layers()


def params_from_tflite(path: str) -> dict:
  """The Flax params of `SelfieSegmentation` from selfie_segmentation.tflite (numpy float32).

  TFLite kernels are [out, kh, kw, in] (a depthwise one [1, kh, kw, channels], the transposed
  conv's [out, kh, kw, in] too); Flax wants [kh, kw, in, out], [kh, kw, 1, channels] and, for
  `nn.ConvTranspose(transpose_kernel=True)`, [kh, kw, out, in].
  """
  constants = read_tflite(path).constants()
  expected = jax.eval_shape(lambda: SelfieSegmentation().init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3))))['params']
  params = {}
  for module, layer in TFLITE_LAYERS.items():
    try:
      kernel, bias = constants[f'{layer}/Kernel'], constants[f'{layer}/Bias']
    except KeyError as e:
      raise weights.WeightsError(f'{path}: no tensor {e.args[0]}; expected MediaPipe\'s '
                                 f'selfie_segmentation.tflite') from e
    order = (1, 2, 0, 3) if 'depthwise' in layer or layer == 'segment' else (1, 2, 3, 0)
    leaf = {'kernel': np.ascontiguousarray(kernel.transpose(order)), 'bias': bias}
    want = expected
    for key in module:
      want = want[key]
    for k, v in leaf.items():
      if v.shape != want[k].shape:
        raise weights.WeightsError(f'{path}: {layer}/{k.capitalize()} becomes {list(v.shape)}, '
                                   f'expected {list(want[k].shape)} for {"/".join(module)}')
    node = params
    for key in module[:-1]:
      node = node.setdefault(key, {})
    node[module[-1]] = leaf
  return params


def load_params(cache_dir: str | None = None, verbose: bool = True) -> dict:
  """The released model's params for `SelfieSegmentation` (numpy float32), fetched once.

  The .tflite comes from npm's registry through `nst_flax.package_files.fetch_package_file(WEIGHTS)`;
  the converted params are cached as an .npz next to it (`cache_dir`, default `$NST_FLAX_CACHE`
  or ~/.cache/nst_flax). Raises package_files.FetchError saying what to put where when offline.
  """
  cache_dir = cache_dir or package_files.default_cache_dir()
  return params_cache.cached_params(
      os.path.join(cache_dir, NPZ_NAME),
      lambda: params_from_tflite(package_files.fetch_package_file(WEIGHTS, cache_dir, verbose)))
