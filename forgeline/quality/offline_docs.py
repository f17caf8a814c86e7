"""Great Expectations' Data Docs, readable on a server without internet.

GX's page templates load Bootstrap, jQuery, bootstrap-table, the date picker, Vega and Font Awesome from
five CDNs and its logo from S3, so on an air-gapped factory server its pages render unstyled, with no table
filters and no charts. The very same files come from the npm registry at set-up instead: ``make env`` runs
``python -m forgeline.quality.offline_docs fetch``, which downloads the pinned package versions below into
``VENDOR_DIR`` and checks each tarball against the registry's sha512 (like ``uv.lock`` for wheels). After
every build of a client's Data Docs, :func:`localize` copies the files into the site and points its pages
at them, so the site is one folder that opens anywhere (served, or straight from disk).

When GX's templates change and name a file this list lacks, :func:`localize` says which URL is left.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import logging
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from forgeline.settings import VENDOR_DIR

log = logging.getLogger(__name__)

REGISTRY = "https://registry.npmjs.org"
SITE_VENDOR = Path("static") / "vendor"  # inside a Data Docs site


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity of the tarball
    files: tuple[str, ...]  # paths inside the package; a folder ends with "/"

    @property
    def folder(self) -> str:
        return f"{self.name.replace('/', '__')}@{self.version}"

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"

    @property
    def stamp(self) -> str:
        """Written last into the package's folder: a changed file list fetches it again."""
        return "\n".join([self.tarball, *self.files]) + "\n"

    def complete_in(self, folder: Path) -> bool:
        done = folder / self.folder / ".complete"
        return done.exists() and done.read_text() == self.stamp


JQUERY = Package(
    "jquery",
    "3.7.1",
    "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
    ("dist/jquery.min.js",),
)
POPPER = Package(
    "popper.js",
    "1.12.9",
    "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
    ("dist/umd/popper.min.js",),
)
BOOTSTRAP = Package(
    "bootstrap",
    "4.3.1",
    "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
    ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js"),
)
BOOTSTRAP_DARK = Package(
    "@forevolve/bootstrap-dark",
    "1.1.0",
    "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
    ("dist/css/bootstrap-prefers-dark.css",),
)
TABLE_1190 = Package(
    "bootstrap-table",
    "1.19.0",
    "sha512-L+USHm3X9FKocx/6yngGu12yF6r6s1Ntuc+hoIK2a2QQJjHw5kcySLiE2HY/9sEaSGAOfPbfQOtBH3uKkcpqEA==",
    (
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
)
TABLE_1191 = Package(
    "bootstrap-table",
    "1.19.1",
    "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
    (
        "dist/bootstrap-table.min.css",
        "dist/bootstrap-table.min.js",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
)
DATEPICKER = Package(
    "bootstrap-datepicker",
    "1.9.0",
    "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
    ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js"),
)
FONT_AWESOME = Package(
    "@fortawesome/fontawesome-free",
    "6.6.0",
    "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
    ("css/all.min.css", "webfonts/"),  # the stylesheet loads its fonts from ../webfonts/
)
# GX asks jsDelivr for the newest 5.x / 6.x: pinned here to the newest of each major (November 2026).
VEGA = Package(
    "vega",
    "5.33.1",
    "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
    ("build/vega.min.js",),
)
VEGA_LITE = Package(
    "vega-lite",
    "5.23.0",
    "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
    ("build/vega-lite.min.js",),
)
VEGA_EMBED = Package(
    "vega-embed",
    "6.29.0",
    "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
    ("build/vega-embed.min.js",),
)

_UNPKG_TABLE = "https://unpkg.com/bootstrap-table@"
# Each URL GX's templates (great_expectations/render/view/templates) load, and the file that replaces it.
ASSETS: dict[str, tuple[Package, str]] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": (JQUERY, "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        POPPER,
        "dist/umd/popper.min.js",
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        BOOTSTRAP,
        "dist/css/bootstrap.min.css",
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        BOOTSTRAP,
        "dist/js/bootstrap.min.js",
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        BOOTSTRAP_DARK,
        "dist/css/bootstrap-prefers-dark.css",
    ),
    _UNPKG_TABLE + "1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        TABLE_1190,
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
    ),
    _UNPKG_TABLE + "1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        TABLE_1190,
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        TABLE_1191,
        "dist/bootstrap-table.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        TABLE_1191,
        "dist/bootstrap-table.min.js",
    ),
    _UNPKG_TABLE + "1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        TABLE_1191,
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        DATEPICKER,
        "dist/css/bootstrap-datepicker.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        DATEPICKER,
        "dist/js/bootstrap-datepicker.min.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        FONT_AWESOME,
        "css/all.min.css",
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": (VEGA, "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": (VEGA_LITE, "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": (VEGA_EMBED, "build/vega-embed.min.js"),
}
PACKAGES: tuple[Package, ...] = tuple(dict.fromkeys(package for package, _ in ASSETS.values()))

