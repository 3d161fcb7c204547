"""Vendor the Leaflet assets used by the maps, so that reports open offline.

Fetches pinned npm packages with ``npm pack`` (the npm registry is the only source), keeps
the files folium needs, rewrites the images referenced by the CSS as data URIs (they would
break once the CSS is inlined in a report), and writes them with their licences to
``ptsm_diag/assets/vendor/``. plotly.js is not vendored: it ships in the plotly wheel.

Usage: ``python scripts/vendor_assets.py``
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parents[1] / "ptsm_diag" / "assets" / "vendor"

# package spec → {file inside the package: name in vendor/}
PACKAGES: dict[str, dict[str, str]] = {
    "leaflet@1.9.4": {
        "dist/leaflet.js": "leaflet.js",
        "dist/leaflet.css": "leaflet.css",
        "LICENSE": "LICENSE-leaflet.txt",
    },
    "leaflet.markercluster@1.5.3": {
        "dist/leaflet.markercluster.js": "leaflet.markercluster.js",
        "dist/MarkerCluster.css": "MarkerCluster.css",
        "dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
        "MIT-LICENCE.txt": "LICENSE-markercluster.txt",
    },
    # folium's popups build their content with jQuery.
    "jquery@3.7.1": {
        "dist/jquery.min.js": "jquery.min.js",
        "LICENSE.txt": "LICENSE-jquery.txt",
    },
    # 3.0.0 is the version folium's Fullscreen plugin is written for.
    "leaflet.fullscreen@3.0.0": {
        "Control.FullScreen.js": "Control.FullScreen.js",
        "Control.FullScreen.css": "Control.FullScreen.css",
        "LICENSE": "LICENSE-fullscreen.txt",
    },
}

MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _inline_css_urls(css: str, base: Path) -> str:
    """Replace ``url(relative/file.png)`` by a data URI of that file."""

    def repl(match: re.Match[str]) -> str:
        target = match.group(1).strip("'\"")
        path = base / target
        if target.startswith(("data:", "#")) or not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:{MIME[path.suffix]};base64,{data})"

    return re.sub(r"url\(([^)]+)\)", repl, css)


def main() -> None:
    """Fetch, extract and write the vendored assets and their manifest."""
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for spec, files in PACKAGES.items():
            out = subprocess.run(
                ["npm", "pack", spec, "--json"], cwd=tmp, check=True,
                capture_output=True, text=True,
            )
            info = json.loads(out.stdout)[0]
            extract = tmp_path / info["name"]
            with tarfile.open(tmp_path / info["filename"]) as tar:
                tar.extractall(extract, filter="data")
            package_dir = extract / "package"
            for source, target in files.items():
                path = package_dir / source
                if path.suffix == ".css":
                    text = _inline_css_urls(path.read_text(encoding="utf-8"), path.parent)
                    (VENDOR_DIR / target).write_text(text, encoding="utf-8")
                else:
                    (VENDOR_DIR / target).write_bytes(path.read_bytes())
            manifest[info["name"]] = {
                "version": info["version"],
                "integrity": info["integrity"],
                "files": sorted(files.values()),
            }
    (VENDOR_DIR / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
