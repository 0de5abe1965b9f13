"""VGG19 feature extractor (conv layers up to block5_conv4, Keras layer names) in Flax Linen.

    model = VGG19(pooling='max')                      # or 'avg'
    feats = model.apply({'params': params}, x, layers=('block4_conv2', 'block1_conv1'))
    feats['block4_conv2']                             # [N, H/8, W/8, 512], after the ReLU

`x` is NHWC in the Caffe/Keras convention (`nst_flax.weights.preprocess`). Only the layers up to
the deepest requested one are computed. Activations are post-ReLU, named like the Keras conv
layers (Keras fuses the ReLU into the conv); pool layers can be requested by their Keras names
too (`block3_pool`).

Fast image gradients. `jax.grad` of a loss with respect to the *image* needs, per conv, the
"input-gradient" convolution: a conv of the output cotangent with the spatially flipped kernel
whose in/out axes are swapped. XLA:CPU writes that as a convolution with a reversed kernel in
`01oi` form; outside loops the layout pass turns the kernel into a plain `01io` copy and the conv
runs on the fast Eigen kernel, but inside `lax.fori_loop`/`scan` the kernel is a loop value, the
`01oi` convolution stays, and it runs 3-4x slower (the whole step 2.6-3.5x slower). `conv3x3`
below is a `jax.custom_vjp` whose backward is a *plain forward* conv with a kernel flipped and
transposed once, outside the loop (`grad_kernels(params)`, passed as the `grad_kernels`
collection). It returns no kernel gradients (they are never needed for style transfer); use
`exact_kernel_grads=True` (the default autodiff path) to train the network.

Winograd. The wide layers (256 and 512 channels: blocks 3-5, three quarters of the FLOPs) run as
Winograd F(4x4, 3x3) convs (`nst_flax.winograd`), 4x fewer matmul FLOPs. On the image-gradient
path `grad_kernels` transforms their forward and input-gradient kernels once, outside the loop;
with `exact_kernel_grads=True` (the U-Net encoder) autodiff runs through the transforms.
`VGG19(winograd=False)` / `grad_kernels(params, winograd=False)` keep every conv direct.

Padded images. `apply(..., valid=m)` with a [N, H, W, 1] 0/1 mask of the image's real pixels
(a top-left block; the rest is padding) zeroes every layer's input outside that block, so each
conv sees the zeros a 'SAME' conv of the unpadded image sees at its border, and the features
inside the block are those of the unpadded image (`valid_masks` gives the block at each layer).
One compiled program then serves every image size that pads to the same shape.
"""
from __future__ import annotations

from typing import Dict, Iterable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nst_flax import winograd as wg
from nst_flax.weights import CONV_CHANNELS, CONV_LAYERS

__all__ = ['VGG19', 'LAYERS', 'CONV_LAYERS', 'POOL_LAYERS', 'grad_kernels', 'layer_index',
           'check_layers', 'conv3x3', 'valid_masks']

POOL_LAYERS = tuple(f'block{b}_pool' for b in range(1, 6))


def _layer_sequence():
  seq = []
  for name in CONV_LAYERS:
    seq.append(name)
    block, conv = name.split('_')
    last = {'block1': 'conv2', 'block2': 'conv2'}.get(block, 'conv4')
    if conv == last:
      seq.append(f'{block}_pool')
  return tuple(seq)


LAYERS = _layer_sequence()  # block1_conv1, block1_conv2, block1_pool, ..., block5_pool
_INDEX = {n: i for i, n in enumerate(LAYERS)}


def layer_index(name: str) -> int:
  return _INDEX[name]


def check_layers(layers: Iterable[str]) -> None:
  """Raises ValueError naming the first unknown layer."""
  for name in layers:
    if name not in _INDEX:
      raise ValueError(f'unknown VGG19 layer {name!r}; valid names are block1_conv1 .. '
                       f'block5_conv4 and block1_pool .. block5_pool')


def _conv(x, kernel):
  return jax.lax.conv_general_dilated(
      x, kernel, window_strides=(1, 1), padding=((1, 1), (1, 1)),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _conv_few_outputs(x, kernel):
  """`_conv` for a kernel with few output channels (block1_conv1's input gradient: 64 -> 3), as
  one [pixels, I] x [I, 9 O] product and a sum of the 9 taps' shifted outputs: XLA:CPU runs that
  conv outside YNNPACK (44 against 30 ms at 512 x 512 on 2 cores)."""
  n, h, w, c = x.shape
  o = kernel.shape[-1]
  taps = jnp.dot(x.reshape(-1, c), jnp.transpose(kernel, (2, 0, 1, 3)).reshape(c, 9 * o))
  taps = jnp.pad(taps.reshape(n, h, w, 3, 3, o), ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0)))
  return sum(taps[:, i:i + h, j:j + w, i, j] for i in range(3) for j in range(3))


