"""Default Gatys style-transfer config for `python -m nst_flax` (ml-collections).

    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png
    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png \
        --config configs/nst_default.py --config.size=1024 --config.steps=200

Expected run time on a 2-core CPU (no GPU) with these defaults (512-pixel output: 300 Adam steps
at 256 px, then 100 at 512 px): about 15 minutes when the machine is otherwise idle (~1.2 s per
256-px step, ~5 s per 512-px step), plus ~2 s to fetch the weights the first time and ~10 s of
compilation per scale (less with the persistent compilation cache). The README's demo
(`--config.steps=200 --config.refine_steps=60`) took 22.5 minutes on a busy shared machine.
`--config.size=256 --config.multiscale=False` takes ~6 minutes; `--config.size=1024` (with
`--config.allow_upscale=True` for smaller photos) adds a 1024-px stage (~20 s per step idle).

Every field is documented in `nst_flax/config.py`.
"""
from nst_flax.config import get_default_config


def get_config():
  return get_default_config()
