"""Packaging: every data file the code reads is declared package data, the version has one home,
and the lock files cover what setup.cfg asks for."""

from __future__ import annotations

import configparser
import fnmatch
import re

import gateway
from tests.gateway_fixtures import ROOT

PACKAGES = ("gateway", "plugins", "admin_web")


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_every_data_file_in_the_packages_is_declared_package_data():
    declared = {pkg: [p.strip() for p in globs.split(",")]
                for pkg, globs in _setup_cfg()["options.package_data"].items()}
    missing = []
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*"):
            if (not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts
                    or path.name == "README.md"):
                continue
            rel = path.relative_to(ROOT)
            package = ".".join(rel.parent.parts)
            if not any(fnmatch.fnmatch(path.name, g) for g in declared.get(package, [])):
                missing.append(str(rel))
    assert not missing, f"not declared in setup.cfg [options.package_data]: {missing}"


def test_the_version_lives_in_gateway_init_alone():
    assert _setup_cfg()["metadata"]["version"] == "attr: gateway.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", gateway.__version__)
    assert "## " in (ROOT / "CHANGELOG.md").read_text()


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _names(text: str) -> set[str]:
    return {_norm(re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0])
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith(("#", "-"))}


def test_the_locks_pin_every_requirement_with_hashes():
    cfg = _setup_cfg()
    runtime = _names(cfg["options"]["install_requires"])
    test = _names(cfg["options.extras_require"]["test"])
    for lock, wanted in (("requirements.lock", runtime), ("requirements-test.lock", runtime | test)):
        text = (ROOT / lock).read_text()
        pinned = {_norm(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", text, re.M)}
        assert wanted - pinned == set(), f"{lock} lacks {sorted(wanted - pinned)}: run make lock"
        entries = re.findall(r"^[A-Za-z0-9_.-]+==\S+ \\\n\s+--hash=sha256:[0-9a-f]{64}",
                             text, re.M)
        assert len(entries) == len(re.findall(r"^[A-Za-z0-9_.-]+==", text, re.M))
