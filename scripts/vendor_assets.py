"""Vendor the Leaflet assets used by the maps, so that reports open offline.

Fetches pinned npm packages with ``npm pack`` (the npm registry is the only source), keeps
the files folium needs, rewrites the images referenced by the CSS as data URIs (they would
break once the CSS is inlined in a report), and writes them with their licences to
``ptsm_diag/assets/vendor/``.

It also builds a partial plotly.js bundle holding only the trace types the package's
figures use (:data:`PLOTLY_TRACES`), of the version the installed plotly expects: the npm
package ``plotly.js`` is bundled with esbuild as its own ``esbuild-config.js`` and partial
bundles (``lib/index-basic.js``) do, minified, licence comments kept. It weighs a quarter
of the complete bundle of the plotly wheel, which pages still use when a figure needs
another trace type (:func:`ptsm_diag.viz.offline.fit_plotly_bundle`).

Usage: ``python scripts/vendor_assets.py`` (needs ``npm`` and the npm registry).
"""

from __future__ import annotations

import base64
import hashlib
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

# Trace types of every figure of the package (viz/, report/, notebooks): scatter is in
# every plotly.js bundle. tests/test_plotly_bundle.py checks the list against the code.
PLOTLY_TRACES = ("bar", "barpolar", "heatmap", "scatter", "scatterpolar")
PLOTLY_BUNDLE = "plotly-ptsm.min.js"
# Build tools, pinned (the versions plotly.js 4.1.1 declares in its devDependencies).
ESBUILD_PACKAGES = ("esbuild@0.28.1", "esbuild-plugin-environment@0.5.0",
                    "esbuild-plugin-inline-css@0.0.1", "stream-browserify@3.0.0")

_PLOTLY_ENTRY = """'use strict';
var Plotly = require('./core');
Plotly.register([
TRACES
    require('./calendars'),
]);
module.exports = Plotly;
"""

_PLOTLY_BUILD = """const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
esbuild.build({
    entryPoints: ['./lib/index-ptsm.js'], outfile: './dist/OUT',
    format: 'iife', globalName: 'Plotly', bundle: true, minify: true, sourcemap: false,
    plugins: [InlineCSSPlugin(), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' }, target: 'es2016', logLevel: 'warning',
}).catch(() => process.exit(1));
"""


def _npm_pack(spec: str, tmp_path: Path) -> tuple[dict, Path]:
    out = subprocess.run(["npm", "pack", spec, "--json"], cwd=tmp_path, check=True,
                         capture_output=True, text=True)
    info = json.loads(out.stdout)[0]
    extract = tmp_path / info["name"]
    with tarfile.open(tmp_path / info["filename"]) as tar:
        tar.extractall(extract, filter="data")
    return info, extract / "package"


def build_plotly(tmp_path: Path) -> dict[str, object]:
    """Build the partial plotly.js bundle into the vendor folder; its manifest entry."""
    from plotly.offline import get_plotlyjs_version

    version = get_plotlyjs_version()
    info, package = _npm_pack(f"plotly.js@{version}", tmp_path)
    npm = ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"]
    subprocess.run([*npm, "--omit=dev"], cwd=package, check=True, capture_output=True)
    subprocess.run([*npm, "--no-save", *ESBUILD_PACKAGES], cwd=package, check=True,
                   capture_output=True)
    traces = "".join(f"    require('./{t}'),\n" for t in PLOTLY_TRACES if t != "scatter")
    (package / "lib" / "index-ptsm.js").write_text(_PLOTLY_ENTRY.replace("TRACES\n", traces))
    (package / "build-ptsm.js").write_text(_PLOTLY_BUILD.replace("OUT", PLOTLY_BUNDLE))
    subprocess.run(["node", "build-ptsm.js"], cwd=package, check=True)
    header = (f"/**\n* plotly.js (ptsm-diag partial bundle: {', '.join(PLOTLY_TRACES)} - "
              f"minified) v{version}\n* Copyright 2012-2026, Plotly, Inc.\n"
              "* All rights reserved.\n* Licensed under the MIT license\n*/\n")
    code = header + (package / "dist" / PLOTLY_BUNDLE).read_text(encoding="utf-8")
    (VENDOR_DIR / PLOTLY_BUNDLE).write_text(code, encoding="utf-8")
    (VENDOR_DIR / "LICENSE-plotly.txt").write_bytes((package / "LICENSE").read_bytes())
    return {
        "version": info["version"],
        "integrity": info["integrity"],
        "files": sorted(["LICENSE-plotly.txt", PLOTLY_BUNDLE]),
        "traces": list(PLOTLY_TRACES),
        "sha256": hashlib.sha256(code.encode("utf-8")).hexdigest(),
        "licence": "MIT",
        "build": "esbuild (" + ", ".join(ESBUILD_PACKAGES) + ") of lib/core.js + the traces",
    }


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
            info, package_dir = _npm_pack(spec, tmp_path)
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
                "sha256": {name: hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest()
                           for name in sorted(files.values())},
            }
        manifest["plotly.js"] = build_plotly(tmp_path)
    (VENDOR_DIR / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
