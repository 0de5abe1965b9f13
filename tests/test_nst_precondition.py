"""nst_flax.precondition: the DCT preconditioner's algebra, padding, and L-BFGS through it."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nst_flax import lbfgs
from nst_flax import precondition as P


def test_dct_matrix_is_orthonormal_dct_ii():
  c = P.dct_matrix(6)
  np.testing.assert_allclose(c @ c.T, np.eye(6), atol=1e-12)
  np.testing.assert_allclose(c[0], np.full(6, 1 / np.sqrt(6)))            # the mean
  np.testing.assert_allclose(c[1, 0], np.sqrt(2 / 6) * np.cos(np.pi / 12))


def test_weights_are_one_below_the_cutoff_and_fall_as_a_power_above():
  w = P.frequency_weights((64, 32), 0.5, cutoff=1 / 32)
  assert w.shape == (64, 32) and w[0, 0] == 1.0 and w[3, 0] == 1.0    # 3 / 128 < 1 / 32
  np.testing.assert_allclose(w[16, 0], np.sqrt((1 / 32) / (16 / 128)))  # f = 1/8
  np.testing.assert_allclose(w[16, 8], np.sqrt((1 / 32) / np.hypot(1 / 8, 1 / 8)))
  assert np.all(np.diff(w[:, 0]) <= 0) and w.min() > 0
  with pytest.raises(ValueError, match='exponent must be >= 0'):
    P.frequency_scaling((8, 8), -0.1)


def test_to_image_is_symmetric_and_from_image_inverts_it():
  p = P.frequency_scaling((20, 12), 0.35)
  z, v = np.random.default_rng(0).normal(size=(2, 1, 20, 12, 3)).astype(np.float32)
  x = np.asarray(P.to_image(z, p))
  np.testing.assert_allclose(np.asarray(P.from_image(x, p)), z, atol=1e-5)
  np.testing.assert_allclose(np.sum(x * v), np.sum(z * np.asarray(P.to_image(v, p))), rtol=1e-5)
  # The mean colour (below the cutoff) is kept; the detail is scaled down.
  np.testing.assert_allclose(x.mean(axis=(1, 2)), z.mean(axis=(1, 2)), atol=1e-5)
  assert np.std(np.diff(x, axis=2)) < 0.8 * np.std(np.diff(z, axis=2))
  assert np.array_equal(P.frequency_scaling((20, 12), 0.0)['w'], np.ones((1, 20, 12, 1)))


def test_padded_image_gets_the_unpadded_transform_and_its_padding_is_left_alone():
  rng = np.random.default_rng(1)
  z = rng.normal(size=(1, 24, 16, 3)).astype(np.float32)
  real = np.asarray(P.to_image(z[:, :19, :13], P.frequency_scaling((19, 13), 0.35)))
  padded = np.asarray(P.to_image(z, P.frequency_scaling((19, 13), 0.35, padded_hw=(24, 16))))
  np.testing.assert_allclose(padded[:, :19, :13], real, atol=1e-5)
  np.testing.assert_allclose(padded[:, 19:], z[:, 19:], atol=1e-6)
  np.testing.assert_allclose(padded[:, :, 13:], z[:, :, 13:], atol=1e-6)
  with pytest.raises(ValueError, match='smaller than the image'):
    P.frequency_scaling((19, 13), 0.35, padded_hw=(16, 16))


def test_lbfgs_through_the_preconditioner_solves_a_smoothing_problem_sooner():
  """Least squares whose curvature grows with frequency (a smoothness term, as TV gives):
  L-BFGS on z with x = P z gets near the exact minimiser in fewer iterations than on x."""
  n, eps = 32, 1e-2
  target = np.random.default_rng(2).uniform(size=(1, n, n, 3)).astype(np.float32)

  def loss(x):
    dy, dx = jnp.diff(x, axis=1), jnp.diff(x, axis=2)
    return 0.5 * eps * jnp.sum((x - target) ** 2) + 0.5 * (jnp.sum(dy ** 2) + jnp.sum(dx ** 2))

  # The minimiser, exactly: the DCT diagonalises the difference Laplacian (Neumann borders).
  c = P.dct_matrix(n)
  lam = 2 - 2 * np.cos(np.pi * np.arange(n) / n)
  coef = np.einsum('hk,nkwc,wl->nhlc', c, target, c)   # C t C^T
  coef *= eps / (eps + lam[:, None] + lam[None, :])[None, :, :, None]
  exact = np.einsum('kh,nklc,lw->nhwc', c, coef, c)
  best = float(loss(exact))

  p = jax.tree_util.tree_map(jnp.asarray, P.frequency_scaling((n, n), 1.0))
  opt = lbfgs.lbfgs(learning_rate=1.0, memory_size=5, linesearch=None)

  def iterations_to(fn, z, gap):
    st = opt.init(z)
    for i in range(200):
      v, g = jax.value_and_grad(fn)(z)
      if float(v) - best <= gap:
        return i
      u, st = opt.update(g, st, z, value=v, grad=g, value_fn=fn)
      z = z + u
    return 200

  gap = 1e-3 * (float(loss(np.zeros_like(target))) - best)
  plain = iterations_to(loss, jnp.zeros_like(target), gap)
  pre = iterations_to(lambda z: loss(P.to_image(z, p)), jnp.zeros_like(target), gap)
  assert pre < 0.7 * plain, (pre, plain)
