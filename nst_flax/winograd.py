"""3x3 'SAME' convolution by Winograd's minimal filtering, F(4x4, 3x3) (Lavin & Gray, 2016).

    u = transform_kernel(kernel)          # HWIO [3, 3, I, O] -> [36, I, O], once per kernel
    y = conv3x3(x, u)                     # NHWC; same values as lax.conv with padding 1
    y = conv3x3(x, u.astype(jnp.bfloat16))  # bfloat16 products, float32 sums and output

A direct 3x3 conv costs 9 multiply-adds per output pixel and channel pair. Winograd's F(4x4, 3x3)
computes each 4x4 output tile from a 6x6 input tile with 36 (2.25 per output pixel): the input
tiles and the kernel are mapped into a 6x6 "transform domain", where the convolution becomes 36
independent matrix products [tiles, I] x [I, O], and the 36 products are mapped back. So the
matmul part, which is what bounds a VGG19 style-transfer step, does 4x fewer FLOPs. The
transforms are additions and multiplications by small constants on strided slices (memory-bound
elementwise work XLA fuses), which only pays off when the channels are wide: measured on XLA:CPU
(2 cores, YNNPACK dots; the README's "Style transfer" section), per 3x3 conv, 256 px input:
64x64x256 channels 30 -> 14 ms, 32x32x512 30 -> 14 ms, but 128x128x128 32 -> 33 ms and
256x256x64 33 -> 58 ms. `use_winograd` encodes that rule.

Numerics: float32 results agree with `lax.conv` to about 2e-5 of the output's largest value (the
transform constants 1/4, 1/6, 1/24 and 8 round differently), which style transfer does not see.
jax.grad through `conv3x3` works (the transforms are linear); style transfer instead uses it as
the forward conv of `vgg.conv3x3`'s image-gradient path, with a flipped kernel.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['TILE', 'MIN_CHANNELS', 'use_winograd', 'transform_kernel', 'conv3x3']

TILE = 4  # output tile size m of F(m x m, 3x3); input tiles are (m + 2) x (m + 2)
MIN_CHANNELS = 256  # Winograd pays off on XLA:CPU from 256 input and output channels (measured)

# F(4x4, 3x3) matrices (Lavin & Gray 2016, interpolation points 0, +-1, +-2, inf):
# Y = A^T [(G g G^T) * (B^T d B)] A for a 3x3 kernel g and a 6x6 input tile d.
_BT = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], np.float64)
_G = np.array([[1 / 4, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6],
               [0, 0, 1]], np.float64)
_AT = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], np.float64)
_ALPHA = TILE + 2


def use_winograd(in_channels: int, out_channels: int) -> bool:
  """Whether `conv3x3` beats a direct conv for these channels (the measured rule above)."""
  return min(in_channels, out_channels) >= MIN_CHANNELS


def transform_kernel(kernel):
  """HWIO [3, 3, I, O] -> the transform-domain kernel G g G^T as [36, I, O]."""
  if kernel.shape[:2] != (3, 3):
    raise ValueError(f'expected a 3x3 HWIO kernel, got shape {kernel.shape}')
  # One [36, 9] x [9, I*O] matmul with kron(G, G): on CPU 14 ms for a 512x512 kernel, against
  # 40 ms as sums of scaled taps and 84 ms as an einsum with G twice (dots plus transposes). It
  # matters in the U-Net, whose train step transforms its encoder kernels every time.
  gg = jnp.asarray(np.kron(_G, _G), kernel.dtype)
  return jnp.dot(gg, kernel.reshape(9, -1)).reshape(_ALPHA * _ALPHA, *kernel.shape[2:])


def _combine(matrix, terms):
  """[sum_i matrix[k, i] * terms[i] for each row k], skipping zeros and unit multiplies."""
  out = []
  for row in matrix:
    acc = None
    for coef, term in zip(row, terms):
      if coef == 0:
        continue
      t = term if coef == 1 else -term if coef == -1 else term * term.dtype.type(coef)
      acc = t if acc is None else acc + t
    out.append(acc)
  return out


def conv3x3(x, u):
  """3x3 stride-1 'SAME' conv of NHWC `x` with a `transform_kernel` output `u` [36, I, O]."""
  m, a = TILE, _ALPHA
  n, h, w, c = x.shape
  if u.shape[:2] != (a * a, c):
    raise ValueError(f'kernel {u.shape} does not fit input channels {c}')
  th, tw = -(-h // m), -(-w // m)  # tiles per column / row
  # Tile (i, j) of the output reads padded rows m*i .. m*i + 5 and columns m*j .. m*j + 5.
  xp = jnp.pad(x, ((0, 0), (1, m * th + 1 - h), (1, m * tw + 1 - w), (0, 0)))

  def taps(v, axis, count):
    return [jax.lax.slice_in_dim(v, k, k + m * (count - 1) + 1, m, axis=axis)
            for k in range(a)]

  # B^T d B: the row transform, materialised once (else each of the 36 outputs below
  # recomputes it from the whole input), then the column transform.
  rows = jax.lax.optimization_barrier(_combine(_BT, taps(xp, 1, th)))
  v = [t for r in rows for t in _combine(_BT, taps(r, 2, tw))]
  v = jax.lax.optimization_barrier(jnp.stack(v).reshape(a * a, n * th * tw, c))
  # 36 independent [tiles, I] x [I, O] products; a bfloat16 `u` with a float32 `x`: bfloat16
  # operands, float32 sums (CPUs with AMX run them about 4x faster than float32 ones).
  if u.dtype == jnp.bfloat16 and x.dtype == jnp.float32:
    prod = jnp.einsum('tpi,tio->tpo', v.astype(jnp.bfloat16), u,
                      preferred_element_type=jnp.float32)
  else:
    prod = jnp.einsum('tpi,tio->tpo', v, u.astype(x.dtype))
  prod = prod.reshape(a, a, n, th, tw, -1)
  # A^T M A back to 4x4 output tiles, interleaved into the image.
  out_rows = _combine(_AT, list(prod))  # m arrays [a, n, th, tw, O]
  y = jnp.stack([jnp.stack(_combine(_AT, list(r)), axis=-2) for r in out_rows], axis=2)
  return y.reshape(n, m * th, m * tw, -1)[:, :h, :w]
