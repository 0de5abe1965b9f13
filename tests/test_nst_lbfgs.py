"""nst_flax.lbfgs: the compact-form L-BFGS follows optax.lbfgs's iterates."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nst_flax import lbfgs


def _problem(n=300, seed=0):
  """A convex quadratic plus a non-convex ripple (so that some pairs have s.y of either size)."""
  rng = np.random.default_rng(seed)
  a = rng.normal(size=(n, n)).astype(np.float32)
  h = jnp.asarray(a @ a.T / n + 0.1 * np.eye(n, dtype=np.float32))
  c = jnp.asarray(rng.normal(size=n).astype(np.float32))
  return lambda x: 0.5 * x @ h @ x - c @ x + 0.1 * jnp.sum(jnp.cos(3.0 * x))


def _run(opt, f, x, steps, linesearch):
  state = opt.init(x)
  # The line search has evaluated the loss and gradient at the new point already.
  vg = (optax.value_and_grad_from_state(f) if linesearch else
        lambda x, state: jax.value_and_grad(f)(x))

  @jax.jit
  def step(x, state):
    value, grad = vg(x, state=state)
    updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
    return optax.apply_updates(x, updates), state

  losses = []
  for _ in range(steps):
    x, state = step(x, state)
    losses.append(float(f(x)))
  return x, np.asarray(losses)


@pytest.mark.parametrize('memory,linesearch', [(4, None), (20, None), (6, 'zoom')])
def test_iterates_match_optax(memory, linesearch):
  """Same losses as optax.lbfgs for 30 iterations: before the memory is full, after it wraps
  around (memory 4 and 6), with unit steps and with the zoom line search."""
  f = _problem()
  x0 = jnp.zeros(300, jnp.float32)
  if linesearch is None:
    ours = lbfgs.lbfgs(learning_rate=1.0, memory_size=memory, linesearch=None)
    ref = optax.lbfgs(learning_rate=1.0, memory_size=memory, linesearch=None)
  else:
    ours, ref = lbfgs.lbfgs(memory_size=memory), optax.lbfgs(memory_size=memory)
  x_ours, l_ours = _run(ours, f, x0, 30, linesearch)
  x_ref, l_ref = _run(ref, f, x0, 30, linesearch)
  np.testing.assert_allclose(l_ours, l_ref, rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(x_ours, x_ref, rtol=1e-3, atol=1e-3)
  assert l_ours[-1] < l_ours[0]


def test_direction_matches_two_loop_recursion():
  """One update from the same history: H g equals optax's two-loop recursion, and the state
  keeps the memory as [m, n] arrays and the small products S^T Y and Y^T Y."""
  rng = np.random.default_rng(1)
  n, m = 50, 5
  ours, ref = lbfgs.scale_by_lbfgs(m), optax.scale_by_lbfgs(m)
  s_ours, s_ref = ours.init(jnp.zeros(n)), ref.init(jnp.zeros(n))
  for _ in range(8):  # wraps around the memory of 5
    x = jnp.asarray(rng.normal(size=n).astype(np.float32))
    g = jnp.asarray(rng.normal(size=n).astype(np.float32))
    d_ours, s_ours = ours.update(g, s_ours, x)
    d_ref, s_ref = ref.update(g, s_ref, x)
    np.testing.assert_allclose(d_ours, d_ref, rtol=2e-3, atol=2e-4)
  assert s_ours.s_memory.shape == (m, n) and s_ours.sy.shape == (m, m)
  np.testing.assert_allclose(s_ours.sy, s_ours.s_memory @ s_ours.y_memory.T, rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(s_ours.yy, s_ours.y_memory @ s_ours.y_memory.T, rtol=1e-5,
                             atol=1e-5)


def test_pytree_parameters_and_bad_memory():
  ours = lbfgs.scale_by_lbfgs(3)
  params = {'a': jnp.ones((2, 3)), 'b': jnp.zeros(4)}
  d, _ = ours.update(jax.tree_util.tree_map(jnp.ones_like, params), ours.init(params), params)
  assert jax.tree_util.tree_map(jnp.shape, d) == {'a': (2, 3), 'b': (4,)}
  with pytest.raises(ValueError, match='memory_size must be >= 1, not 0'):
    lbfgs.scale_by_lbfgs(0)
