"""Default Gatys style-transfer config for `python -m nst_flax` and `stylize.py` (ml-collections).

    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png
    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png \
        --config=configs/nst_default.py:draft                     # fast preview
    python -m nst_flax ... --config.size=1024 --config.steps=120  # any field can be overridden

Two quality presets (`nst_flax.config.QUALITY_PRESETS`), picked by the argument after the colon:
- `final` (default): 60 L-BFGS iterations (`nst_flax.lbfgs`, optax.lbfgs's algorithm, in the
  compiled loop) on the frequency-preconditioned image (`lbfgs_precondition`) at the output
  size, 512 px long side;
- `draft`: 50 L-BFGS iterations at 256 px, for previews.
Until 2026-12 the default was 300 Adam steps at 256 px, then 100 at 512 px
(`--config.optimizer=adam --config.multiscale=True --config.steps=300 --config.refine_steps=100`).

Measured end to end (mask given, weights, style transfer, composition), 2 idle CPU cores (AMD
EPYC), 2026-12-05 (docs/stylize.md): `final` 113.7 s on OpenCV's 548x342 messi5.jpg (the Adam
default took 286 s there on another machine), 150.1 s on the 512x512 astronaut against 327.0 s
for the Adam default, at a loss 1.9% lower; `draft` 38.6 s on the astronaut. Each L-BFGS
iteration costs about 1.1 forward-backward passes; the persistent compilation cache saves ~10-20 s
on a rerun.

On CPUs with AMX (Intel Sapphire Rapids and later) the image gradient of the wide layers runs
in bfloat16 (`grad_dtype='auto'`): 8% less per L-BFGS iteration at 512 px, the same loss
(benchmarks/README.md, 2026-12-04); `--config.grad_dtype=float32` turns it off.

Every field is documented in `nst_flax/config.py`.
"""
from nst_flax.config import get_default_config


def get_config(quality='final'):
  return get_default_config(quality or 'final')
