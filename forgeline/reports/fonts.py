"""The Korean font reports draw with: Debian's Nanum Gothic (``make fonts`` installs ``fonts-nanum``).

Found through fontconfig (``fc-list``), else at Debian's path; ``FORGELINE_REPORT_FONT`` (a TrueType file,
``FORGELINE_REPORT_FONT_BOLD`` for its bold) names another. Never downloaded at run time: a server without
it gets an error that says what to install. The same files go into the PDF (embedded, subset) and into the
charts (matplotlib), so a Korean name looks the same in both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Debian's fonts-nanum: a TrueType family with Hangul and Latin (the PDF embeds only the glyphs used).
FAMILY = "NanumGothic"
DEBIAN_DIR = Path("/usr/share/fonts/truetype/nanum")
FILES = {"regular": "NanumGothic.ttf", "bold": "NanumGothicBold.ttf"}


class FontMissing(RuntimeError):
    """No Korean font on this machine: the message says how to install one."""


@dataclass(frozen=True)
class ReportFont:
    regular: Path
    bold: Path


@lru_cache(maxsize=1)
def korean_font() -> ReportFont:
    """The regular and bold TrueType files of the reports' font; FontMissing when there is none."""
    chosen = os.environ.get("FORGELINE_REPORT_FONT")
    if chosen:
        regular = Path(chosen)
        if not regular.is_file():
            raise FontMissing(f"FORGELINE_REPORT_FONT names {regular}, which is not a font file.")
        bold = Path(os.environ.get("FORGELINE_REPORT_FONT_BOLD") or regular)
        return ReportFont(regular, bold if bold.is_file() else regular)
    found = _fontconfig_files()
    regular = found.get(FILES["regular"]) or _debian(FILES["regular"])
    if regular is None:
        raise FontMissing(
            "No Korean font for the reports: install Debian's Nanum fonts with `make fonts` "
            "(or `sudo apt-get install fonts-nanum`), or set FORGELINE_REPORT_FONT to a TrueType file "
            "with Hangul."
        )
    bold = found.get(FILES["bold"]) or _debian(FILES["bold"]) or regular
    return ReportFont(regular, bold)


def _fontconfig_files() -> dict[str, Path]:
    """The Nanum Gothic files fontconfig knows of, by file name (empty without fontconfig)."""
    if shutil.which("fc-list") is None:
        return {}
    listed = subprocess.run(
        ["fc-list", f"{FAMILY}:lang=ko", "file"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    files = (Path(line.strip().rstrip(":")) for line in listed.splitlines() if line.strip())
    return {path.name: path for path in files if path.is_file()}


def _debian(name: str) -> Path | None:
    path = DEBIAN_DIR / name
    return path if path.is_file() else None
