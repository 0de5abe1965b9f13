"""nst_flax.transfer end to end on tiny images (random weights; one test with the real ones)."""
import jax
import numpy as np
import pytest
import skimage.data

from nst_flax import config as nst_config
from nst_flax import transfer as T
from nst_flax.image_io import resize_image
from nst_flax.vgg import init_params


@pytest.fixture(scope='module')
def params():
  return init_params(image_size=32)


@pytest.fixture(scope='module')
def images():
  photo = resize_image(skimage.data.astronaut().astype(np.float32) / 255.0, (40, 32))
  style = resize_image(skimage.data.chelsea().astype(np.float32) / 255.0, (36, 48))
  style2 = resize_image(skimage.data.coffee().astype(np.float32) / 255.0, (30, 40))
  return photo, style, style2


def small_config(**kw):
  c = nst_config.get_default_config()
  c.optimizer = 'adam'
  c.content_layers = ('block2_conv1',)
  c.style_layers = ('block1_conv1', 'block2_conv1')
  c.style_layer_weights = ()
  c.steps = 8
  c.refine_steps = 4
  c.size = 0
  c.multiscale = False
  c.log_every = 0
  c.lr = 0.05
  c.update(kw)
  return c


def test_adam_decreases_loss_keeps_shape_range_and_seed(params, images, capsys):
  photo, style, _ = images
  cfg = small_config(init='noise', seed=3, log_every=4)
  a, hist = T.transfer_style(params, photo, [style], config=cfg)
  assert a.shape == photo.shape and a.dtype == np.float32
  assert a.min() >= 0.0 and a.max() <= 1.0
  assert hist['total'][-1] < hist['total'][0]
  assert len(hist['total']) == 8 and np.all(np.isfinite(hist['style']))
  out = capsys.readouterr().out
  assert 'step    4/8' in out and 'style' in out and 'content' in out
  b, _ = T.transfer_style(params, photo, [style], config=cfg)
  np.testing.assert_array_equal(a, b)  # same seed -> same image
  c, _ = T.transfer_style(params, photo, [style], config=cfg, key=jax.random.PRNGKey(99))
  assert np.abs(a - c).max() > 1e-3


def test_lbfgs_runs_and_decreases(params, images):
  photo, style, _ = images
  cfg = small_config(optimizer='lbfgs', steps=5)
  img, hist = T.transfer_style(params, photo, [style], config=cfg, verbose=False)
  assert img.shape == photo.shape and 0.0 <= img.min() and img.max() <= 1.0
  assert hist['total'][-1] < hist['total'][0]


def test_lbfgs_with_unit_steps_decreases_and_caps_its_first_step(params, images):
  """`lbfgs_linesearch='none'`: torch.optim.LBFGS's default algorithm (unit steps, one loss
  evaluation per iteration); optax caps the first step, along the gradient, at unit length."""
  photo, style, _ = images
  cfg = small_config(optimizer='lbfgs', steps=8, lbfgs_linesearch='none', lbfgs_memory=100)
  img, hist = T.transfer_style(params, photo, [style], config=cfg, verbose=False)
  assert img.shape == photo.shape and 0.0 <= img.min() and img.max() <= 1.0
  assert hist['total'][-1] < 0.9 * hist['total'][0]
  spec = T.loss_spec_from_config(cfg)
  jp, gk = T.prepare_params(params)
  targets = T.compute_targets(spec, jp, photo[None], (style[None],), np.ones(1, np.float32))
  x1, _ = T.run_optimisation(spec, jp, gk, photo[None], targets, optimizer='lbfgs', steps=1,
                             lbfgs_linesearch='none')
  assert 0.0 < np.linalg.norm(np.asarray(x1) - photo[None]) <= 1.0 + 1e-5
  with pytest.raises(ValueError, match="lbfgs_linesearch must be 'zoom' or 'none', not 'wolfe'"):
    T.run_optimisation(spec, jp, gk, photo[None], targets, optimizer='lbfgs', steps=1,
                       lbfgs_linesearch='wolfe')


def test_multiscale_aspect_snapshots_and_multi_style(params, images):
  photo, style, style2 = images
  big = resize_image(photo, (70, 56))
  cfg = small_config(size=64, multiscale=True, multiscale_min=32, steps=3, refine_steps=2,
                     snapshot_every=2, init='style')
  snaps = []
  img, hist = T.transfer_style(params, big, [style, style2], [0.7, 0.3], cfg,
                        snapshot=lambda step, im: snaps.append((step, im.shape)),
                        verbose=False)
  assert img.shape == (64, 51, 3)  # long side 64, aspect kept
  assert hist['sizes'] == [(32, 26), (64, 51)]
  assert [s for s, _ in snaps] == [2, 3, 5]  # every 2 steps and each scale's last step
  assert snaps[-1][1] == (64, 51, 3)
  with pytest.raises(ValueError, match='style_weights'):
    T.transfer_style(params, big, [style, style2], [1.0], cfg)


