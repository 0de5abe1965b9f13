"""Person U-Net on COCO 2017 panoptic person masks (users with internet; an accelerator advised).

Command:
  python train.py --config configs/unet_coco.py --workdir workdirs/unet_coco

The VGG19 recipe (configs/unet_person_vgg19.py): the frozen ImageNet VGG19 encoder with a
16-filter decoder, here at 256 px, batch 32. (The MediaPipe recipe of configs/unet_person.py,
which keeps people whole better on held-out photos, has not been trained on COCO.) The first run
downloads and prepares TFDS `coco/2017_panoptic` (~20 GiB, 118,287 train / 5,000 validation
images) into `config.data.data_dir` (default ~/tensorflow_datasets) as array_record; each
example's mask is the union of its `person` (label 0) panoptic segments (unet_flax/datasets/coco_person.py).
`data.keep_without_people` keeps all images with people and that share of the others (in both
splits), chosen by a seeded permutation.
tests/test_coco_layout.py builds the real builder from a miniature download in COCO's file
layout and trains this config on it.

Expected cost per epoch on one accelerator (worked out, not measured end to end: no internet on
the development machines). An epoch at keep_without_people=0.1 is ~69.5k images (COCO 2017 train
has 64,115 images with people; 10% of the other 54,172). The train step of this model ran 2,618
img/s at 128 px on one H200 (benchmarks/README.md, float32/TF32); at 256 px ~1,680 img/s is
expected (scaled by the from-scratch model's measured 256/128 ratio), so the step alone takes
~41 s per epoch. The loader decodes every JPEG: benchmarks/input_pipeline.py measured ~100
img/s per worker core for 640x480 COCO-like JPEGs at 256 px (2-core machine, 2026-12-02, heavily
shared), so keeping up with that step takes ~17 loader cores; with 16 workers (~1,600 img/s)
an epoch takes ~45 s, the 20,000 steps (640k images, ~9 epochs) ~7 min plus evaluation. A host
with fewer cores is loader-bound: about 69.5k / (100 x cores) s per epoch. On a CPU, days.
"""
import os

from configs import unet_person_vgg19 as unet_person


def get_config():
  config = unet_person.get_config()
  config.data.name = 'coco_person'
  config.data.builder_config = None
  config.data.image_size = 256
  config.data.keep_without_people = 0.1
  # Grain worker processes decoding JPEGs: the host's cores but two (for the trainer), up to 16.
  config.data.worker_count = min(16, max(1, (os.cpu_count() or 2) - 2))
  config.batch_size = 32
  config.eval_batch_size = 32
  config.num_train_steps = 20_000
  config.optimizer.learning_rate = 1e-3
  config.optimizer.warmup_steps = 500
  config.log_every_steps = 100
  config.eval_every_steps = 2000
  config.checkpoint_every_steps = 1000
  config.keep_checkpoints = 3
  return config
