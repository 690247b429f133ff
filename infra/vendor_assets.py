"""Vendors the web app's browser assets from their npm packages, at pinned versions, with their licences.

Nothing is fetched at run time: the files land in the source tree and ship in the wheel. To update one,
change its version below, run `python infra/vendor_assets.py` (needs `npm` on the PATH), look at the diff,
run the web tests (tests/web) and commit the new files with the version in the message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "src" / "plera" / "web" / "static" / "vendor"
DOCS = ROOT / "src" / "plera" / "api" / "docs_assets"  # /docs and /redoc (api/docs.py)
TESTS = ROOT / "tests" / "web" / "vendor"

# package, version, where its files go, {file in the package: file name in the destination}
PACKAGES: list[tuple[str, str, Path, dict[str, str]]] = [
    ("htmx.org", "2.0.11", STATIC / "htmx", {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "LICENSE"}),
    (
        "swagger-ui-dist",
        "5.36.0",
        DOCS / "swagger-ui",
        {
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css": "swagger-ui.css",
            "favicon-32x32.png": "favicon-32x32.png",
            "LICENSE": "LICENSE",
        },
    ),
    (
        "redoc",
        "2.5.4",
        DOCS / "redoc",
        {
            "bundles/redoc.standalone.js": "redoc.standalone.js",
            "bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
            "LICENSE": "LICENSE",
        },
    ),
    # Only the browser tests use axe-core; it does not ship in the wheel.
    ("axe-core", "4.14.1", TESTS, {"axe.min.js": "axe.min.js", "LICENSE": "LICENSE"}),
]

# Edits to vendored files, applied after copying: each must match, so an update that moves them fails loudly.
# ReDoc's sidebar shows a logo from its CDN, always; our pages load nothing from another host.
PATCHES: dict[Path, list[tuple[str, str]]] = {
    DOCS / "redoc" / "redoc.standalone.js": [('src:"https://cdn.redoc.ly/redoc/logo-mini.svg"', 'src:"data:,"')],
}


def patch() -> None:
    for path, edits in PATCHES.items():
        text = path.read_text()
        for old, new in edits:
            if old not in text:
                raise SystemExit(f"{path.relative_to(ROOT)}: the text to patch is gone: {old}")
            text = text.replace(old, new)
        path.write_text(text)
        print(f"patched {path.relative_to(ROOT)}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, dest, files in PACKAGES:
            out = subprocess.run(
                ["npm", "pack", f"{name}@{version}", "--silent"], cwd=tmp, check=True, capture_output=True, text=True
            )
            archive = Path(tmp) / out.stdout.strip().splitlines()[-1]
            dest.mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive) as tar:
                for inner, target in files.items():
                    member = tar.extractfile(f"package/{inner}")
                    if member is None:
                        raise SystemExit(f"{name}@{version} has no {inner}")
                    with (dest / target).open("wb") as f:
                        shutil.copyfileobj(member, f)
            (dest / "VERSION").write_text(f"{name}@{version} (npm)\n")
            print(f"{name}@{version} -> {dest.relative_to(ROOT)}")
    patch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