def test_concurrent_runs_report_to_their_own_callbacks(params, images):
  """Two transfer_style() calls in two threads at once (stylize.py runs one per device):
  each run's progress and snapshot calls reach its own callbacks, and the results are those of
  the runs made one after the other."""
  import threading
  photo, style, style2 = images
  cfg = small_config(log_every=2, snapshot_every=4)
  runs = {'a': (photo, style), 'b': (photo[::-1], style2)}
  alone = {n: T.transfer_style(params, p, [s], config=cfg, verbose=False)[0]
           for n, (p, s) in runs.items()}
  calls = {n: [] for n in runs}
  results = {}

  def run(name):
    p, s = runs[name]
    results[name], hist = T.transfer_style(
        params, p, [s], config=cfg,
        progress=lambda step, terms: calls[name].append(('progress', step, terms[0])),
        snapshot=lambda step, img: calls[name].append(('snapshot', step, img.shape)))
    results[name + '_total'] = hist['total']

  threads = [threading.Thread(target=run, args=(n,)) for n in runs]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  for name in runs:
    np.testing.assert_array_equal(results[name], alone[name])
    progress = [(step, total) for kind, step, total in calls[name] if kind == 'progress']
    assert [step for step, _ in progress] == [1, 3, 5, 7]
    # the totals reported are this run's own (the two runs' losses differ)
    np.testing.assert_allclose([t for _, t in progress],
                               results[name + '_total'][[1, 3, 5, 7]], rtol=1e-6)
    assert [(k, s) for k, s, _ in calls[name] if k == 'snapshot'] == [('snapshot', 4),
                                                                      ('snapshot', 8)]
  assert not T._RUNS  # every run unregistered its callbacks


def test_preserve_colors(params, images):
  photo, style, _ = images
  for mode in ('luminance', 'histogram'):
    img, _ = T.transfer_style(params, photo, [style], config=small_config(preserve_colors=mode,
                                                                     steps=3), verbose=False)
    assert img.shape == photo.shape
    if mode == 'luminance':  # chrominance is the content's
      from nst_flax.color import rgb_to_yiq
      np.testing.assert_allclose(rgb_to_yiq(img)[..., 1:], rgb_to_yiq(photo)[..., 1:],
                                 atol=0.03)


def test_guided_style_mask(params, images):
  photo, style, _ = images
  mask = np.zeros(photo.shape[:2], np.float32)
  mask[:, :16] = 1.0  # "person" on the left
  cfg = small_config(guided_style=True, steps=3)
  with pytest.raises(ValueError, match='mask'):
    T.transfer_style(params, photo, [style], config=cfg)
  img, hist = T.transfer_style(params, photo, [style], config=cfg, content_mask=mask, verbose=False)
  assert img.shape == photo.shape and np.all(np.isfinite(hist['total']))
  spec = T.loss_spec_from_config(cfg)
  jp, _ = T.prepare_params(params)
  t = T.compute_targets(spec, jp, photo[None], (style[None],), np.ones(1, np.float32),
                        mask[None, :, :, None])
  m = np.asarray(t['masks']['block1_conv1'])[0, :, :, 0]
  assert m[:, :12].max() < 0.05 and m[:, 20:].min() > 0.95  # background only


def test_bad_config_values(params, images):
  photo, style, _ = images
  with pytest.raises(ValueError, match='unknown VGG19 layer'):
    T.transfer_style(params, photo, [style], config=small_config(content_layers=('conv9',)))
  with pytest.raises(ValueError, match='init'):
    T.transfer_style(params, photo, [style], config=small_config(init='zeros'))
  with pytest.raises(ValueError, match='too small'):
    T.transfer_style(params, photo[:8, :8], [style],
              config=small_config(style_layers=('block5_conv1',)))
  with pytest.raises(ValueError, match='size_bucket'):
    T.transfer_style(params, photo, [style], config=small_config(size_bucket=-8))
  with pytest.raises(ValueError, match="config.grad_dtype must be 'auto', 'float32'"):
    T.transfer_style(params, photo, [style], config=small_config(grad_dtype='fp16'))
  with pytest.raises(ValueError, match="config.conv_algorithm must be 'auto', 'winograd'"):
    T.transfer_style(params, photo, [style], config=small_config(conv_algorithm='fft'))
  with pytest.raises(ValueError, match='config.lbfgs_precondition must be >= 0'):
    T.transfer_style(params, photo, [style], config=small_config(lbfgs_precondition=-0.5))


