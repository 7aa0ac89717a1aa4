"""What users install: the sdist built from the repository, the wheel built from that sdist
(``python -m build``), installed (not editable) into a fresh virtual environment, and used from a
directory that holds a user's own ``protocols.py``, ``transports/``, ``stack.py``, ``muxers.py``
and ``benchmarks/`` (the names of the repository's folders).

Nothing here may be skipped: a build or install that fails is a failure. The dependencies come
from the package registry pip is configured with (and its cache); p2pstack itself only from the
wheel. The children get no PYTHONPATH, so the development tree (.dev) is out of sight.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
#: Top-level names of a user's own modules next to their script.
USER_MODULES = ("protocols", "transports", "stack", "muxers", "benchmarks")
#: Files the wheel must carry besides the Python sources.
DATA_SUFFIXES = (".proto", ".pyi")


def _roots() -> dict[str, str]:
    """setup.py's package-dir mapping: installed package -> repository folder."""
    spec = importlib.util.spec_from_file_location("_p2pstack_setup", REPO / "setup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.ROOTS)


ROOTS = _roots()


def _package_files() -> dict[str, Path]:
    """Every file the wheel must hold (its path in the wheel -> the repository file)."""
    files = {}
    for name, folder in ROOTS.items():
        base = Path(*name.split("."))
        for path in (REPO / folder).rglob("*"):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py" or path.suffix in DATA_SUFFIXES or path.name == "py.typed":
                files[(base / path.relative_to(REPO / folder)).as_posix()] = path
    return files


def child_env(venv: Path) -> dict[str, str]:
    """This environment without anything that points Python at the repository or another
    environment; the fresh venv's bin first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "P2PSTACK_")) and key not in ("VIRTUAL_ENV", "PIP_USER")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    """Run to completion; a non-zero status fails the test with the output."""
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@dataclass(frozen=True)
class Installed:
    sdist: Path
    wheel: Path
    venv: Path
    user_dir: Path
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "p2pstack"

    def run(self, *argv: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run in the user's directory (never raises on a non-zero status)."""
        return subprocess.run(
            [str(a) for a in argv],
            cwd=self.user_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _copy_sources(dest: Path) -> None:
    """The files a build reads: the top-level files and the mapped folders (a copy, so that
    setuptools' build/ and egg-info never land in the repository)."""
    dest.mkdir()
    for entry in REPO.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            shutil.copy2(entry, dest / entry.name)
    for folder in ROOTS.values():
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)


def _write_user_dir(user_dir: Path) -> None:
    """A user's project whose own modules are named like the repository's folders."""
    user_dir.mkdir()
    for name in USER_MODULES:
        text = f'"""A user\'s own module."""\n\nOWNER = "user {name}"\n'
        if name in ("transports", "benchmarks"):
            (user_dir / name).mkdir()
            (user_dir / name / "__init__.py").write_text(text)
        else:
            (user_dir / f"{name}.py").write_text(text)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the sdist and wheel, make a fresh venv and install the wheel into it."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    _copy_sources(source)
    venv = work / "venv"
    env = child_env(venv)
    dist = work / "dist"
    # build: the sdist, then the wheel from the unpacked sdist (so the sdist must be complete)
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)], cwd=work, env=env)
    (sdist,) = dist.glob("p2pstack-*.tar.gz")
    (wheel,) = dist.glob("p2pstack-*.whl")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work, env=env)
    # this interpreter's pip installs into the venv (--python): no pip bootstrap in the venv
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    run([*pip, "install", "--no-input", str(wheel)], cwd=work, env=env, timeout=300)
    user_dir = work / "user project"
    _write_user_dir(user_dir)
    return Installed(sdist, wheel, venv, user_dir, env)


def _version() -> str:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert isinstance(version, str)
    return version


