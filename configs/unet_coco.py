"""Person U-Net on COCO 2017 panoptic person masks (users with internet; an accelerator advised).

Command:
  python train.py --config configs/unet_coco.py --workdir workdirs/unet_coco

The main job's recipe (configs/unet_person.py), which keeps people whole best on held-out real
photos: the whole MediaPipe selfie segmentation network, fine-tuned from its released weights, here
at 256 px, batch 32. COCO's photos are real, so the fine-tuned weights are used as they are
(`weight_interpolation=1.0`; the main job takes them 70% of the way back to the released ones
because its composites are not photos). The first run
downloads and prepares TFDS `coco/2017_panoptic` (~20 GiB, 118,287 train / 5,000 validation
images) into `config.data.data_dir` (default ~/tensorflow_datasets) as array_record; each
example's mask is the union of its `person` (label 0) panoptic segments (unet_flax/datasets/coco_person.py).
`data.keep_without_people` keeps all images with people and that share of the others (in both
splits), chosen by a seeded permutation.
tests/test_coco_layout.py builds the real builder from a miniature download in COCO's file
layout and trains this config on it.

Expected cost per epoch on one accelerator (worked out from measured rates, not run end to end:
no internet on the development machines). An epoch at keep_without_people=0.1 is ~69.5k images
(COCO 2017 train has 64,115 images with people; 10% of the other 54,172); the 20,000 steps are
640k images, ~9.2 epochs. The loader decodes every JPEG: benchmarks/input_pipeline.py measured
130-176 img/s per worker process for 640x480 COCO-like JPEGs at 256 px (2 idle CPU cores,
2026-12-03), so 16 workers give ~2,100-2,800 img/s: ~25-33 s per epoch, ~4-5 min for the run
plus evaluation, if the train step keeps up. This model's train step has not been timed on a
GPU; on the 2 CPU cores it runs 7.0 img/s at 256 px, 3.3x the VGG19 recipe's 2.1, and that recipe
ran 2,618 img/s at 128 px on one H200 (benchmarks/README.md), so the loader, not the step, is
expected to bound it there. A host with fewer cores is loader-bound: about 69.5k / (150 x
workers) s per epoch. On a CPU, days (7 img/s: ~2.7 h per epoch on 2 cores).
"""
import os

from configs import unet_person


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
  config.weight_interpolation = 1.0
  # One run: the ensemble of the main job outvotes what one run learns by chance from 1,200
  # examples; 118 k COCO photos leave less to chance, and each member would cost 20,000 steps.
  config.ensemble_size = 1
  config.optimizer.warmup_steps = 500
  config.log_every_steps = 100
  config.eval_every_steps = 2000
  config.checkpoint_every_steps = 1000
  config.keep_checkpoints = 3
  return config
