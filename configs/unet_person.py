"""Main job: MediaPipe's person-segmentation network, fine-tuned on the embedded data.

Command:
  python train.py --config configs/unet_person.py --workdir workdirs/unet_person

The whole released MediaPipe selfie segmentation network (unet_flax/mediapipe_selfie.py, 0.1 M
parameters, trained by its authors on a large person-segmentation set; weights read from the
npm package's .tflite) is fine-tuned on person_composite at 160 px: its decoder at
learning_rate, its encoder at learning_rate * encoder_lr_factor. Fine-tuning teaches it that
photos without people (a cat, flowers) have none: the released network calls 75-93% of the cat
photo person. Fine-tuning alone also costs it some of what it knew of real people (composites
are not photos), so evaluation, the best checkpoint and prediction use the parameters 30% of
the way from the released to the fine-tuned ones (`weight_interpolation=0.3`, WiSE-FT). Photos
are seen with their long side at 256 and 384 px, squashed to 256 x 256 and as 2 x 2 overlapping
crops, the views averaged (`predict.MEDIAPIPE_PHOTO_SIDES`, `predict.MEDIAPIPE_SQUARE_SIDES`,
`predict.MEDIAPIPE_TILES`), and regions of the mask that never reach 0.9 are dropped
(`predict.MEDIAPIPE_MASK_CORE`).

Measured (2 CPU cores, 2026-12-03, person_composite 7.0.0): from a fresh clone, the install and
the command above took 6 min 10 s (400 steps at 1.6 steps/s; 7 min 55 s with the cores shared
for the first 4 min); validation IoU 0.480 (step 200) on the composites, whose
validation people are the canteen's crowd (VGG19: 0.743). Real
photos held out of training (experiments/eval_real.py, seeds 0 / 1 / 2 per held-out config,
experiments/README.md, 2026-12-03): the labelme photos 0.830 / 0.820 / 0.826 on average (the
reference model 0.788, VGG19 0.657), the canteen 0.725 / 0.718 / 0.720 (VGG19 0.659, the
reference 0.569); agreement with the reference on 7 held-out photos of people 0.944-0.963 on
average, worst 0.859-0.896 (the soldier of BWPictureHuman.jpg, the footballer of messi5.jpg,
against VGG19's 0.35 there); photos without people: under 1% called person in 4 of 6 runs, 2.3%
of the flower photo in one and 7.8% of the cat in another.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.model.update(encoder='mediapipe_selfie', decoder='mediapipe_selfie', depth=5,
                      dropout=0.0)
  config.data.image_size = 160
  config.batch_size = 16
  config.eval_batch_size = 16
  config.num_train_steps = 400
  config.eval_every_steps = 200
  config.checkpoint_every_steps = 100
  config.optimizer.learning_rate = 3e-4
  config.optimizer.warmup_steps = 50
  config.optimizer.encoder_frozen_steps = 0
  config.optimizer.encoder_lr_factor = 0.3
  config.weight_interpolation = 0.3
  config.ensemble_size = 3
  return config
