"""nst_flax.vgg and nst_flax.losses on random weights and tiny images."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data

from nst_flax import losses as L
from nst_flax import vgg
from nst_flax.image_io import resize_image
from nst_flax.vgg import VGG19, grad_kernels, init_params
from nst_flax.weights import preprocess


@pytest.fixture(scope='module')
def params():
  return jax.tree_util.tree_map(jnp.asarray, init_params(image_size=32))


def test_named_outputs_shapes_and_pooling(params):
  x = jnp.zeros((1, 32, 48, 3))
  for pooling in ('max', 'avg'):
    f = VGG19(pooling=pooling).apply({'params': params}, x,
                                     layers=('block1_conv1', 'block3_pool', 'block4_conv2'))
    assert set(f) == {'block1_conv1', 'block3_pool', 'block4_conv2'}
    assert f['block1_conv1'].shape == (1, 32, 48, 64)
    assert f['block3_pool'].shape == (1, 4, 6, 256)
    assert f['block4_conv2'].shape == (1, 4, 6, 512)
  with pytest.raises(ValueError, match="unknown VGG19 layer 'block6_conv1'"):
    VGG19().apply({'params': params}, x, layers=('block6_conv1',))


def test_computes_nothing_past_the_deepest_layer(params):
  shallow = {k: params[k] for k in ('input_norm', 'block1_conv1', 'block1_conv2')}
  f = VGG19().apply({'params': shallow}, jnp.zeros((1, 8, 8, 3)), layers=('block1_conv2',))
  assert f['block1_conv2'].shape == (1, 8, 8, 64)
  jaxpr = jax.make_jaxpr(lambda x: VGG19().apply({'params': params}, x,
                                                layers=('block2_conv1',)))(jnp.zeros((1, 8, 8, 3)))
  assert str(jaxpr).count('conv_general_dilated') == 3


def test_image_gradient_conv_matches_autodiff(params):
  x = jax.random.uniform(jax.random.PRNGKey(0), (1, 24, 20, 3))
  layers = ('block1_conv1', 'block3_conv1')

  def loss(model, variables):
    def f(x):
      out = model.apply(variables, preprocess(x), layers=layers)
      return sum(jnp.mean(jnp.square(v)) for v in out.values())
    return jax.jit(jax.grad(f))(x)

  exact = loss(VGG19(exact_kernel_grads=True, winograd=False), {'params': params})
  fast = loss(VGG19(), {'params': params})
  fast_pre = loss(VGG19(), {'params': params, 'grad_kernels': grad_kernels(params)})
  scale = float(jnp.abs(exact).max())
  np.testing.assert_allclose(fast, exact, atol=1e-4 * scale)
  np.testing.assert_allclose(fast_pre, exact, atol=1e-4 * scale)


def test_few_output_conv_matches_lax_conv():
  """block1_conv1's input gradient (64 -> 3 channels) runs as a product and shifted sums."""
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 13, 10, 64))
  kernel = jax.random.normal(jax.random.PRNGKey(2), (3, 3, 64, 3))
  np.testing.assert_allclose(vgg._conv_few_outputs(x, kernel), vgg._conv(x, kernel),
                             rtol=1e-4, atol=1e-4)


def test_compiled_loop_keeps_plain_forward_convs(params):
  """Regression test for the fori_loop slowdown: no reversed-kernel (01oi) conv in the loop."""
  gk = grad_kernels(params)
  model = VGG19()

  def run(x):
    def body(i, x):
      g = jax.grad(lambda x: jnp.mean(model.apply(
          {'params': params, 'grad_kernels': gk}, x, layers=('block2_conv1',))
          ['block2_conv1']))(x)
      return x - g
    return jax.lax.fori_loop(0, 3, body, x)

  hlo = jax.jit(run).lower(jnp.zeros((1, 16, 16, 3))).compile().as_text()
  convs = [l for l in hlo.splitlines() if ' convolution(' in l]
  assert convs and not [l for l in convs if '01oi' in l or 'rhs_reversal' in l]


