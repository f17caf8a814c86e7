"""A client's own upload of a new export (the app's "Send new data"): checked against its mapping first, then
placed in its landing folder with ``add_files``, for the next run to ingest.

The file is written to a private scratch folder under the client's folder, dry-run with ``forgeline check``'s
own ``check_client`` (nothing loaded), and only a file that a source of the mapping takes and reads without
an error is delivered. Every message names the file by its own name only: never a server path.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from forgeline import i18n
from forgeline.i18n import N_, _
from forgeline.ingest.errors import IngestError
from forgeline.ingest.landing import add_files
from forgeline.locking import ClientBusy, client_lock
from forgeline.mapping.check import check_client
from forgeline.mapping.spec import ClientConfig
from forgeline.settings import Settings

MAX_BYTES = 200 * 1024**2  # Streamlit's own upload limit; bigger exports go through a consultant
WHEN_INGESTED = N_(
    "at the program's next nightly run (02:00 Korea time), or sooner if your consultant runs it"
)


@dataclass
class UploadResult:
    delivered: bool
    name: str
    summary: str  # one sentence: what happened and what comes next
    rows: dict[str, int] = field(default_factory=dict)  # what the mapping would make of it, per entity
    problems: list[str] = field(default_factory=list)  # what to fix, in the client's own words (file, column)


def _safe_name(name: str) -> str:
    """The uploaded file's own name, without any folder a browser may send; refused when hidden or empty."""
    base = re.split(r"[\\/]", name)[-1].strip()
    if not base or base.startswith(".") or base in ("..",):
        raise IngestError(
            _("{name!r} is not a file name that can be delivered; rename the file.").format(name=name)
        )
    return base


def _plain(text: str, folder: Path, name: str) -> str:
    """A message with the scratch folder's path replaced by the file's own name."""
    return text.replace(str(folder / name), name).replace(str(folder), "").replace(str(folder.resolve()), "")


def deliver_upload(settings: Settings, config: ClientConfig, name: str, data: bytes) -> UploadResult:
    """Check ``data`` (a file called ``name``) against the client's mapping; deliver it to the landing
    folder if the mapping takes and reads it. ``delivered`` False says why in ``summary`` and ``problems``."""
    name = _safe_name(name)
    if len(data) > MAX_BYTES:
        return UploadResult(
            False,
            name,
            _("{name} is over {size} MB: ask your consultant.").format(name=name, size=MAX_BYTES // 1024**2),
        )
    takers = [s for s in config.sources if s.takes(name)]
    if not takers:
        agreed = ", ".join(sorted({s.files for s in config.sources}))
        return UploadResult(
            False,
            name,
            _(
                "{name} is not one of the exports agreed for your factory (files named like: {agreed}). "
                "Rename it if it is one of them, or ask your consultant to add it."
            ).format(name=name, agreed=agreed),
        )
    scratch_root = settings.client_dir(config.id) / ".uploads"
    scratch_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=scratch_root))
    try:
        path = folder / name
        path.write_bytes(data)
        report = check_client(settings, config, [path])
        problems = [_plain(s.error, folder, name) for s in report.sources if s.error and s.files]
        if report.compile_error:
            problems.append(_("Your factory's mapping does not fit this file: your consultant adjusts it."))
        for entity, rule, rows, delivered, share, _allowed in report.blocking:
            problems.append(
                _(
                    "{rows} of {delivered} rows of {entity} could not be read ({rule}, {share}): too many "
                    "for the quality checks."
                ).format(
                    rows=i18n.number(rows),
                    delivered=i18n.number(delivered),
                    entity=entity.replace("_", " "),
                    rule=rule,
                    share=i18n.percent(share, 0),
                )
            )
        # Only what this file feeds (the mapping's masters, such as sites, come from the mapping itself).
        fed = {entity for source in takers for entity in source.feeds}
        rows = {e.replace("_", " "): n for e, n in report.entity_rows.items() if n and e in fed}
        if problems or not rows:
            if not rows and not problems:
                problems.append(_("No row of it could be read as your factory's data."))
            return UploadResult(
                False, name, _("{name} was not delivered: see below.").format(name=name), rows, problems
            )
        try:
            with client_lock(settings, config.id):
                add_files(settings, config.id, [path])
        except ClientBusy:
            return UploadResult(
                False,
                name,
                _(
                    "{name} was checked, but your data is being processed now: send it again in a few "
                    "minutes."
                ).format(name=name),
                rows,
            )
        except IngestError as exc:
            return UploadResult(
                False,
                name,
                _("{name} was not delivered.").format(name=name),
                rows,
                [_plain(str(exc), folder, name)],
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return UploadResult(
        True,
        name,
        _("{name} is delivered and will be read {when}.").format(name=name, when=_(WHEN_INGESTED)),
        rows,
    )
