"""Photos of animals cut out with their alpha masks: the animals of the person head's fit.

Tux Paint's stamps (Debian's `tuxpaint-stamps-default`, GPL-2) include photos of animals cut out
on transparent backgrounds: mammals (apes among them), marsupials, birds, frogs and a lizard; the
drawings are left out. `unet_flax.animal_regions.person_head_examples` shows each alone, on grey,
as the animal side of the person head (experiments/fit_person_head.py). No builder config and no
benchmark photo uses them. (Pasted into the composites as background, they cost held-out people
more than they taught the U-Net about animals: experiments/README.md.)

The .deb is fetched once into the nst_flax cache (checksummed, like the other package photos) and
its 102 stamps are extracted in one pass.
"""
from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from nst_flax import package_files

DEB = ('tuxpaint-stamps-default=2022.06.04-1', 'tuxpaint-stamps-default_2022.06.04-1_all.deb',
       '6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34', '161 MB',
       'https://deb.debian.org/debian/pool/main/t/tuxpaint-stamps/'
       'tuxpaint-stamps-default_2022.06.04-1_all.deb')
STAMPS_DIR = 'usr/share/tuxpaint/stamps/animals/'
# Stamp path under STAMPS_DIR -> its sha256. The drawn stamps (cartoon/, toys/, the hedgehog,
# the echidna's silhouette, the whale) are left out; every file name is unique.
ANIMAL_CUTOUTS_SHA256 = {
    'amphibians/frog-1.png': '7fbb4b433aed67f636ef22560a1462d55dfae2567c248bd14e865b54dcce7a6e',
    'amphibians/frog.png': '3136e0e0fc9bf3148e066ed925c847a2048436d4cc77e56e7205a874210e95df',
    'birds/adelaide-rosella.png': '5f74fbdc0b6764438b599fbcdecf69f25d4762265d609c40db312d2a93f67a2e',
    'birds/albino_peahen.png': 'dcf13a4f2e3b9acc2e9d6b0003c2f1249d2565a8e85351e80fb4d9f77c307323',
    'birds/blackbird.png': '84734f2c1bc3f6f747a44e076919eb542115ebc9f53ec9720cdef17ae09efe6c',
    'birds/chicken_profile.png': '963033ffca10bb988e23698f57685f1b34e612a2091b5c650ab1d94341374972',
    'birds/crow.png': 'b717979bede3b46034b3e4d879afa51a1f64b63e16322fea4e2d220bd9139e0c',
    'birds/crowned_crane.png': '8512e8481a727ced9236f9b1ab994252ed6ac78df6cc6b84d54c6e2565f4fe9e',
    'birds/cuckoo.png': '108973fcbcf130e7741fdd0767d204ea91880158cc7ecdfa08f22805140be074',
    'birds/drake.png': '4a8cfa05f6928b500d68354a5f8dceb8804b776fc5bdb098dd2fb4948dd7ce93',
    'birds/duck.png': '7770d71308241fe7f0a4f99fc2aabe8ac16e4cfff6e37d13e61fab459c8aed33',
    'birds/gander.png': '8401b1e2443527c4b187fd901e4b3ee62795f3e1fb8640cd571d8cec02b188cf',
    'birds/guineafowl.png': '8d09c0d7824ea02f64b7a3992499c0b213971d479bb1cd97a171344f4a869c76',
    'birds/helmeted_guineafowl.png': 'a99a5c8762be390c4813583c159430f401159fa82185c75fd08a62caf1c0458d',
    'birds/hen.png': 'c0bf14dd4ee7dfdab6408991e1fa02c3097472f6ddcd46849111db623827881c',
    'birds/heron_greatblue.png': '4ce6e79b1bb78efac6846705f20e3efb6ac6f8a1d1f71f39d54a3e595ccb13b5',
    'birds/heron_greatblue_flying.png': 'bb6df97a15b5a4396c47d4e7ecca7135e684d0fc7877d762d90a8f662396e69f',
    'birds/lark.png': '819d7bbadd3d64b564d669c759f47dd797a4d7a59d1a4f71c00a7ec85b755d5f',
    'birds/little-penguin.png': '8e2f462390dc0503acab5a3968b08c05ccf704e2f72a742d31eb85e8f7f1f995',
    'birds/magellanic_penguin.png': 'ed4a1246d2282478d81bfa6a8bc7644b3660de6dd8ee7afce1b94c06fcf0dcf5',
    'birds/magpie.png': '0940db581fff1eff00aa3a83d8520a7794a3233b4f5d81e71b42e9ce04b2c8ff',
    'birds/nandou.png': '00e5735dec58b5ddeaf5795d1a71efcb33f27037466ce0158d47942089ab0ab4',
    'birds/ostrich.png': '3c3ae1f1b5a29c91f28d810734a24c2f342a25c20615a46f78b281c723df757f',
    'birds/owl.png': '5fd2280da7f3ae317cc9ac7f568f406d581cf858f5295e3581a8845be250a383',
    'birds/peacock.png': '657b94b6d6cd98c88f274ebf8e8f3180aae7795e74e9272543e362367f6a68df',
    'birds/pelican.png': '13f209688b1abd8e91358da28adc62f693604c80760c2763a6baec874e5eb2ac',
    'birds/penguin.png': '5d0106c55f54cd7f7ceb5b997725b49ac9f3c3fd6934cf009a73cc6fa172f00b',
    'birds/pigeon.png': 'acf99a925c3b64ef5403611cedcf411436c6785084fa5b875af7407fd89b858f',
    'birds/pink_flamingo.png': '76f05c493f655efeaa386521bea913cd41bc9a65318a4ff973a3c4ef1b656643',
    'birds/quetzal.png': '3daef2437986bc96485f5f3b0c11c53dfa036082c20c181e0a6f88261eeaa119',
    'birds/rainbow-lorikeet.png': 'a0134b0a9bb2aa00988b596968e0dddd11559bc57b2a0474b5c883b846ccc74f',
    'birds/rooster.png': 'f8e0caa20436484d76512417cb6c1b1a8d3f631da26350de4f3666526790fbe6',
    'birds/seagull.png': '09019f68ea1aa7f8550c719a52d24c315787873898ee735f2bbb37fd876ba65f',
    'birds/silver-gull.png': '8aae4ec47dbb16782e14b0017f0369b6473cf876ef26fc315623c03d7ed29737',
    'birds/tucan.png': '4db72d83ee7b01ce8d72ffd582c96be468261d9b2eed1173eca0647ed1d196b9',
    'birds/turkey.png': 'b6e74356f85a205a2f16ab43a2994696faf983d0c7124a892096377042546dbe',
    'birds/vulture.png': '5a829eccfac975dc071327b399732ed1fdf2b4adec035098047670ccf533f27b',
    'lizards/iguana.png': '7cbe370ea1839051f84601ada1d3d17e3975427d754966a19b57e32507d9815f',
    'mammals/apes/chimp.png': '1103c68ddc42cd3b36c7c96020e844a7c1d4fc7dba8132b408263c3038b8f72f',
    'mammals/apes/gorilla.png': 'a9b45cb2f0acae32161d3ab45505219c6083a18e9412e5439cdd104fcbb53a85',
    'mammals/apes/tamarin_emperor.png': '343306d0dcdb3db1aac59692e3a4c30960bc3d5c9a599c4b1356e84d612c4013',
    'mammals/aquatic/dolphin.png': '14de4f99361cf957db01085d73a7b0bab34e1b8c25acff9c7eb9b2d730c7a8e0',
    'mammals/aquatic/orca.png': '5b1d5b9f2d2250cb6b5405dbfc843538f3f89f56ff535f8d37f6a9937d4fd4f1',
    'mammals/aquatic/otter.png': '875ec74ddc9cf664ad988ddfa1972739260b2c59bf4963d06b3b337f31594307',
    'mammals/aquatic/sea_lion.png': '0467907bf6b79bc0768fd2ff8a1289b56d1bc2cb83dce30e45d1adf72243fb51',
    'mammals/badger.png': 'de31acc03128709bd23fc76075c4c945478b259b2b63e15e2b890101d644be2a',
    'mammals/bears/bear.png': 'aba4c267dac9003ba033fb0e6e7f09ed43b10e38ec625e5c2d6b67196e182c7f',
    'mammals/bears/european-bear.png': 'bab9ff97e54a0a1961c7411f701f8f156b1d353a5e86cf85c6bc675aea8a32ff',
    'mammals/bovines/bison.png': '4316b377b8131e896b62c9e5ff7e0edd49e9d7b4d3acaff7243119f9f66fe65f',
    'mammals/bovines/bull.png': '760a7f5b1f4c6da418f0b55d55802eadfbbffe1e5e02aceee0c52bd249cab434',
    'mammals/bovines/cow.png': '741dccf90e341f2c69f0c9c60489f9ce9191f9c078b04b43233a8a77411491c4',
    'mammals/bovines/cow_white.png': '0b189be2bb21dc9cccf842bf4cbee78f014fa60d07a5c78a20e54e2b664acdba',
    'mammals/bovines/gnu-baby-stand.png': 'c37a5b9c3159a1f7c173e8aec6c2c268bb0e3c7ed42bc95bfdbaa17b11d0d15b',
    'mammals/bovines/gnu-baby.png': '832582f35b7568b2c5f1f13f181833d039d2708b4d26b9c9c5851699d3da8951',
    'mammals/bovines/gnu-sitting.png': '0e3cbfc84c5b58f862ffc98f25322c3a37de57b89114bd90134877361a7d6a69',
    'mammals/bovines/gnu-stand.png': '70b16c784d788ad7545d3a96b40b009370783a285a4d49c953619aef3f9cb860',
    'mammals/bovines/goat.png': '48bbfd85e3e2cfdc7eb473abdd968cf879e76ae39eed4407cea4c527203d759d',
    'mammals/bovines/indian_blackbuck.png': '4220b0626d555b2e466dc7136cf430c783bff91847f38e331b7140bd4543a5bf',
    'mammals/bovines/mountaingoat.png': '44409f27fbd8542c1bf71ed42065d0774042be54321586d4a224aa78697fbc2e',
    'mammals/bovines/ram.png': '619f393899b04dc4d29d2d48af83d145caae89a95b357508ff67a065da67179a',
    'mammals/bovines/sheep.png': '170207d37257b4186b4d2311a6a586ae8387c0dff95ce533d272f104a68785c3',
    'mammals/bovines/sheep_lamb.png': 'f056bdaac25aaadcf3239ca3944bd5d8609b5a406a9831d636798e7955e6945f',
    'mammals/bovines/yak.png': '5f9fc17ead4a7a34d8345bcedb4354578c34809b34c2e12b44ba6da607b58f9b',
    'mammals/bovines/zebu.png': 'f9a56c941d60587d9bec259378e746428c2c3c414fadc9cee24071620b69e437',
    'mammals/camel/camel.png': '910c74c113d617741e549c84ddfc73b69df69b8e7f647bc98815e33f0db7a5df',
    'mammals/camel/dromedary.png': 'f7455abfa012318bf61702e01815d61bb0a3eb4bfea25b91a8f78437ee157c24',
    'mammals/cats/lion-2.png': 'f608afc9531257d9322d80a609094abe5827351973cdc08e0fecd1cd2cb76788',
    'mammals/cats/lion.png': '79ef5635d7a2a5c865017ce92a7cc0704468e2c5220b8fa588e1be5385fb120e',
    'mammals/cats/tiger.png': '699baad06e31c6274fc7bb576953dc0f66a6677a8286daefbdf454cf7b7395d6',
    'mammals/cats/tiger_sumatran.png': '0b80b05c2920d0dbe788c377149a9d0ba19b63ef5ea809e1234ab837f5c48af6',
    'mammals/deer/caribou.png': 'ff7448b99a3733c581ad176d1eb77d58038e73981dc5b67c020b148ea5fe9245',
    'mammals/deer/deer.png': 'e620c6ba979e0c73536db240b9c4fd72541aad67674b4e9ad037aab0024c0844',
    'mammals/deer/doe.png': 'c1d34426120c243c2357959e4307a3f1b395a049fa3fac285fe66c9298727612',
    'mammals/deer/wapiti.png': '8ba175a8d56141e67ec6cebfc69404d0cfcdfa94f79635f6e2547c5ba22cffb1',
    'mammals/dogs/dingo.png': '665de674b6adc0b89437cfa4e6635fcce180e4725367592383848d1f3e345484',
    'mammals/dogs/dog.png': '63b3906f5b3cfcb406d8cf99ea0252a84d2d2b60795b5e275c0b4f2b9985b71a',
    'mammals/dogs/fox.png': 'd754bb3b88fc6e27c454e8880c62ba8fb84b3db7d37948209ca8b445be7d6cea',
    'mammals/elephant.png': 'c58332e1f4ef1f476ffb0e8a2df86f0b55c589496b3699de26cfeabd231a8a70',
    'mammals/equines/donkey.png': 'e32ef9dfdf287af6b1a3120a2a18fc319a6763537d650085ae595c329208d10a',
    'mammals/equines/donkey_eating.png': '3d5c1c5c4b2676232301c657b8e9cf7b84f93391fe0085bff85c9efb8e967ccf',
    'mammals/equines/horse.png': '1c14aee30e0af4984fcfed4ec9b13769b4e16bb0eb49f95ccef65126b424c6fd',
    'mammals/equines/zebra.png': 'f4a1329606b3d77b7064c8c42d3e247f522f1a48f852ef787a963ecf819f0a8c',
    'mammals/ferret.png': '3afe4960c302ad43a71b9cd41be3552bb45615c57edd3bae2ab6babd54d432dc',
    'mammals/giraffe.png': '59c918fefc4aa2e2e8218f4b6c341485b88fb582a6880135d215d706e80f8595',
    'mammals/hippopotamus.png': '3ed404f03c93de77bf1728faa208cc54681beef84f51ebda7689b916d51b3b94',
    'mammals/pig.png': '41b6caefca7cb65f3c5ab5afdf77dc31b880031ecf1a422035cf7160ffb8b3da',
    'mammals/pig_golden.png': '10648b2307bf0a71b9ecc602191d6b789a4e02968044b22a8490c313d6fec091',
    'mammals/pig_golden2.png': '24e5e786150629381fb66a6efbbebad1d893efbdbae331fb245b832a1b37b07f',
    'mammals/rabbit_little.png': '8c0e6c852e4a62bc7a80834edf9003323853d7d5a67981e7c8fb179afe93cf39',
    'mammals/rhino_black.png': 'ebcb7df282100fcdd37658f422897c4437e38a073a0b63bfea6de829ea555fa2',
    'mammals/rodents/beaver.png': '556401ea1b5f20f70ea26176b32ed494a1cc700287feba447ce3d737e9e5bdab',
    'mammals/rodents/capybara.png': 'd9fa6ba63e64c31ddbfe74f28aa1e4b9bae184ee0841375c0160d4ebccd43ac0',
    'mammals/rodents/marmot.png': '95ff9db558973e015ac81b37a66e1caf8e69687a6ff76c331c733b041f51246c',
    'mammals/rodents/mouse.png': '57aaf4eff25656ac619266183f9e66671d52334d3a1516e457fe24d4e8931b5a',
    'mammals/rodents/rabbit-2.png': '1c4cc3e7c35d2a5135758011222dbcbe7af6bf868d024c9361cb02c006f22e3c',
    'mammals/rodents/rabbit.png': '31d51dd24faa75f48dc19450a3fa1896d951f049a867b77934de4629de49db8c',
    'mammals/rodents/rat.png': '06a207bbd6c470132ee37456e4377c9080f2332e84d6692940ac37d408606ec0',
    'mammals/rodents/squirrel.png': 'ac942f3b777493bb97cfd7e08cd5809bd31863ae73bd1fb681fa0e8e01f13fe7',
    'mammals/wildboar.png': '74f3338d0acf2aa127a77bd475a14fa109d8be5b77586db0e9dc142621e387a2',
    'marsupials/kangaroo.png': 'eae6784ba555c357e1330901e00450723f1a180966a5e4e9fd1a3344804d01bf',
    'marsupials/koala.png': '1ca01ed025cfcaf47e8529b72b8390f8e9e7d5d23b2b3c1b3fdec8873c7ec0be',
    'marsupials/wombat.png': 'b1aa4f2c3d82f428ee33e34ff3150bf5187b915f9bc50eaa2ed12a1614e376b0',
}
ANIMAL_CUTOUTS = tuple(ANIMAL_CUTOUTS_SHA256)


def _spec(name: str) -> package_files.PackageFile:
  requirement, archive, archive_sha256, size, url = DEB
  return package_files.PackageFile(
      what=f'the animal cut-out {name}', requirement=requirement, archive=archive,
      archive_sha256=archive_sha256, member=STAMPS_DIR + name,
      sha256=ANIMAL_CUTOUTS_SHA256[name], size=size, url=url)


@functools.lru_cache(maxsize=1)
def load_animal_cutouts() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{name: (rgb uint8[h,w,3], alpha float32[h,w] in [0, 1])}, cropped to the alpha's bounding
  box, for every name in ANIMAL_CUTOUTS (fetched together on first use)."""
  paths = package_files.fetch_package_files([_spec(n) for n in ANIMAL_CUTOUTS])
  cutouts = {}
  for name, path in zip(ANIMAL_CUTOUTS, paths):
    rgba = np.asarray(Image.open(path).convert('RGBA'))
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    ys, xs = np.nonzero(alpha > 0.5)
    box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
    cutouts[name] = np.ascontiguousarray(rgba[box][..., :3]), np.ascontiguousarray(alpha[box])
  return cutouts
