"""Build an environment's two Lambda zips with ``zappa package``, from a venv holding only what a Lambda carries.

zappa zips the site-packages of the venv named by ``$VIRTUAL_ENV`` plus the working directory, minus the
stage's ``exclude`` names (matched at every depth, in both) and ``exclude_glob``. Run from the dev venv
it would ship moto, locust and hypothesis; so the build venv ``.venv-package`` gets the runtime
dependencies, the ``api`` extra and zappa (the ``deploy`` extra) read from ``pyproject.toml``, and not
the project itself, which zappa takes from the working directory. ``VIRTUAL_ENV`` is set explicitly:
an activated dev venv must not leak into the zip.

Offline apart from the first ``pip install``: ``zappa package`` loads no AWS credentials (it builds a
boto3 session only for the region), ``--json`` skips its PyPI version check, and the settings turn off
``use_precompiled_packages`` (a PyPI query per installed package for manylinux wheels). The wheels are
then the build machine's, so the build refuses to run anywhere but CPython 3.11 on Linux x86_64, the
Lambda's ``python3.11`` runtime. The venv is rebuilt when ``pyproject.toml`` changes (its hash, as in
the Makefile), so nothing dropped from it lingers.

``python -m nicelist.package [ENV]`` (``make package``) prints each zip with its zipped and unzipped size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nicelist.settings_file import writer_stage

ROOT = Path(__file__).resolve().parents[1]
BUILD_VENV = ".venv-package"
# What the Lambdas carry beyond the runtime dependencies: the enqueue API's Flask, and zappa, whose
# handler.py is the API's entry point (the writer's is writer.handler.lambda_handler).
EXTRAS = ("api", "deploy")
RUNTIME = (3, 11)


class PackageError(RuntimeError):
    """The package cannot be built here (wrong platform, or the project asks for itself)."""


@dataclass(frozen=True)
class Artefact:
    stage: str
    path: Path
    zipped: int
    unzipped: int

    def describe(self) -> str:
        return f"{self.stage}: {self.path} ({self.zipped / 1e6:.1f} MB zipped, {self.unzipped / 1e6:.1f} MB unzipped)"


def requirements(pyproject: Path) -> list[str]:
    """The runtime dependencies and the ``EXTRAS`` of ``pyproject``, as pip arguments."""
    project = tomllib.loads(pyproject.read_text())["project"]
    found = list(project["dependencies"])
    for extra in EXTRAS:
        found += project["optional-dependencies"][extra]
    selfish = [requirement for requirement in found if requirement.startswith(project["name"])]
    if selfish:
        raise PackageError(f"the Lambda extras must not name the project itself: {selfish}")
    return found


def venv_stamp(pyproject: Path) -> str:
    """The first 12 hex digits of the file's SHA-1, the Makefile's ``HASH``."""
    return hashlib.sha1(pyproject.read_bytes(), usedforsecurity=False).hexdigest()[:12]


def check_platform() -> None:
    machine = platform.machine()
    if sys.platform != "linux" or machine != "x86_64" or sys.version_info[:2] != RUNTIME:
        raise PackageError(
            f"build on CPython {RUNTIME[0]}.{RUNTIME[1]}, Linux x86_64 (the Lambda's platform), not "
            f"{sys.version_info[0]}.{sys.version_info[1]} on {sys.platform} {machine}: "
            "the zip carries this machine's wheels"
        )


def ensure_venv(root: Path) -> Path:
    """``root/.venv-package`` with exactly the Lambda's requirements, rebuilt when pyproject changes."""
    pyproject = root / "pyproject.toml"
    venv = root / BUILD_VENV
    stamp = venv / f".package-{venv_stamp(pyproject)}"
    if stamp.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603 - fixed arguments
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--prefer-binary"]
    subprocess.run([*pip, *requirements(pyproject)], check=True)  # noqa: S603 - pyproject's requirements
    stamp.touch()
    return venv


def zappa_package(root: Path, venv: Path, stage: str, output: Path) -> None:
    """``zappa package STAGE -o OUTPUT`` in ``root``, packaging ``venv`` whatever venv is active."""
    environment = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    command = [str(venv / "bin" / "zappa"), "package", stage, "-o", str(output), "--json", "--disable_progress"]
    subprocess.run(command, cwd=root, env=environment, check=True)  # noqa: S603 - the build venv's zappa


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(member.file_size for member in archive.infolist())


def build(env: str = "dev", root: Path = ROOT, out_dir: Path | None = None) -> dict[str, Artefact]:
    """Zip ``<env>_writer`` and ``<env>_api`` into ``out_dir`` (default ``root/dist``), keyed by stage."""
    check_platform()
    venv = ensure_venv(root)
    out_dir = out_dir or root / "dist"
    out_dir.mkdir(parents=True, exist_ok=True)
    built = {}
    for stage in (writer_stage(env), f"{env}_api"):
        path = out_dir.resolve() / f"nicelist-{stage}.zip"
        path.unlink(missing_ok=True)
        zappa_package(root, venv, stage, path)
        built[stage] = Artefact(stage, path, path.stat().st_size, unzipped_size(path))
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nicelist.package", description=__doc__.splitlines()[0])
    parser.add_argument("env", nargs="?", default="dev", help="the environment: zips <env>_writer and <env>_api")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the zips go (default: dist/)")
    options = parser.parse_args(argv)
    try:
        built = build(options.env, out_dir=options.out_dir)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(map(str, error.cmd))} exited {error.returncode}", file=sys.stderr)
        return 1
    for artefact in built.values():
        print(artefact.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