def test_wheel_has_one_import_root(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        dist_info = f"p2pstack-{_version()}.dist-info"
        top_level = wheel.read(f"{dist_info}/top_level.txt").decode()
    assert top_level.split() == ["p2pstack"]
    assert {name.split("/")[0] for name in names} == {"p2pstack", dist_info}
    in_package = {name for name in names if name.startswith("p2pstack/")}
    expected = _package_files()
    assert sorted(set(expected) - in_package) == []  # every source, .proto, .pyi and py.typed
    assert sorted(in_package - set(expected)) == []
    for suffix in ("/py.typed", ".proto", "_pb2.py", "_pb2.pyi"):
        assert any(name.endswith(suffix) for name in in_package), suffix


def test_sdist_holds_what_the_wheel_is_built_from(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"setup.py", "pyproject.toml", "README.md"} <= names
    data = [
        path.relative_to(REPO).as_posix()
        for path in _package_files().values()
        if path.suffix in DATA_SUFFIXES or path.name == "py.typed" or path.stem.endswith("_pb2")
    ]
    assert data
    assert sorted(set(data) - names) == []


def test_installed_package_is_imported_from_site_packages(installed: Installed) -> None:
    code = (
        "import json, sys, sysconfig, p2pstack, p2pstack.protocols.request_response,"
        " p2pstack.transports.tcp, p2pstack.muxers.yamux, p2pstack.benchmarks.cli\n"
        "import protocols, stack, transports\n"
        "print(json.dumps({'file': p2pstack.__file__, 'site': sysconfig.get_paths()['purelib'],"
        " 'user': [protocols.OWNER, stack.OWNER, transports.OWNER]}))\n"
    )
    done = installed.run(installed.python, "-c", code)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    site = Path(found["site"]).resolve()
    assert site.is_relative_to(installed.venv.resolve())
    assert Path(found["file"]).resolve().is_relative_to(site)
    assert found["user"] == ["user protocols", "user stack", "user transports"]


def test_version_flag(installed: Installed) -> None:
    done = installed.run(installed.script, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"p2pstack {_version()}"


def test_readme_compose_example_runs_beside_user_modules(installed: Installed) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    # after the example: p2pstack imported none of the user's modules, and they still import
    check = (
        "\nimport sys as _sys\n"
        f"assert not set({USER_MODULES!r}) & set(_sys.modules), 'p2pstack imported user code'\n"
        "import protocols, transports\n"
        "print(protocols.OWNER, '/', transports.OWNER)\n"
    )
    script = installed.user_dir / "example.py"
    script.write_text(blocks[0] + check)
    done = installed.run(installed.python, script, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "b'HELLO'" in done.stdout
    assert " ms" in done.stdout
    assert "user protocols / user transports" in done.stdout


def test_demo_runs_beside_user_modules(installed: Installed) -> None:
    done = installed.run(installed.script, "demo", "--size", "1M", "--pings", "3", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "demo complete" in done.stdout
    assert "ping x3" in done.stdout
    assert "/perf/1.0.0" in done.stdout
    assert "Traceback" not in done.stderr
    done = installed.run(installed.script, "demo", "--size", "1M", "--pings", "3", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["ping_rtts_ms"]) == 3
    assert result["perf"]["upload_bytes"] == 1 << 20
    assert result["identify"]["agent_version"] == f"p2pstack/{_version()}"


def test_bench_runs_from_the_installed_package(installed: Installed) -> None:
    out = installed.user_dir / "results" / "run.json"
    argv = ["bench", "--quick", "--cases", "ceiling,matrix,js,py,go", "--stream-counts", "1"]
    argv += ["--size", "1M", "--output", str(out)]
    done = installed.run(installed.script, *argv, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert "site-packages" not in output
    assert not re.search(r"issue|#\d", output, flags=re.I)
    notes = json.loads(out.read_text())["notes"]
    for name in ("js-libp2p", "py-libp2p", "go-yamux"):
        (note,) = [n for n in notes if n.startswith(f"{name}: skipped: ")]
        assert "P2PSTACK_CHECKOUT" in note
        assert "site-packages" not in note
    assert not [n for n in notes if "failed" in n]
    # matplotlib is not a dependency: the chart is skipped with the extra that brings it
    assert "pip install 'p2pstack[charts]'" in " ".join(output.split())
    assert "raw TCP" in done.stdout
    figures = {f["id"] for f in json.loads(out.read_text())["figures"]}
    assert {"tcp/ceiling", "matrix/tcp-noise-yamux/s1/w64K"} <= figures


def test_bench_finds_the_peers_of_a_named_checkout(installed: Installed) -> None:
    env = {**installed.env, "P2PSTACK_CHECKOUT": str(REPO)}
    if "P2PSTACK_PYLIBP2P_VENV" in os.environ:  # where scripts/setup put py-libp2p
        env["P2PSTACK_PYLIBP2P_VENV"] = os.environ["P2PSTACK_PYLIBP2P_VENV"]
    out = installed.user_dir / "results" / "peers.json"
    argv = ["bench", "--quick", "--cases", "js,py,go", "--pings", "3", "--connects", "1"]
    argv += ["--large", "4M", "--output", str(out)]
    done = subprocess.run(
        [str(installed.script), *argv],
        cwd=installed.user_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(out.read_text())
    assert not [n for n in document["notes"] if "skipped" in n or "failed" in n]
    figures = {f["id"] for f in document["figures"]}
    assert {"ours-js/upload", "ours-py/upload", "ours-go/yamux-upload/s1"} <= figures
