"""The upstream CRD schemas that tests validate rendered custom resources against: where they are, and their download.

    python3 scripts/fetch_crds.py [--dest DIR] [--sources FILE]

The files, each with its pinned URL and sha256, are listed in tests/crds/sources.json. Tests read them from the
directory `crd_dir()` names: $GKE_TPU_SERVING_CRD_DIR where set; else ../shared/crds (beside the checkout) where it
exists, as in this project's own CI; else tests/crds/cache/ (git-ignored), which this script fills, so that a plain
clone runs `make test` too. Without --dest it downloads only when the schemas are to come from that cache (otherwise
there is nothing to do, and it says so). A file already present with its pinned hash is not downloaded again; a
download whose sha256 differs from the pin is refused and nothing is left at the file's place. Standard library
only, so that it runs with any Python 3.11+, before the virtualenvs exist.

Exit status: 0 when every file is in place, 1 when a download fails or does not have its pinned sha256.
"""

import argparse
import hashlib
import json
import os
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tests" / "crds" / "sources.json"
CACHE = ROOT / "tests" / "crds" / "cache"
SHARED = ROOT.parent / "shared" / "crds"
ENV_VAR = "GKE_TPU_SERVING_CRD_DIR"
TIMEOUT_S = 60

Source = Mapping[str, str]
"""One file's entry in sources.json: url, sha256, and for a bare openAPIV3Schema (.json) its apiVersion and kind."""


class ChecksumError(Exception):
    """A file whose content is not the pinned one: a tampered or moved upstream file, or a stale local copy."""


def load_sources(path: Path = SOURCES) -> dict[str, Source]:
    """File name -> its entry, as pinned in sources.json."""
    sources: dict[str, Source] = json.loads(path.read_text())
    return sources


def crd_dir(environ: Mapping[str, str] = os.environ, shared: Path = SHARED, cache: Path = CACHE) -> Path:
    """The directory to read the CRD schemas from: the setting wins, then the copy CI provides, then the cache."""
    if setting := environ.get(ENV_VAR):
        return Path(setting)
    return shared if shared.is_dir() else cache


def verify(name: str, content: bytes, source: Source) -> None:
    """Raise ChecksumError unless `content` has the sha256 pinned for file `name`."""
    actual = hashlib.sha256(content).hexdigest()
    if actual != source["sha256"]:
        raise ChecksumError(f"{name}: sha256 is {actual}, expected {source['sha256']} as pinned for {source['url']}")


def read_pinned(directory: Path, name: str, source: Source) -> bytes:
    """The content of file `name` in `directory`, checked against its pin, so that tests validate against exactly the
    schemas sources.json names (FileNotFoundError, saying how to get it, if the file is absent)."""
    path = directory / name
    if not path.is_file():
        raise FileNotFoundError(
            f"CRD schema {path} is missing: download the files of tests/crds/sources.json there with "
            f"`python3 scripts/fetch_crds.py --dest {directory}`, or set {ENV_VAR} to a directory that has them"
        )
    content = path.read_bytes()
    verify(name, content, source)
    return content


def fetch(name: str, source: Source, dest: Path) -> bool:
    """Put file `name` in `dest` from its pinned URL unless it is there with its pinned hash; True if downloaded.

    A copy with another hash is removed first, and the download is written to a temporary file and renamed only once
    verified, so that neither a stale nor a corrupt file is ever left at its place."""
    path = dest / name
    if path.is_file():
        try:
            verify(name, path.read_bytes(), source)
            return False
        except ChecksumError:
            path.unlink()
    with urllib.request.urlopen(source["url"], timeout=TIMEOUT_S) as response:
        content = response.read()
    verify(name, content, source)
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / f".{name}.partial"
    try:
        partial.write_bytes(content)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dest", type=Path, help="download into DIR (default: tests/crds/cache/, when tests read from it)"
    )
    parser.add_argument("--sources", type=Path, default=SOURCES, help="the pinned files (default: %(default)s)")
    options = parser.parse_args(argv)
    dest = options.dest
    if dest is None:
        if (found := crd_dir()) != CACHE:
            print(f"fetch_crds: CRD schemas are read from {found}; nothing to download")
            return 0
        dest = CACHE
    for name, source in load_sources(options.sources).items():
        try:
            downloaded = fetch(name, source, dest)
        except ChecksumError as error:
            print(f"fetch_crds: refused {error}; nothing is kept at {dest / name}", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"fetch_crds: {name}: {source['url']}: {error}", file=sys.stderr)
            return 1
        print(f"fetch_crds: {dest / name}: {'downloaded' if downloaded else 'present'}, sha256 verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
