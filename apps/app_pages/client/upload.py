"""Send new data: the client uploads a new export; it is checked against the factory's mapping at once, and
delivered to its landing folder for the next run only if the mapping takes and reads it."""

from __future__ import annotations

import streamlit as st

from apps import data, ui
from forgeline.i18n import _

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header(_("Send new data"), config)

st.caption(
    _(
        "Send a new export in the format agreed for your factory (the same kind of file you delivered "
        "before). It is checked at once; a file that passes is read at the program's next run, and a file "
        "with the name of an earlier delivery replaces it."
    )
)
sent = st.file_uploader(_("Export"), key=f"upload_{config.id}", accept_multiple_files=False)
if sent is not None and st.button(_("Check and send"), icon=":material/upload:", key="upload_send"):
    with st.spinner(_("Checking {file}…").format(file=sent.name)):
        result = data.upload_export(user, config.id, sent.name, sent.getvalue())
    (st.success if result.delivered else st.warning)(result.summary)
    if result.rows:
        st.markdown(
            _("What your factory's mapping reads in its first {n} rows at most:").format(n=ui.number(20_000))
            + "\n"
            + "\n".join(
                "- " + _("{what}: {n} rows").format(what=entity, n=ui.number(rows))
                for entity, rows in result.rows.items()
            )
        )
    for problem in result.problems:
        st.markdown(f"- {problem}")