def test_grad_dtype_auto_is_bfloat16_on_cpus_with_amx(tmp_path, monkeypatch):
  from nst_flax import xla_cpu
  sapphire, older = tmp_path / 'spr', tmp_path / 'skx'
  sapphire.write_text('processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n')
  older.write_text('processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n')
  assert xla_cpu.has_amx_bf16(str(sapphire)) and not xla_cpu.has_amx_bf16(str(older))
  assert not xla_cpu.has_amx_bf16(str(tmp_path / 'missing'))
  assert T.resolve_grad_dtype('float32') == 'float32'
  assert T.resolve_grad_dtype('bfloat16') == 'bfloat16'
  monkeypatch.setattr(xla_cpu, 'has_amx_bf16', lambda: True)
  assert T.resolve_grad_dtype('auto') == ('bfloat16' if jax.default_backend() == 'cpu'
                                          else 'float32')
  monkeypatch.setattr(xla_cpu, 'has_amx_bf16', lambda: False)
  assert T.resolve_grad_dtype('auto') == 'float32'


@pytest.mark.network
def test_real_weights_transfer_changes_the_photo():
  """The real ImageNet weights end to end at 64 px (weights come from the default cache)."""
  from nst_flax.weights import load_vgg19_params
  params = load_vgg19_params()
  photo = resize_image(skimage.data.astronaut().astype(np.float32) / 255.0, (64, 64))
  style = resize_image(skimage.data.coffee().astype(np.float32) / 255.0, (64, 96))
  cfg = nst_config.get_default_config()
  cfg.update(size=64, multiscale=False, steps=15, log_every=0)
  img, hist = T.transfer_style(params, photo, [style], config=cfg, verbose=False)
  # The default optimiser is L-BFGS, whose history has the total only when it does not log.
  assert hist['total'][-1] < 0.7 * hist['total'][0]
  assert 0.02 < np.abs(img - photo).mean() < 0.3


@pytest.mark.parametrize('optimizer,guided', [('adam', False), ('lbfgs', True)])
def test_size_bucket_compiles_once_and_matches_unpadded_runs(params, images, optimizer, guided):
  """Two photos of different sizes padded to one 48x48 bucket: one compiled loop for both, and
  the same images as unpadded runs (the padding is masked out of every loss)."""
  _, style, _ = images
  astro = skimage.data.astronaut().astype(np.float32) / 255.0
  photos = [resize_image(astro, (40, 33)), resize_image(astro[50:400], (27, 40))]
  masks = [np.zeros(p.shape[:2], np.float32) for p in photos]
  for m in masks:
    m[8:20, 10:25] = 1.0
  steps = 7 if optimizer == 'adam' else 6
  padded, compiled = [], []
  for p, m in zip(photos, masks):
    before = T._run_span._cache_size()
    padded.append(T.transfer_style(params, p, [style], verbose=False, content_mask=m,
                                   config=small_config(steps=steps, size_bucket=48,
                                                       optimizer=optimizer,
                                                       guided_style=guided))[0])
    compiled.append(T._run_span._cache_size() - before)
  assert compiled[0] <= 1 and compiled[1] == 0   # the second photo runs the first's program
  for p, m, out in zip(photos, masks, padded):
    ref, _ = T.transfer_style(params, p, [style], verbose=False, content_mask=m,
                       config=small_config(steps=steps, size_bucket=0, optimizer=optimizer,
                                           guided_style=guided))
    assert out.shape == p.shape
    assert np.abs(ref - p).mean() > 0.05  # the photo did change
    # Float rounding differs between the shapes, and L-BFGS's line search magnifies it: the
    # preconditioner's DCT products differ by ~3e-7 after one step, and a 3e-7 perturbation of
    # the photo moves the unpadded run's image by 6e-4 on average after 6 steps.
    np.testing.assert_allclose(out, ref, atol=5e-3)
    assert np.abs(out - ref).mean() < 5e-4


def test_conv_algorithm_direct_matches_winograd(params, images, monkeypatch):
  """'auto' is Winograd on a CPU backend and direct elsewhere; both give the same image."""
  assert T.resolve_conv_algorithm('auto') == 'winograd'  # the tests run on CPU
  monkeypatch.setattr(jax, 'default_backend', lambda: 'gpu')
  assert T.resolve_conv_algorithm('auto') == 'direct'
  monkeypatch.undo()
  assert 'kernel_w' in T.prepare_params(params, conv_algorithm='winograd')[1]['block3_conv2']
  assert 'kernel_w' not in T.prepare_params(params, conv_algorithm='direct')[1]['block3_conv2']
  photo, style, _ = images
  # From block3_conv2 on, the layers run Winograd (256 channels in and out).
  layers = dict(content_layers=('block3_conv2',), style_layers=('block1_conv1', 'block3_conv1'))
  runs = {a: T.transfer_style(params, photo, [style], config=small_config(
      conv_algorithm=a, grad_dtype='float32', **layers)) for a in ('winograd', 'direct')}
  (img_w, hist_w), (img_d, hist_d) = runs['winograd'], runs['direct']
  np.testing.assert_allclose(hist_d['total'], hist_w['total'], rtol=1e-3)
  np.testing.assert_allclose(img_d, img_w, atol=2e-3)