# GX's logo (with a per-build query string) comes from S3; the package ships the same image.
_LOGO_URL = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/([\w.-]+\.png)[^\"']*"
)


def _gx_images() -> Path:
    """GX's own images, found without importing GX (seconds of start-up)."""
    spec = importlib.util.find_spec("great_expectations")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "render" / "view" / "static" / "images"


# A CDN copy is checked by the browser against these; the local copy was checked against npm's sha512 at
# fetch, and a file:// page cannot pass a crossorigin check, so both go with the CDN's URL.
_CDN_CHECKS = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
_EXTERNAL_ASSET = re.compile(
    r"<(?:script|link|img)\b[^>]*?\b(?:src|href)=\"(https?://[^\"]+)\"", re.IGNORECASE
)


class FetchError(RuntimeError):
    """A package could not be fetched or did not match its pinned checksum."""


def missing(vendor: Path = VENDOR_DIR) -> list[Package]:
    """The packages not (completely) in ``vendor``."""
    return [p for p in PACKAGES if not p.complete_in(vendor)]


def fetch(vendor: Path = VENDOR_DIR, timeout_s: float = 60) -> list[Package]:
    """Download the missing packages from the npm registry, check them, keep the files GX needs."""
    fetched = []
    for package in missing(vendor):
        try:
            with urllib.request.urlopen(package.tarball, timeout=timeout_s) as response:
                data = response.read()
        except OSError as error:
            raise FetchError(
                f"Could not download {package.tarball} ({error}). The npm registry must be reachable while "
                "setting up (make env); nothing is downloaded while running."
            ) from error
        algorithm, _, expected = package.integrity.partition("-")
        actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        if actual != expected:
            raise FetchError(f"{package.tarball} does not match its pinned {algorithm}: refusing to use it")
        target = vendor / package.folder
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                inside = member.name.split("/", 1)[-1]  # npm tarballs hold one top folder ("package/")
                if member.isfile() and any(
                    inside == wanted or (wanted.endswith("/") and inside.startswith(wanted))
                    for wanted in package.files
                ):
                    destination = target / inside
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    destination.write_bytes(source.read())
        (target / ".complete").write_text(package.stamp)
        fetched.append(package)
    return fetched


def external_assets(html: str) -> list[str]:
    """URLs a page still loads from the internet (scripts, stylesheets, images; plain links are fine)."""
    return _EXTERNAL_ASSET.findall(html)


def localize(site: Path, vendor: Path = VENDOR_DIR) -> list[str]:
    """Copy the vendored files into a built Data Docs site and point its pages at them.

    Returns the external URLs left in any page (empty when the site is fully offline); logs a warning
    naming them, so a GX upgrade that adds a CDN file is noticed rather than rendering half a page.
    """
    absent = missing(vendor)
    if absent:
        log.warning(
            "Data Docs at %s keep their CDN links: %s not set up (run `make env`)",
            site,
            ", ".join(p.folder for p in absent),
        )
        return sorted({url for page in site.rglob("*.html") for url in external_assets(page.read_text())})
    copied = site / SITE_VENDOR
    for package in PACKAGES:
        if not package.complete_in(copied):
            shutil.rmtree(copied / package.folder, ignore_errors=True)
            shutil.copytree(vendor / package.folder, copied / package.folder)
    images = copied / "gx-images"
    images.mkdir(parents=True, exist_ok=True)
    left: set[str] = set()
    for page in site.rglob("*.html"):
        if copied in page.parents:
            continue
        html = page.read_text(encoding="utf-8")
        changed = html
        for url, (package, path) in ASSETS.items():
            local = os.path.relpath(copied / package.folder / path, page.parent)
            changed = re.sub(
                rf'((?:src|href)=")({re.escape(url)})("[^>]*>)',
                lambda m, local=local: m.group(1) + local + _CDN_CHECKS.sub("", m.group(3)),
                changed,
            )

        def _logo(match: re.Match[str], page: Path = page) -> str:
            name = match.group(1)
            if not (images / name).exists() and (_gx_images() / name).exists():
                shutil.copy2(_gx_images() / name, images / name)
            return os.path.relpath(images / name, page.parent)

        changed = _LOGO_URL.sub(_logo, changed)
        if changed != html:
            page.write_text(changed, encoding="utf-8")
        left.update(external_assets(changed))
    if left:
        log.warning("Data Docs at %s still load from the internet: %s", site, ", ".join(sorted(left)))
    return sorted(left)


def main(argv: list[str]) -> int:
    if argv[1:] != ["fetch"]:
        print("usage: python -m forgeline.quality.offline_docs fetch", file=sys.stderr)
        return 2
    try:
        done = fetch()
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if done:
        print(f"Data Docs assets: fetched {', '.join(p.folder for p in done)} into {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
