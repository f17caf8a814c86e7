"""The stack's own tools, for consultants: the MLflow UI, dbt docs and Great Expectations' Data Docs.

``forgeline serve-tools`` serves, on this machine only (127.0.0.1 unless told otherwise):

- the MLflow UI on the program's tracking store and model registry (``mlflow ui``: every client's
  experiments, runs, registered models and their champion aliases);
- one docs site (:func:`build_site`, served by Python's own HTTP server) with, per client, the dbt docs of
  the project as built for it (``dbt docs generate``: models, columns, tests, lineage, the catalog of its
  warehouse) and its Data Docs (the quality gate's expectations and results, offline:
  :mod:`forgeline.quality.offline_docs`).

The tools have no login of their own and show every client's data, so they are for consultants only: the
app links them on a consultants' page, and they bind to localhost (reach them through an SSH tunnel;
docs/security.md).  The docs site is made of links into the clients'
folders, rebuilt at each start (a purged client leaves nothing in it).
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from forgeline.clients import list_clients
from forgeline.settings import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ToolUrls:
    mlflow: str
    docs: str

    def dbt_docs(self, client_id: str) -> str:
        return f"{self.docs}/dbt/{client_id}/index.html"

    def data_docs(self, client_id: str) -> str:
        return f"{self.docs}/data-docs/{client_id}/index.html"


def urls(settings: Settings) -> ToolUrls:
    host, ports = settings.tools_host, settings.tools_ports
    return ToolUrls(mlflow=f"http://{host}:{ports['mlflow']}", docs=f"http://{host}:{ports['docs']}")


def answers(url: str, timeout_s: float = 1.0) -> bool:
    """Whether a tool answers at ``url`` (the app shows which are up)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except OSError:
        return False


def build_site(settings: Settings, generate_dbt_docs: bool = True, progress: Progress = print) -> Path:
    """The docs site: an index, and per client links to its dbt docs and Data Docs. Returns its folder.

    ``dbt docs generate`` runs for each client whose warehouse is free (a client being run keeps last
    time's docs, or none); a client with neither docs is listed as such.
    """
    from forgeline.locking import ClientBusy, client_lock
    from forgeline.standardize import StandardizeError, generate_docs

    site = settings.tools_site_dir
    shutil.rmtree(site, ignore_errors=True)  # links only: the docs themselves stay in the clients' folders
    (site / "dbt").mkdir(parents=True)
    (site / "data-docs").mkdir()
    rows = []
    for config in list_clients(settings):
        dbt_target = settings.dbt_target_dir(config.id)
        if generate_dbt_docs and settings.warehouse_path(config.id).exists():
            progress(f"dbt docs generate for {config.id}…")
            try:
                with client_lock(settings, config.id):  # a run of the client never meets it in its warehouse
                    generate_docs(settings, config)
            except (ClientBusy, StandardizeError) as error:
                progress(f"  {config.id}: dbt docs not regenerated ({str(error).splitlines()[0]})")
        has_dbt = (dbt_target / "index.html").exists() and (dbt_target / "catalog.json").exists()
        data_docs = settings.data_docs_site(config.id)
        has_quality = (data_docs / "index.html").exists()
        if has_dbt:
            (site / "dbt" / config.id).symlink_to(dbt_target, target_is_directory=True)
        if has_quality:
            (site / "data-docs" / config.id).symlink_to(data_docs, target_is_directory=True)
        rows.append((config.id, config.name, has_dbt, has_quality))
    (site / "index.html").write_text(_index(rows), encoding="utf-8")
    return site


def forget(settings: Settings, client_id: str) -> None:
    """After a purge: the docs site, if it was ever built, is rebuilt without the client (links only)."""
    if settings.tools_site_dir.exists():
        build_site(settings, generate_dbt_docs=False, progress=lambda _: None)


def _index(rows: list[tuple[str, str, bool, bool]]) -> str:
    def link(ok: bool, href: str, text: str) -> str:
        return f'<a href="{href}">{text}</a>' if ok else "<span>not built yet</span>"

    body = "".join(
        f"<tr><td>{html.escape(name)}</td><td><code>{client_id}</code></td>"
        f"<td>{link(dbt, f'dbt/{client_id}/index.html', 'dbt docs')}</td>"
        f"<td>{link(quality, f'data-docs/{client_id}/index.html', 'Data Docs')}</td></tr>"
        for client_id, name, dbt, quality in rows
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Forgeline docs</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em 1em;text-align:left}</style>"
        "</head><body><h1>Forgeline: the stack's docs</h1>"
        "<p>dbt docs: the standard schema's models as built for each client. Data Docs: the quality "
        "gate's expectations and results.</p>"
        f"<table><tr><th>Client</th><th>id</th><th>dbt</th><th>Quality</th></tr>{body}</table></body></html>"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


def docs_server(site: Path, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server of the docs site (dbt docs load their manifest by fetch: a file:// page cannot)."""
    return ThreadingHTTPServer((host, port), functools.partial(_QuietHandler, directory=str(site)))


def mlflow_ui_command(settings: Settings) -> list[str]:
    return [
        str(Path(sys.executable).with_name("mlflow")),
        "ui",
        "--backend-store-uri",
        settings.mlflow_tracking_uri,
        "--default-artifact-root",
        settings.mlflow_artifact_root.as_uri(),
        "--host",
        settings.tools_host,
        "--port",
        str(settings.tools_ports["mlflow"]),
    ]


class Tools:
    """The running tools: start, then stop (also as a context manager)."""

    def __init__(self, settings: Settings, generate_dbt_docs: bool = True, progress: Progress = print):
        self.settings, self.generate_dbt_docs, self.progress = settings, generate_dbt_docs, progress
        self.mlflow: subprocess.Popen[bytes] | None = None
        self.server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Tools:
        site = build_site(self.settings, self.generate_dbt_docs, self.progress)
        # The docs server first: a port in use fails here, before any child process is started.
        self.server = docs_server(site, self.settings.tools_host, self.settings.tools_ports["docs"])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        with open(self.settings.tools_dir / "mlflow-ui.log", "ab") as log:
            # Its own process group: `mlflow ui` starts a server with workers, all stopped together.
            self.mlflow = subprocess.Popen(
                mlflow_ui_command(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def __exit__(self, *_: object) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.mlflow is not None and self.mlflow.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.mlflow.pid, signal.SIGTERM)
            try:
                self.mlflow.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.mlflow.pid, signal.SIGKILL)
                self.mlflow.wait()
