"""A frequency preconditioner for L-BFGS over an image: L-BFGS runs on z, with the image x = P z.

    p = precondition.frequency_scaling((h, w), exponent=0.25)         # numpy arrays, host side
    p = precondition.frequency_scaling((h, w), 0.25, padded_hw=(H, W))  # for a padded image
    x = precondition.to_image(z, p)                                   # z, x: [N, H, W, C]
    z = precondition.from_image(x, p)

P scales each frequency of the image's orthonormal 2-D DCT by w(f) = (f0 / max(f, f0))^a, f the
frequency in cycles per pixel (f0 = `CUTOFF`): P = C^T diag(w) C, symmetric and invertible. So
L-BFGS on z is L-BFGS on x whose initial inverse Hessian is gamma P^2 instead of gamma I: fine
detail gets shorter first steps than broad areas of colour, where Gatys' loss is flatter. The
minimiser is the same; the path to it is shorter. Iterations of L-BFGS with unit steps and memory
100 to torch L-BFGS's loss (benchmarks/README.md, 2026-12-05): at 256 px, to its loss after 300,
329 without, 288 / 272 / 264 / 297 with a = 0.15 / 0.25 / 0.35 / 0.5, and a = 1 (the 1/f
scaling of Lucid's image parameterisation) does not reach it in 360; at 512 px, to its loss after
500, 518 without, 314 / 289 with a = 0.25 / 0.35 (`config.lbfgs_precondition`, 0.35).

C is applied as dense [H, H] and [W, W] matrices, so P costs four matrix products each way. For
a padded image (`padded_hw`) the matrices are the real size's, with an identity on the padding:
P maps the real block to itself exactly as it does the unpadded image, and leaves the padding as
it is, so a padded run gives the unpadded run's image (transfer.py's size buckets).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import jax.numpy as jnp
import numpy as np

__all__ = ['CUTOFF', 'dct_matrix', 'frequency_weights', 'frequency_scaling', 'to_image',
           'from_image']

CUTOFF = 1.0 / 256  # f0, cycles per pixel: frequencies below it all get the weight 1


def dct_matrix(n: int) -> np.ndarray:
  """The orthonormal DCT-II as an [n, n] float64 matrix C (C @ v transforms v; C^T inverts)."""
  k, i = np.arange(n)[:, None], np.arange(n)[None, :]
  c = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
  c[0] /= np.sqrt(2.0)
  return c


def frequency_weights(hw: Tuple[int, int], exponent: float, cutoff: float = CUTOFF) -> np.ndarray:
  """[h, w] weights (f0 / max(f, f0))^exponent of the DCT coefficients, f = |(k_y / 2h,
  k_x / 2w)| the coefficient's frequency in cycles per pixel."""
  h, w = hw
  fy, fx = np.arange(h) / (2.0 * h), np.arange(w) / (2.0 * w)
  f = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
  return (cutoff / np.maximum(f, cutoff)) ** float(exponent)


def frequency_scaling(hw: Tuple[int, int], exponent: float,
                      padded_hw: Optional[Tuple[int, int]] = None) -> Dict[str, np.ndarray]:
  """The arrays of P for an image of real size `hw` (padded to `padded_hw`): {'cy': [H, H],
  'cx': [W, W] DCT matrices (identity on the padding), 'w': [1, H, W, 1] weights (1 on the
  padding)}, float32."""
  if exponent < 0:
    raise ValueError(f'the preconditioner exponent must be >= 0, not {exponent}')
  h, w = hw
  H, W = padded_hw or hw
  if H < h or W < w:
    raise ValueError(f'padded size {H}x{W} is smaller than the image {h}x{w}')
  cy, cx = np.eye(H), np.eye(W)
  cy[:h, :h], cx[:w, :w] = dct_matrix(h), dct_matrix(w)
  weights = np.ones((H, W))
  weights[:h, :w] = frequency_weights(hw, exponent)
  return {'cy': cy.astype(np.float32), 'cx': cx.astype(np.float32),
          'w': weights[None, :, :, None].astype(np.float32)}


def _transform(x, my, mx):
  """M_y x M_x^T on NHWC: the 2-D DCT with (C_y, C_x), its inverse with their transposes."""
  return jnp.einsum('wk,nhkc->nhwc', mx, jnp.einsum('hk,nkwc->nhwc', my, x))


def to_image(z, p):
  """x = P z = C^T (w * C z); `p` None: P = I, x = z."""
  if p is None:
    return z
  cy, cx = p['cy'], p['cx']
  return _transform(p['w'] * _transform(z, cy, cx), cy.T, cx.T)


def from_image(x, p):
  """z = P^-1 x = C^T (C x / w); `p` None: z = x."""
  if p is None:
    return x
  cy, cx = p['cy'], p['cx']
  return _transform(_transform(x, cy, cx) / p['w'], cy.T, cx.T)
