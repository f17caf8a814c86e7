"""The mapping's JSON Schema (editor completion) and the generated parts of its reference page."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from forgeline.clients import parse_client_config
from forgeline.mapping.entities import ENTITIES
from forgeline.mapping.schema import (
    DOC_PATH,
    SCHEMA_PATH,
    entity_reference_markdown,
    generated_sections,
    mapping_json_schema,
    replace_section,
    section,
)

GOOD_MAPPING = """\
# 한결정공: 생산일보 (Excel) and a PLC log (CSV, CP949).
id: hangyeol-precision
name: 한결정공 (Hangyeol Precision)
industry: injection molding
region: 경기
timezone: Asia/Seoul
country: KR
models: [defect_prediction]
logins:
  - {username: hangyeol, display_name: 한결정공}
masters:
  sites:
    - {site_id: HG-PYEONGTAEK, site_name: 평택공장, region: 경기}
  equipment:
    - {machine_id: IM-01, machine_name: 사출기 1호기, site_id: HG-PYEONGTAEK, rated_power_kw: 55}
  products:
    - {product_id: "8412", product_name: 커버, ideal_cycle_time_s: 42.5, parts_per_cycle: 2}
  shifts:
    - {shift: 주간, starts: "08:00", ends: "20:00", weekdays: mon-sat, break_s: 3600}
    - {shift: 야간, starts: "20:00", ends: "08:00", weekdays: mon-sat}
  non_working_days:
    - {day: "2025-10-06", description: 추석}
sources:
  - name: daily_report
    files: "생산일보_*.xlsx"
    format: excel
    sheet: 생산실적
    header_row: 3
    required_columns: [일자, 근무조, 설비, 품번, 생산수량, 불량수량]
    expected_every: 1 day
    feeds:
      production_counts:
        fields:
          machine_id: 설비
          product_id: 품번
          production_date: {column: 일자, format: "%Y.%m.%d"}
          shift: 근무조
          planned_time_s: {column: 계획시간(분), unit: 분}
          total_count: 생산수량
          reject_count: 불량수량
          good_count: {expr: "생산수량 - 불량수량"}
          defect_code:
            column: 불량유형
            map: {미성형: SHORT_SHOT, 버: FLASH, 기타: null}
            default: UNSPECIFIED
          defect_text: 불량유형
        dedup: [machine_id, product_id, production_date, shift]
      downtime_events:
        where: "비가동시간 > 0"
        fields:
          machine_id: 설비
          production_date: {column: 일자, format: "%Y.%m.%d"}
          duration_s: {column: 비가동시간, unit: 분}
          reason_code:
            column: 비가동사유
            map: {설비고장: BREAKDOWN, 금형교체: CHANGEOVER}
            default: UNSPECIFIED
          reason_text: 비가동사유
  - name: plc
    files: "plc/*.csv"
    encoding: cp949
    decimal: ","
    skip_rows: 1
    feeds:
      cycles:
        fields:
          cycle_id: 샷번호
          machine_id: {value: IM-01}
          started_at: {column: 일시, format: "%Y-%m-%d %H:%M:%S", timezone: Asia/Seoul}
          cycle_time_s: {column: 사이클타임, unit: s}
        tags:
          금형온도(℃): {tag: mold_temp, unit: ℃, semantics: 금형 온도}
          사출압력: bar
          비고: {null_values: ["-"], map: {정상: 0, 이상: 1}}
      machine_states:
        fields:
          machine_id: {value: IM-01}
          state: {column: 상태, map: {가동: running, 정지: down}, default: offline}
          started_at: 일시
        sample_period: 1 min
  - name: counter
    files: "counter/*.txt"
    format: tsv
    header_row: 0
    columns: [seq, count]
    feeds:
      cycles:
        fields:
          started_at: {from_order: {order: row, cadence: 6 s, start: "2025-03-04 08:00:00"}}
        tags: [count]
