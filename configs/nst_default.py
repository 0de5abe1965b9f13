"""Default Gatys style-transfer config for `python -m nst_flax` and `stylize.py` (ml-collections).

    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png
    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png \
        --config=configs/nst_default.py:draft                     # fast preview
    python -m nst_flax ... --config.size=1024 --config.steps=120  # any field can be overridden

Two quality presets (`nst_flax.config.QUALITY_PRESETS`), picked by the argument after the colon:
- `final` (default): 80 L-BFGS iterations (optax.lbfgs in the compiled loop) at the output size,
  512 px long side;
- `draft`: 50 L-BFGS iterations at 256 px, for previews.
Until 2026-12 the default was 300 Adam steps at 256 px, then 100 at 512 px
(`--config.optimizer=adam --config.multiscale=True --config.steps=300 --config.refine_steps=100`).

Expected run time on 2 CPU cores for a 512x512 output: each L-BFGS iteration costs about 1.1
forward-backward passes, ~2.5 s at 512 px on an idle machine, so `final` takes ~3.5 minutes and
`draft` ~30 s, plus ~2 s to fetch the weights the first time and ~10-20 s of compilation (less
with the persistent compilation cache). benchmarks/README.md has the measurements.

Every field is documented in `nst_flax/config.py`.
"""
from nst_flax.config import get_default_config


def get_config(quality='final'):
  return get_default_config(quality or 'final')