FEW_OUTPUTS = 4  # output channels up to which `_conv_any` uses `_conv_few_outputs`


def _conv_any(x, kernel):
  """Direct conv for an HWIO kernel (`_conv_few_outputs` for up to FEW_OUTPUTS output channels),
  Winograd for a transformed [36, I, O] one."""
  if kernel.ndim == 3:
    return wg.conv3x3(x, kernel)
  return _conv_few_outputs(x, kernel) if kernel.shape[-1] <= FEW_OUTPUTS else _conv(x, kernel)


def flip_kernel(kernel):
  """HWIO kernel -> kernel of the input-gradient conv (spatially flipped, I and O swapped)."""
  return jnp.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))


@jax.custom_vjp
def conv3x3(x, kernel, kernel_t):
  """3x3 'SAME' conv (NHWC) whose x-gradient is a forward conv with `kernel_t`.

  Each kernel is HWIO (direct conv) or Winograd-transformed [36, I, O] (`nst_flax.winograd`).
  """
  return _conv_any(x, kernel)


def _conv3x3_fwd(x, kernel, kernel_t):
  return _conv_any(x, kernel), (kernel, kernel_t)


def _conv3x3_bwd(res, g):
  kernel, kernel_t = res
  # Image gradient only; the kernel cotangents are zeros that XLA removes when (as in style
  # transfer) nobody uses them.
  return _conv_any(g, kernel_t), jnp.zeros_like(kernel), jnp.zeros_like(kernel_t)


conv3x3.defvjp(_conv3x3_fwd, _conv3x3_bwd)


# Layers from this many input and output channels run their input-gradient conv as Winograd
# products in bfloat16 with `grad_kernels(..., grad_dtype='bfloat16')`.
BF16_GRAD_MIN_CHANNELS = 128


def _image_grad_kernels(kernel, winograd: bool, grad_dtype: str = 'float32'):
  """(forward kernel, input-gradient kernel) as the image-gradient path runs them."""
  kernel_t = flip_kernel(kernel)
  wide = winograd and wg.use_winograd(*kernel.shape[2:])
  fwd = wg.transform_kernel(kernel) if wide else kernel
  if grad_dtype == 'bfloat16' and winograd and min(kernel.shape[2:]) >= BF16_GRAD_MIN_CHANNELS:
    return fwd, wg.transform_kernel(kernel_t).astype(jnp.bfloat16)
  return fwd, wg.transform_kernel(kernel_t) if wide else kernel_t


def grad_kernels(params, winograd: bool = True,
                 grad_dtype: str = 'float32') -> Dict[str, Dict[str, jnp.ndarray]]:
  """The `grad_kernels` collection for `VGG19.apply`: the kernels of the image-gradient path
  (flipped/transposed, Winograd-transformed where that is faster), computed once.

  `kernel_t` is the input-gradient kernel; `kernel_w`, present for Winograd layers only, the
  transformed forward kernel. `grad_dtype='bfloat16'`: the layers of at least
  BF16_GRAD_MIN_CHANNELS channels take their input gradient as Winograd products of bfloat16
  operands with float32 sums (the forward pass, and so the loss, stay float32): on a CPU with
  AMX (Sapphire Rapids), 512 px: loss and gradient 1.039 -> 0.958 s, gradient within 0.77%.
  """
  if grad_dtype not in ('float32', 'bfloat16'):
    raise ValueError(f"grad_dtype must be 'float32' or 'bfloat16', not {grad_dtype!r}")
  out = {}
  for name in CONV_LAYERS:
    if name in params:
      fwd, bwd = _image_grad_kernels(jnp.asarray(params[name]['kernel']), winograd, grad_dtype)
      out[name] = {'kernel_t': bwd} if fwd.ndim == 4 else {'kernel_w': fwd, 'kernel_t': bwd}
  return out


def pool2x2(x, pooling: str = 'max'):
  """2x2 stride-2 'VALID' pooling as a reshape + reduction.

  Same values as `nn.max_pool`/`nn.avg_pool`; its gradient is an elementwise compare/select
  that XLA fuses, instead of a select-and-scatter (measured ~5% of the step on CPU).
  """
  n, h, w, c = x.shape
  h2, w2 = h // 2, w // 2
  x = x[:, : 2 * h2, : 2 * w2].reshape(n, h2, 2, w2, 2, c)
  return x.max(axis=(2, 4)) if pooling == 'max' else x.mean(axis=(2, 4))


def _pool_valid(valid):
  """The real-pixel mask after a 2x2 'VALID' pool: a pooled pixel is real if all four are (an
  odd real height or width loses its last row or column, as the unpadded pool does)."""
  return -pool2x2(-valid, 'max')


