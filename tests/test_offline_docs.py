"""Great Expectations' Data Docs open offline: every CDN file is served from the site's own copy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forgeline.quality import offline_docs
from forgeline.settings import VENDOR_DIR

PAGE = """<html><head>{links}</head><body>
<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261125T1&dataContextId=x">
<a href="https://docs.greatexpectations.io/docs/">a plain link stays</a>
{scripts}</body></html>"""


def _page_with_every_asset() -> str:
    links = "".join(
        f'<link rel="stylesheet" href="{url}" integrity="sha384-x" crossorigin="anonymous"/>'
        for url in offline_docs.ASSETS
        if url.endswith(".css")
    )
    scripts = "".join(
        f'<script src="{url}" integrity="sha384-x" crossorigin="anonymous"></script>'
        for url in offline_docs.ASSETS
        if not url.endswith(".css")
    )
    return PAGE.format(links=links, scripts=scripts)


def test_every_asset_is_vendored_by_make_env() -> None:
    assert offline_docs.missing() == [], "run `make env` (it fetches the Data Docs' assets)"
    for package, path in offline_docs.ASSETS.values():
        assert (VENDOR_DIR / package.folder / path).stat().st_size > 100, (package.name, path)
    assert any((VENDOR_DIR / offline_docs.FONT_AWESOME.folder / "webfonts").glob("*.woff2"))


def test_localize_points_each_cdn_file_at_the_sites_copy(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "validations" / "deep").mkdir(parents=True)
    pages = [site / "index.html", site / "validations" / "deep" / "run.html"]
    for page in pages:
        page.write_text(_page_with_every_asset(), encoding="utf-8")
    assert offline_docs.localize(site) == []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert offline_docs.external_assets(html) == []
        assert "integrity=" not in html and "crossorigin=" not in html
        assert "https://docs.greatexpectations.io/docs/" in html  # links are not assets
        for local in _local_references(html):
            assert (page.parent / local).resolve().is_file(), (page, local)
    assert offline_docs.localize(site) == []  # again: nothing changes, nothing breaks


def test_without_the_assets_pages_keep_their_links_and_the_urls_are_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(_page_with_every_asset(), encoding="utf-8")
    left = offline_docs.localize(site, vendor=tmp_path / "no-vendor")
    assert set(offline_docs.ASSETS) <= set(left)
    assert (site / "index.html").read_text(encoding="utf-8") == _page_with_every_asset()


def _local_references(html: str) -> list[str]:
    import re

    return re.findall(r'(?:src|href)="((?:\.\./)*static/[^"]+)"', html)


@pytest.mark.browser
def test_a_real_data_docs_site_renders_with_no_network(tmp_path: Path, chromium_launch: dict) -> None:
    """GX builds a real site; with every request off this machine refused, its tables and styles work."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from playwright.sync_api import sync_playwright

    context = gx.get_context(mode="file", project_root_dir=str(tmp_path / "gx"))
    batch = (
        context.data_sources.add_pandas("frames")
        .add_dataframe_asset("presses")
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="presses"))
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="press"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="tonnage", min_value=0, max_value=500))
    definition = gx.ValidationDefinition(name="v", data=batch, suite=suite)
    frame = pd.DataFrame({"press": ["P1", "P2"], "tonnage": [80, 900]})
    context.validation_definitions.add(definition).run(batch_parameters={"dataframe": frame})
    context.build_data_docs()
    site = Path(context.root_directory) / "uncommitted" / "data_docs" / "local_site"
    assert offline_docs.localize(site) == []

    outside: list[str] = []
    failed: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        page = browser.new_page()

        def refuse_the_internet(route) -> None:  # an air-gapped server: only the site's own files
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", refuse_the_internet)
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto((site / "index.html").as_uri())
        page.wait_for_selector(".bootstrap-table", timeout=15_000)  # jQuery + bootstrap-table ran
        navbar_height = page.evaluate("document.querySelector('nav').getBoundingClientRect().height")
        icon_font = page.evaluate(
            "getComputedStyle(document.querySelector('.fas, .fa, .fa-solid') || document.body).fontFamily"
        )
        validation = next(site.glob("validations/**/*.html"))
        page.goto(validation.as_uri())
        page.wait_for_load_state("load")
        vega_loaded = page.evaluate("typeof vegaEmbed === 'function'")
        browser.close()
    assert outside == [] and failed == [], (outside, failed)
    assert navbar_height > 20  # Bootstrap's navbar styles applied
    assert "Font Awesome" in icon_font
    assert vega_loaded
