"""nst_flax.winograd: F(4x4, 3x3) convs give lax.conv's values and gradients at any size."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nst_flax import winograd as wg
from nst_flax.vgg import VGG19, grad_kernels, init_params


def _direct(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), ((1, 1), (1, 1)),
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


@pytest.mark.parametrize('shape', [(1, 1, 1, 8), (2, 5, 7, 8), (1, 12, 9, 16), (1, 16, 16, 4)])
def test_matches_direct_conv(shape):
  kx, kk = jax.random.split(jax.random.PRNGKey(0))
  x = jax.random.normal(kx, shape)
  kernel = jax.random.normal(kk, (3, 3, shape[-1], 6)) / 3.0
  u = wg.transform_kernel(kernel)
  assert u.shape == (36, shape[-1], 6)
  y = wg.conv3x3(x, u)
  ref = _direct(x, kernel)
  assert y.shape == ref.shape == shape[:3] + (6,)
  np.testing.assert_allclose(y, ref, atol=1e-5 * float(jnp.abs(ref).max()))


def test_gradients_match_direct_conv():
  kx, kk = jax.random.split(jax.random.PRNGKey(1))
  x = jax.random.normal(kx, (2, 10, 6, 5))
  kernel = jax.random.normal(kk, (3, 3, 5, 3))

  def loss(conv, x, kernel):
    return jnp.sum(jnp.sin(conv(x, kernel)))

  wino = jax.grad(lambda x, k: loss(lambda x, k: wg.conv3x3(x, wg.transform_kernel(k)), x, k),
                  argnums=(0, 1))(x, kernel)
  ref = jax.grad(lambda x, k: loss(_direct, x, k), argnums=(0, 1))(x, kernel)
  for got, want in zip(wino, ref):
    np.testing.assert_allclose(got, want, atol=1e-4 * float(jnp.abs(want).max()))


def test_bad_kernel_is_a_clear_error():
  with pytest.raises(ValueError, match='3x3 HWIO kernel'):
    wg.transform_kernel(jnp.zeros((5, 5, 2, 2)))
  with pytest.raises(ValueError, match='does not fit input channels 4'):
    wg.conv3x3(jnp.zeros((1, 8, 8, 4)), jnp.zeros((36, 3, 2)))


def test_vgg_uses_winograd_for_wide_layers_only():
  params = jax.tree_util.tree_map(jnp.asarray, init_params(image_size=32))
  gk = grad_kernels(params)
  assert set(gk['block1_conv2']) == {'kernel_t'}          # 64 channels: direct
  assert set(gk['block3_conv1']) == {'kernel_t'}          # 128 -> 256: direct
  assert gk['block3_conv2']['kernel_w'].shape == (36, 256, 256)
  assert gk['block4_conv1']['kernel_t'].shape == (36, 512, 256)
  assert all(set(v) == {'kernel_t'} for v in grad_kernels(params, winograd=False).values())

  # Features and image gradients through Winograd layers match plain autodiff convs.
  x = jax.random.uniform(jax.random.PRNGKey(2), (1, 40, 28, 3))
  layers = ('block3_conv3', 'block4_conv2')

  def grad(model, variables):
    def f(x):
      out = model.apply(variables, x * 255.0, layers=layers)
      return sum(jnp.mean(jnp.square(v)) for v in out.values())
    return jax.jit(jax.value_and_grad(f))(x)

  ref_v, ref_g = grad(VGG19(exact_kernel_grads=True, winograd=False), {'params': params})
  for model, variables in ((VGG19(), {'params': params}),
                           (VGG19(), {'params': params, 'grad_kernels': gk}),
                           (VGG19(exact_kernel_grads=True), {'params': params})):
    v, g = grad(model, variables)
    np.testing.assert_allclose(v, ref_v, rtol=1e-4)
    np.testing.assert_allclose(g, ref_g, atol=2e-4 * float(jnp.abs(ref_g).max()))


def test_bfloat16_kernel_gives_float32_output_near_the_float32_conv():
  kx, kk = jax.random.split(jax.random.PRNGKey(3))
  x = jax.random.normal(kx, (1, 12, 9, 32))
  u = wg.transform_kernel(jax.random.normal(kk, (3, 3, 32, 16)) / 10.0)
  ref = wg.conv3x3(x, u)
  y = wg.conv3x3(x, u.astype(jnp.bfloat16))
  assert y.dtype == jnp.float32 and y.shape == ref.shape
  rel = float(jnp.linalg.norm(y - ref) / jnp.linalg.norm(ref))
  # bfloat16 keeps 8 bits of the transform-domain operands (2.6% here, random data); the sums
  # are float32. On VGG19's image gradient: 0.77% with the real weights at 512 px.
  assert 0 < rel < 5e-2


def test_bfloat16_image_gradient_keeps_the_loss_and_nears_the_gradient():
  """grad_kernels(grad_dtype='bfloat16'): the layers from 128 channels take their input
  gradient as bfloat16 Winograd products; the forward pass, and so the loss, are unchanged."""
  params = jax.tree_util.tree_map(jnp.asarray, init_params(image_size=32))
  gk = grad_kernels(params)
  gk16 = grad_kernels(params, grad_dtype='bfloat16')
  assert gk16['block2_conv1']['kernel_t'].dtype == jnp.float32       # 64 -> 128: float32
  assert gk16['block2_conv1']['kernel_t'].shape == (3, 3, 128, 64)
  assert set(gk16['block3_conv1']) == {'kernel_t'}                      # forward stays direct
  assert gk16['block3_conv1']['kernel_t'].shape == (36, 256, 128)
  assert gk16['block3_conv1']['kernel_t'].dtype == jnp.bfloat16
  np.testing.assert_array_equal(gk16['block4_conv1']['kernel_w'], gk['block4_conv1']['kernel_w'])
  with pytest.raises(ValueError, match="grad_dtype must be 'float32' or 'bfloat16'"):
    grad_kernels(params, grad_dtype='float16')

  x = jax.random.uniform(jax.random.PRNGKey(4), (1, 40, 28, 3))
  layers = ('block2_conv2', 'block4_conv2')

  def grad(variables):
    def f(x):
      out = VGG19().apply(variables, x * 255.0, layers=layers)
      return sum(jnp.mean(jnp.square(v)) for v in out.values())
    return jax.jit(jax.value_and_grad(f))(x)

  ref_v, ref_g = grad({'params': params, 'grad_kernels': gk})
  v, g = grad({'params': params, 'grad_kernels': gk16})
  assert g.dtype == jnp.float32
  np.testing.assert_array_equal(v, ref_v)
  rel = float(jnp.linalg.norm(g - ref_g) / jnp.linalg.norm(ref_g))
  assert 0 < rel < 2e-2