def valid_masks(valid, layers: Sequence[str]) -> Dict[str, jnp.ndarray]:
  """{layer: [N, h, w, 1] real-pixel mask at that layer's resolution} for a [N, H, W, 1] one."""
  out = {}
  deepest = max(_INDEX[n] for n in layers)
  for name in LAYERS[: deepest + 1]:
    if name.endswith('_pool'):
      valid = _pool_valid(valid)
    if name in layers:
      out[name] = valid
  return out


class Conv3x3(nn.Module):
  features: int
  exact_kernel_grads: bool = False
  winograd: bool = True

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (3, 3, x.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    kernel = kernel.astype(x.dtype)
    if self.exact_kernel_grads:
      # Plain autodiff; Winograd's transforms are linear, so its weight gradients are exact.
      wide = self.winograd and wg.use_winograd(x.shape[-1], self.features)
      y = wg.conv3x3(x, wg.transform_kernel(kernel)) if wide else _conv(x, kernel)
    else:
      if self.has_variable('grad_kernels', 'kernel_t'):
        kernel_t = self.get_variable('grad_kernels', 'kernel_t')
        if kernel_t.dtype != jnp.bfloat16:  # bfloat16 Winograd kernels: float32 sums
          kernel_t = kernel_t.astype(x.dtype)
        if self.has_variable('grad_kernels', 'kernel_w'):
          kernel = self.get_variable('grad_kernels', 'kernel_w').astype(x.dtype)
      else:
        kernel, kernel_t = _image_grad_kernels(kernel, self.winograd)
      y = conv3x3(x, kernel, kernel_t)
    return nn.relu(y + bias.astype(x.dtype))


class InputNorm(nn.Module):
  """Per-channel affine on the (Caffe-preprocessed) input; identity for the Keras weights."""

  @nn.compact
  def __call__(self, x):
    scale = self.param('scale', nn.initializers.ones, (x.shape[-1],))
    offset = self.param('offset', nn.initializers.zeros, (x.shape[-1],))
    return x * scale.astype(x.dtype) + offset.astype(x.dtype)


class VGG19(nn.Module):
  """VGG19 conv trunk. `__call__(x, layers)` returns {name: activation} for `layers`.

  Attributes:
    pooling: 'max' (ImageNet VGG) or 'avg' (Gatys et al. suggest it gives smoother results).
    exact_kernel_grads: if True, plain autodiff convs (gradients w.r.t. the weights too, e.g.
      to fine-tune an encoder); if False (default), the image-gradient-only conv.
    winograd: Winograd convs for the wide layers (on the image-gradient path when no
      `grad_kernels` collection is passed; the collection's kernels decide otherwise).
  """

  pooling: str = 'max'
  exact_kernel_grads: bool = False
  winograd: bool = True

  @nn.compact
  def __call__(self, x, layers: Sequence[str] = ('block5_conv4',), valid=None):
    if self.pooling not in ('max', 'avg'):
      raise ValueError(f"pooling must be 'max' or 'avg', not {self.pooling!r}")
    layers = tuple(layers)
    if not layers:
      return {}
    check_layers(layers)
    wanted = set(layers)
    deepest = max(_INDEX[n] for n in layers)
    out = {}
    x = InputNorm(name='input_norm')(x)
    if valid is not None:
      valid = valid.astype(x.dtype)
      x = x * valid
    convs = iter(zip(CONV_LAYERS, CONV_CHANNELS))
    for name in LAYERS[: deepest + 1]:
      if name.endswith('_pool'):
        x = pool2x2(x, self.pooling)
        if valid is not None:
          valid = _pool_valid(valid)
          x = x * valid
      else:
        cname, ch = next(convs)
        assert cname == name
        x = Conv3x3(ch, self.exact_kernel_grads, self.winograd, name=name)(x)
        if valid is not None:
          x = x * valid
      if name in wanted:
        out[name] = x
    return out


def init_params(key=None, image_size: int = 32, seed: int = 0):
  """Random VGG19 params in the layout of `weights.load_vgg19_params` (He-normal kernels).

  Fast (shapes from `jax.eval_shape`, values from numpy): meant for tests and examples.
  """
  del key
  x = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  shapes = jax.eval_shape(
      lambda x: VGG19().init(jax.random.PRNGKey(0), x, layers=('block5_conv4',)), x)['params']
  rng = np.random.default_rng(seed)

  def make(path, s):
    name = path[-1].key
    if name == 'kernel':
      fan_in = s.shape[0] * s.shape[1] * s.shape[2]
      return rng.normal(0.0, np.sqrt(2.0 / fan_in), s.shape).astype(np.float32)
    if name == 'scale':
      return np.ones(s.shape, np.float32)
    return np.zeros(s.shape, np.float32)

  return jax.tree_util.tree_map_with_path(make, shapes)
