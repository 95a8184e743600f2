"""`keras.utils.get_file`: a file from a URL, cached under Keras's directory.

The cache is Keras's own (`$KERAS_HOME`, else `~/.keras`; `datasets/` below it by default),
with its names and rules, so a machine that ran Keras once already has the files: a file there
is used as it is (re-downloaded only when a given hash does not match), archives are extracted
(tar or zip, members that would land outside the target refused) to `<name>_extracted` or
`<name>`, as Keras 3 names them. When a file is missing and the download fails (no network),
the error is one line naming the file, the URL and where to put the file by hand.
"""
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile


class DownloadError(OSError, ValueError):
    """A file could not be fetched (a ValueError too, so `seqc run` reports it as a user error
    at the script's line)."""


def keras_home():
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    return os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")


def _hasher(algorithm, file_hash=None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    return str(hash_file(fpath, _hasher(algorithm, file_hash), chunk_size)) == str(file_hash)


def _inside(root, name):
    target = os.path.realpath(os.path.join(root, name))
    return target == os.path.realpath(root) or target.startswith(os.path.realpath(root) + os.sep)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extract a tar or zip archive into `path`; False when it is neither."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                members = [m for m in archive.getmembers()       # plain files and directories, inside `path`
                           if _inside(path, m.name) and (m.isfile() or m.isdir())]
                kwargs = {"filter": "data"} if sys.version_info < (3, 14) and hasattr(tarfile, "data_filter") else {}
                archive.extractall(path, members=members, **kwargs)
            return True
        if kind == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                archive.extractall(path, members=[i for i in archive.infolist() if _inside(path, i.filename)])
            return True
        if kind not in ("tar", "zip"):
            raise NotImplementedError(kind)
    return False


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """The path of `fname` in the cache, downloaded from `origin` when absent (Keras 3's rules)."""
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(cache_dir if cache_dir is not None else keras_home())
    if not os.access(base, os.W_OK) and not os.path.isdir(os.path.join(base, cache_subdir)):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    given = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'.Please specify the "
                             "`fname` argument.")
    elif os.sep in fname:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the file's parent "
                         f"directory, use the `cache_dir` argument. Received: fname={fname}")
    extraction_dir = None
    if extract or untar:
        if given and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, fname[:fname.find(".")] + "_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)
    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print(f"A local file was found, but it seems to be incomplete or outdated because the {hash_algorithm} "
              f"file hash does not match the original value of {file_hash} so we will re-download the data.")
        download = True
    if download and extraction_dir is not None and not force_download and os.path.isdir(extraction_dir) \
            and os.listdir(extraction_dir):
        return extraction_dir              # extracted before; the archive itself was removed
    if download:
        _download(origin, target, fname, datadir)
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            os.remove(target)
            raise ValueError(f"Incomplete or corrupted file detected. The {hash_algorithm} file hash does not "
                             f"match the provided value of {file_hash}.")
    if extraction_dir is not None:
        if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return target


def _download(origin, target, fname, datadir):
    print(f"Downloading data from {origin}")
    part = target + ".part"
    try:
        with urllib.request.urlopen(origin, timeout=30) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out)
        os.replace(part, target)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if os.path.exists(part):
            os.remove(part)
        reason = getattr(e, "reason", None) or e
        raise DownloadError(f"{fname} is not in {datadir} and could not be downloaded from {origin} ({reason}); "
                            f"download it there by hand (as {os.path.join(datadir, os.path.basename(target))})") \
            from None