def test_gram_normalisation_and_guided_mask():
  f = jax.random.normal(jax.random.PRNGKey(1), (1, 6, 5, 4))
  g = L.gram(f)
  ref = np.einsum('hwc,hwd->cd', f[0], f[0]) / (6 * 5 * 4)
  np.testing.assert_allclose(g[0], ref, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(L.gram(f, jnp.ones((1, 6, 5, 1))), g, rtol=1e-5, atol=1e-6)
  mask = jnp.zeros((1, 6, 5, 1)).at[:, :, :3].set(1.0)
  f2 = f.at[:, :, 3:].set(100.0)  # change only where the mask is 0
  np.testing.assert_allclose(L.gram(f2, mask), L.gram(f, mask), rtol=1e-5)
  np.testing.assert_allclose(L.gram(f[:, :, :3]), L.gram(f, mask), rtol=1e-5, atol=1e-6)


def test_gram_gradient_matches_autodiff():
  """The Gram's hand-written backward (F (dG + dG^T)) equals autodiff of the plain einsum,
  with and without a guided mask, for a loss whose cotangent dG is not symmetric."""
  f = jax.random.normal(jax.random.PRNGKey(2), (2, 5, 4, 3))
  mask = jax.random.uniform(jax.random.PRNGKey(3), (2, 5, 4, 1))
  w = jax.random.normal(jax.random.PRNGKey(4), (3, 3))  # makes dG asymmetric

  def plain(f, m):
    fm = f if m is None else f * m
    fm = fm.reshape(2, 20, 3)
    denom = 60.0 if m is None else (jnp.sum(m, axis=(1, 2, 3)) + 1e-6)[:, None, None] * 3
    return jnp.einsum('npc,npd->ncd', fm, fm) / denom

  for m in (None, mask):
    loss = lambda g: jnp.sum(jnp.sin(g) * w) + jnp.sum(jnp.square(g))
    got = jax.grad(lambda f: loss(L.gram(f, m)))(f)
    want = jax.grad(lambda f: loss(plain(f, m)))(f)
    assert float(jnp.max(jnp.abs(want))) > 1e-3
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if m is not None:  # the mask's gradient goes through the custom product too
      got_m = jax.grad(lambda m: loss(L.gram(f, m)))(m)
      want_m = jax.grad(lambda m: loss(plain(f, m)))(m)
      np.testing.assert_allclose(got_m, want_m, rtol=1e-4, atol=1e-6)


def test_style_presets_and_layer_resolution():
  layers, weights, mult = L.resolve_style_layers('balanced')
  assert layers == L.DEFAULT_STYLE_LAYERS and len(weights) == 5 and mult == 1.0
  assert set(L.STYLE_PRESETS) == {'content', 'balanced', 'style'}
  assert L.resolve_style_layers('content')[2] < 1.0 < L.resolve_style_layers('style')[2]
  layers, weights, _ = L.resolve_style_layers('style', ('block1_conv1',), (2.0,))
  assert layers == ('block1_conv1',) and weights == (2.0,)
  with pytest.raises(ValueError, match='unknown style preset'):
    L.resolve_style_layers('wild')
  with pytest.raises(ValueError, match='layer weights'):
    L.resolve_style_layers('balanced', ('block1_conv1',), (1.0, 2.0))


def test_losses_are_resolution_independent(params):
  """The same image pair at 64 and 128 pixels gives per-term losses of the same magnitude."""
  photo = skimage.data.astronaut().astype(np.float32) / 255.0
  other = skimage.data.chelsea().astype(np.float32) / 255.0
  style_layers = L.DEFAULT_STYLE_LAYERS
  model = VGG19()
  w = {n: 1.0 for n in style_layers}

  @jax.jit
  def fn(a, b):
    ab = model.apply({'params': params}, preprocess(jnp.concatenate([a, b])),
                     layers=style_layers + ('block4_conv2',))
    fa = {k: v[:1] for k, v in ab.items()}
    fb = {k: v[1:] for k, v in ab.items()}
    return jnp.stack([L.content_loss(fa, fb, {'block4_conv2': 1.0}),
                      L.style_loss(fa, {n: L.gram(fb[n]) for n in style_layers}, w),
                      L.tv_loss(a)])

  terms = []
  for size in (48, 96):
    a = jnp.asarray(resize_image(photo, (size, size))[None])
    b = jnp.asarray(resize_image(other, (size, size))[None])
    terms.append(np.asarray(fn(a, b)))
  ratio = terms[1] / terms[0]
  assert np.all(ratio > 0.4) and np.all(ratio < 2.5), ratio