"""


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return mapping_json_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC_PATH.read_text(encoding="utf-8")


def _errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]


def test_good_mapping_passes_the_schema_and_the_models(validator: Draft202012Validator) -> None:
    assert _errors(validator, yaml.safe_load(GOOD_MAPPING)) == []
    config = parse_client_config(GOOD_MAPPING)
    assert config.name == "한결정공 (Hangyeol Precision)"
    assert config.source("plc").feeds["cycles"].tags["사출압력"].unit == "bar"


def test_feeds_offer_the_entities_and_each_entity_its_own_fields(schema: dict[str, Any]) -> None:
    feeds = schema["$defs"]["SourceSpec"]["properties"]["feeds"]
    assert feeds["propertyNames"]["enum"] == list(ENTITIES)
    for name, entity in ENTITIES.items():
        fields = schema["$defs"][feeds["properties"][name]["$ref"].rsplit("/", 1)[1]]["properties"]["fields"]
        assert list(fields["properties"]) == entity.field_names
        assert fields["additionalProperties"] is False
        assert fields.get("required", []) == [f.name for f in entity.fields if f.required]
        for field in entity.fields:
            description = fields["properties"][field.name]["description"]
            assert field.type in description
            if field.kind:
                assert field.kind in description


def test_code_field_maps_offer_the_taxonomy_codes(validator: Draft202012Validator) -> None:
    data = yaml.safe_load(GOOD_MAPPING)
    reason = data["sources"][0]["feeds"]["downtime_events"]["fields"]["reason_code"]
    reason["map"]["점심"] = "LUNCH"  # not a stop reason code
    assert any("LUNCH" in e for e in _errors(validator, data))


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda d: d["sources"][1]["feeds"].update(cycle={"fields": {}}), id="unknown entity"),
        pytest.param(
            lambda d: d["sources"][1]["feeds"]["cycles"]["fields"].update(temperature="온도"),
            id="unknown field",
        ),
        pytest.param(
            lambda d: d["sources"][1]["feeds"]["cycles"]["fields"].update(reason_code="사유"),
            id="another entity's field",
        ),
        pytest.param(
            lambda d: d["sources"][1]["feeds"]["cycles"]["fields"].pop("started_at"), id="required field"
        ),
        pytest.param(
            lambda d: d["masters"]["equipment"][0].update(machine_nmae="x"), id="unknown master field"
        ),
        pytest.param(lambda d: d["masters"].update(machines=[]), id="unknown master"),
        pytest.param(lambda d: d["sources"][0].update(format="xlsx"), id="unknown format"),
    ],
)
def test_schema_refuses_unknown_names(validator: Draft202012Validator, break_it: Any) -> None:
    data = yaml.safe_load(GOOD_MAPPING)
    break_it(data)
    assert _errors(validator, data)


def test_committed_schema_file_is_the_generated_one(schema: dict[str, Any]) -> None:
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert json.loads(text) == schema, "regenerate: python -m forgeline.mapping.schema"
    assert text.endswith("}\n") and not text.endswith("\n\n")


def test_doc_entity_reference_is_the_generated_one(doc: str) -> None:
    assert section(doc, "entity-reference") == entity_reference_markdown().strip(), (
        "regenerate: python -m forgeline.mapping.schema"
    )


@pytest.mark.parametrize("name", ["taxonomies", "units", "allowed-expressions"])
def test_doc_other_generated_sections_are_current(doc: str, name: str) -> None:
    assert section(doc, name) == generated_sections()[name].strip(), (
        "regenerate: python -m forgeline.mapping.schema"
    )


def test_doc_example_mapping_is_valid(doc: str, validator: Draft202012Validator) -> None:
    block = re.search(
        r"<!-- example:start -->\s*```yaml\n(.*?)```\s*<!-- example:end -->", doc, flags=re.DOTALL
    )
    assert block, "docs/mapping.md lost its complete example"
    text = block.group(1)
    assert _errors(validator, yaml.safe_load(text)) == []
    config = parse_client_config(text)
    assert {s.format for s in config.sources} >= {"excel", "csv"}


def test_replace_section_keeps_everything_else() -> None:
    text = "intro\n<!-- x:start -->\nold\n<!-- x:end -->\noutro\n"
    new = replace_section(text, "x", "new | $1 \\1")
    assert section(new, "x") == "new | $1 \\1"
    assert new.startswith("intro\n") and new.endswith("outro\n")
    with pytest.raises(ValueError):
        section(text, "y")


def test_schema_generation_does_not_touch_the_models(schema: dict[str, Any]) -> None:
    from forgeline.mapping.spec import ClientConfig

    before = copy.deepcopy(ClientConfig.model_json_schema())
    mapping_json_schema()
    assert ClientConfig.model_json_schema() == before
    assert "FeedSpec" in before["$defs"]
