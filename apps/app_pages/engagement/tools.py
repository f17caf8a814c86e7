"""Stack tools: the MLflow UI, dbt docs and Data Docs, for consultants (forgeline/tools.py serves them).

They show every client's data and have no login of their own, so only consultants get this page (the app
registers it for them, and the page refuses anyone else).
"""

from __future__ import annotations

import streamlit as st

from apps import ui
from forgeline import tools
from forgeline.auth import visible_clients
from forgeline.clients import list_clients
from forgeline.i18n import _
from forgeline.settings import get_settings

user = ui.require_user()
if not user.is_consultant:
    st.error(_("The stack's tools are for consultants."))
    st.stop()

settings = get_settings()
where = tools.urls(settings)
st.title(_("Stack tools"))
st.caption(
    _(
        "The program's own tools: every model run and the registry in MLflow, the standard schema as dbt "
        "built it for each client, and the quality gate's Data Docs. Start them on the server with "
        "`forgeline serve-tools`; they listen on {host} (this machine), so open them here on the server or "
        "through your tunnel or proxy."
    ).format(host=settings.tools_host)
)

up = {"mlflow": tools.answers(where.mlflow + "/health"), "docs": tools.answers(where.docs + "/")}
left, right = st.columns(2)
with left:
    st.subheader(_("MLflow UI"))
    st.write(_("Experiments, runs with their metrics and inputs, registered models and their champions."))
    if up["mlflow"]:
        st.link_button(_("Open MLflow"), where.mlflow, icon=":material/open_in_new:")
    else:
        st.info(_("Not running: start `forgeline serve-tools` on the server."))
with right:
    st.subheader(_("Docs"))
    st.write(_("dbt docs (models, columns, tests, lineage) and Data Docs (expectations and results)."))
    if up["docs"]:
        st.link_button(_("Open the docs index"), where.docs + "/", icon=":material/open_in_new:")
    else:
        st.info(_("Not running: start `forgeline serve-tools` on the server."))

if up["docs"]:
    site = settings.tools_site_dir
    rows = [
        {
            "client": client_id,
            "dbt docs": where.dbt_docs(client_id) if (site / "dbt" / client_id).exists() else None,
            "Data Docs": where.data_docs(client_id) if (site / "data-docs" / client_id).exists() else None,
        }
        for client_id in visible_clients(user, (config.id for config in list_clients(settings)))
    ]
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "client": _("Client"),
            "dbt docs": st.column_config.LinkColumn(display_text=_("open")),
            "Data Docs": st.column_config.LinkColumn(display_text=_("open")),
        },
    )
