"""Default Gatys style-transfer config for `python -m nst_flax` (ml-collections).

    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png
    python -m nst_flax --content photo.jpg --style painting.jpg --out out.png \
        --config configs/nst_default.py --config.size=1024 --config.steps=200

Expected run time on a 2-core CPU (no GPU) with these defaults (512-pixel output: 300 Adam steps
at 256 px, then 100 at 512 px): about 8-12 minutes when the machine is otherwise idle, plus ~15 s
to fetch the weights the first time and ~10 s of compilation per scale (less with the persistent
compilation cache). `--config.size=256 --config.multiscale=False` takes ~5 minutes;
`--config.size=1024` adds a 1024-px stage (~15 s/step).

Every field is documented in `nst_flax/config.py`.
"""
from nst_flax.config import get_default_config


def get_config():
  return get_default_config()