def test_bucket_hw():
  assert T.bucket_hw((320, 512), 64) == (320, 512)
  assert T.bucket_hw((342, 512), 64) == (384, 512)
  assert T.bucket_hw((342, 513), 0) == (342, 513)


def test_quality_presets():
  final, draft = nst_config.get_default_config(), nst_config.get_default_config('draft')
  assert (final.optimizer, final.multiscale, final.size) == ('lbfgs', False, 512)
  assert draft.size < final.size and draft.steps < final.steps
  from configs import nst_default
  assert nst_default.get_config('draft').to_dict() == draft.to_dict()
  assert nst_default.get_config('').to_dict() == final.to_dict()
  with pytest.raises(ValueError, match="unknown quality 'best'"):
    nst_config.get_default_config('best')


def test_lbfgs_range_penalty_keeps_pixels_in_range(params, images):
  """From a start with pixels outside [0, 1]: L-BFGS's objective includes the penalty, and the
  returned (clipped) image scores better with it than without, where the optimised pixels stay
  out of range and clipping undoes part of the gain."""
  photo, style, _ = images
  spec = T.loss_spec_from_config(small_config(style_weight=1e-2))
  jp, gk = T.prepare_params(params)
  targets = T.compute_targets(spec, jp, photo[None], (style[None],), np.ones(1, np.float32))
  loss_fn = jax.jit(T.make_loss_fn(spec, jp, gk, targets))
  start = photo[None] * 1.6 - 0.3
  first, final = {}, {}
  for penalty in (0.0, 1000.0):
    x, hist = T.run_optimisation(spec, jp, gk, start, targets, optimizer='lbfgs', steps=12,
                                 range_penalty=penalty)
    first[penalty] = float(hist[0, 0])
    final[penalty] = float(loss_fn(x)[0])
  excess = np.maximum(np.abs(start - 0.5) - 0.5, 0)
  np.testing.assert_allclose(first[1000.0] - first[0.0], 1000.0 * np.mean(excess ** 2),
                             rtol=1e-3)
  assert final[1000.0] < final[0.0]


def test_the_loop_runs_in_spans_of_one_cacheable_program(params, images):
  """The compiled loop has no host callback (a program with one is never written to the
  persistent compilation cache), one program serves every step count, and running in spans
  between reports gives the steps of one span."""
  photo, style, _ = images
  cfg = small_config(optimizer='lbfgs')
  spec = T.loss_spec_from_config(cfg)
  jp, gk = T.prepare_params(params)
  targets = T.compute_targets(spec, jp, photo[None], (style[None],), np.ones(1, np.float32))
  kw = dict(optimizer='lbfgs', lbfgs_memory=5, lbfgs_linesearch='none', range_penalty=1000.0)
  whole, hist = T.run_optimisation(spec, jp, gk, photo[None], targets, steps=7, **kw)
  before = T._run_span._cache_size()
  reports = []
  run_id = next(T._RUN_IDS)
  T._RUNS[run_id] = (lambda step, terms: reports.append((step, terms)), None)
  try:
    spans, span_hist = T.run_optimisation(spec, jp, gk, photo[None], targets, steps=7,
                                          log_every=2, run_id=run_id, **kw)
  finally:
    T._RUNS.pop(run_id)
  np.testing.assert_allclose(spans, whole, atol=1e-6)
  assert [s for s, _ in reports] == [1, 3, 5, 6]
  # The reported steps' totals are the loss alone (all terms), the others include the penalty.
  np.testing.assert_allclose(span_hist[[0, 2, 4], 0], hist[[0, 2, 4], 0], rtol=1e-6)
  assert (span_hist[[1, 3, 5, 6], 0] <= hist[[1, 3, 5, 6], 0] + 1e-6).all()
  assert all(np.isfinite(t).all() for _, t in reports)   # each report has all its terms
  assert np.isnan(span_hist[0, 1:]).all() and np.isfinite(span_hist[1]).all()
  T.run_optimisation(spec, jp, gk, photo[None], targets, steps=3, **kw)
  assert T._run_span._cache_size() == before               # no program per step count
  carry = T._start_loop(spec, jp, gk, photo[None], targets, None, lr=0.02, **kw)
  text = T._run_span.lower(spec, jp, gk, targets, None, carry, 0, 1, True, lr=0.02,
                           **kw).as_text()
  assert 'callback' not in text.lower()
