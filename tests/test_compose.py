"""compose(): identities, shapes, dtypes, batching, threshold and feathering."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nst_flax.compose import compose, feather_mask


def _images(shape=(2, 24, 32, 3), dtype=jnp.float32):
  k1, k2 = jax.random.split(jax.random.key(0))
  return (jax.random.uniform(k1, shape).astype(dtype), jax.random.uniform(k2, shape).astype(dtype))


@pytest.mark.parametrize('feather', [0.0, 5.0])
def test_mask_one_gives_content_and_zero_gives_stylized_exactly(feather):
  content, stylized = _images()
  ones = jnp.ones(content.shape[:-1] + (1,))
  np.testing.assert_array_equal(compose(content, stylized, ones, feather=feather), content)
  np.testing.assert_array_equal(compose(content, stylized, 0 * ones, feather=feather), stylized)


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_shapes_dtypes_and_batching(dtype):
  content, stylized = _images(dtype=dtype)
  mask = jax.random.uniform(jax.random.key(1), content.shape[:-1])   # [B,H,W] is accepted too
  out = compose(content, stylized, mask)
  assert out.shape == content.shape and out.dtype == dtype
  single = compose(content[1], stylized[1], mask[1])
  np.testing.assert_allclose(np.asarray(single, np.float32), np.asarray(out[1], np.float32))
  m = np.asarray(mask, np.float32)[..., None]
  expected = m * np.asarray(content, np.float32) + (1 - m) * np.asarray(stylized, np.float32)
  np.testing.assert_allclose(np.asarray(out, np.float32), expected, atol=1e-2 if dtype == jnp.bfloat16 else 1e-6)


def test_threshold_makes_a_hard_mask():
  content, stylized = _images((1, 8, 8, 3))
  mask = jnp.full((1, 8, 8, 1), 0.6).at[:, :, :4].set(0.4)
  out = compose(content, stylized, mask, threshold=0.5)
  np.testing.assert_array_equal(out[:, :, 4:], content[:, :, 4:])
  np.testing.assert_array_equal(out[:, :, :4], stylized[:, :, :4])


def test_feathered_edge_is_a_monotone_ramp_of_the_requested_width():
  mask = jnp.zeros((1, 1, 41, 1)).at[:, :, 20:].set(1.0)
  soft = np.asarray(feather_mask(mask, 8.0))[0, 0, :, 0]
  assert np.all(np.diff(soft) >= -1e-6)                    # a ramp from 0 to 1
  assert soft[0] < 1e-3 and soft[-1] > 1 - 1e-3
  assert 0.3 < soft[19] < 0.5 and 0.5 < soft[20] < 0.7     # centred on the edge
  width = np.sum((soft > 0.12) & (soft < 0.88))            # FWHM-sized transition
  assert 4 <= width <= 10


def test_mismatched_mask_is_a_clear_error():
  content, stylized = _images()
  with pytest.raises(ValueError, match='mask'):
    compose(content, stylized, jnp.ones((2, 10, 10, 1)))
