"""Fast tier: AI solution recommendations (forgeline/program/recommendations.py) on made-up facts with a
known answer: the ready model with the largest exposure first, then the next level's steps, then the rest;
a champion is never recommended again; benefits are the client's own figures."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from forgeline.program import recommendations as rec

DELIVERED = frozenset(
    {"cycles", "cycle_parameters", "quality_results", "sensor_readings", "maintenance_events"}
)
BASE = rec.Facts(
    filled=DELIVERED,
    days=30,
    inspected=30_000,
    defects=1_500,  # 5 % of parts lost
    failures=10,
    operating_h=2_000,
    repair_h=40,  # 2 % of operating time in repairs
    energy_days=0,
    energy_kwh=0,
    co2_kg=0,
    good_units=28_500,
)
NO_MODELS = pd.DataFrame(columns=["model_name", "is_champion"])
EVIDENCE = pd.DataFrame(
    {
        "level": [1, 2, 2],
        "rule_id": ["counts_recorded", "collected_automatically", "collection_coverage"],
        "says": ["counts for 20 days", "automatic records for 20 days", "80 % of days covered"],
        "meaning": ["days with counts", "days with automatic records", "share of days"],
        "step": ["record counts daily", "connect the PLC cycle counter", "keep the logger running"],
        "passed": [True, False, True],
    }
)


def test_the_largest_measured_exposure_comes_first_then_the_next_levels_steps() -> None:
    found = rec.recommend(BASE, EVIDENCE, 2, NO_MODELS, [])
    assert found["solution"].tolist()[:4] == [
        "defect_prediction",  # 5 % of parts
        "failure_prediction",  # 2 % of operating time
        "sensor_anomalies",  # the same 2 %, after the failure model in catalogue order
        "collected_automatically",  # the next level's open rule
    ]
    assert found["rank"].tolist() == list(range(1, len(found) + 1))
    first = found.iloc[0]
    assert first["kind"] == rec.STANDARD_MODEL and first["ready"]
    assert "1,520 defective parts a month (5.0% of 30,400 inspected)" in first["benefit"]
    assert "does not run for this factory yet" in first["why"]
    step = found[found["kind"] == rec.LEVEL_STEP].iloc[0]
    assert step["title"] == "Connect the PLC cycle counter" and "level 2" in step["benefit"]
    assert "collection_coverage" not in found["solution"].tolist()  # a rule that holds is no gap


def test_a_bigger_downtime_than_defect_rate_puts_the_failure_model_first() -> None:
    found = rec.recommend(replace(BASE, repair_h=200), EVIDENCE, 2, NO_MODELS, [])  # 10 % in repairs
    assert found["solution"].tolist()[0] == "failure_prediction"
    assert "a failure every 200 operating hours, 20.0 h of repair each" in found.iloc[0]["benefit"]


def test_a_champion_is_not_recommended_and_missing_data_is_said_as_data_to_collect() -> None:
    champions = pd.DataFrame({"model_name": ["defect_prediction"], "is_champion": [True]})
    no_sensors = replace(BASE, filled=DELIVERED - {"sensor_readings"}, failures=0)
    found = rec.recommend(no_sensors, EVIDENCE, None, champions, [])
    assert "defect_prediction" not in found["solution"].tolist()
    failure = found[found["solution"] == "failure_prediction"].iloc[0]
    assert failure["kind"] == rec.DATA_TO_COLLECT and not failure["ready"]
    assert "maintenance log with failures" in failure["needs"]
    anomalies = found[found["solution"] == "sensor_anomalies"].iloc[0]
    assert not anomalies["ready"]  # the catalog's own rule: no sensor readings, no detector
    assert rec.LEVEL_STEP not in found["kind"].tolist()  # no next level given: no steps


def test_energy_benefit_is_the_clients_own_kwh_and_co2() -> None:
    metered = replace(
        BASE, filled=DELIVERED | {"energy_readings"}, energy_days=61, energy_kwh=610_000, co2_kg=280_000
    )
    found = rec.recommend(metered, EVIDENCE, 2, NO_MODELS, ["energy_baseline"])
    energy = found[found["solution"] == "energy_baseline"].iloc[0]
    assert energy["ready"] and "the mapping asks for it" in energy["why"]
    assert energy["benefit"] == "304,000 kWh and 139,541 kg CO2 a month; each 1 % saved is 3,040 kWh"


def test_the_reasons_are_stored_as_messages_and_worded_in_the_readers_language() -> None:
    from forgeline import i18n
    from forgeline.reports import words

    found = rec.recommend(BASE, EVIDENCE, 2, NO_MODELS, [])
    english = found.iloc[0]
    with i18n.use_language("en"):  # the stored English is what the messages say in English
        assert [words.stored_part(english, p) for p in words.RECOMMENDATION_PARTS] == [
            english["why"],
            english["needs"],
            english["benefit"],
        ]
    with i18n.use_language("ko"):
        worded = words.worded_recommendations(found)
        assert not words.speaks_english_only(found)
    first, step = worded.iloc[0], worded[found["kind"] == rec.LEVEL_STEP].iloc[0]
    assert first["benefit"] == "현재 불량률 기준 손실: 월 1,520개 불량 (월 검사 수량 30,400개 중 5.0%)"
    assert first["why"].startswith("데이터는 준비되었지만") and "사이클마다 공정 변수로" in first["why"]
    # A program's own rule (not shipped) keeps its words; the sentence around it is Korean.
    assert step["why"] == "수준 2의 요건: automatic records for 20 days"

    # A snapshot published before the wording: its English, as published.
    old = found.drop(columns="wording")
    with i18n.use_language("ko"):
        assert words.worded_recommendations(old)["benefit"].tolist() == found["benefit"].tolist()
        assert words.speaks_english_only(old)
