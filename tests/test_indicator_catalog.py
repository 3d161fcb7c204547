"""The indicator catalogue: packaged content, validation errors, user files and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ptsm_diag.catalog import Indicator, load_indicator_catalog, load_vocabularies
from ptsm_diag.catalog.indicator_catalog import DIRECTIONS, KINDS
from ptsm_diag.errors import CatalogError

MINIMAL = {
    "id": "mon_indicateur",
    "label": "Mon indicateur",
    "axis": 1,
    "priority": 1,
    "category": "activité",
    "numerator": "Patients",
    "denominator": "Population",
    "unit": "pour 100 000 habitants",
    "scale": 100000,
    "kind": "rate",
    "direction": "higher_is_better",
    "sources": ["RIM-P"],
    "in_rosace": True,
}


def _write(tmp_path: Path, entries: list[dict], name: str = "cat.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"indicators": entries}, allow_unicode=True),
                    encoding="utf-8")
    return path


def test_packaged_catalogue_has_the_twenty_rosace_indicators_on_five_axes():
    catalog = load_indicator_catalog()
    rosace = [ind for ind in catalog.values() if ind.in_rosace]
    per_axis = {axis: sum(ind.axis == axis for ind in rosace) for axis in range(1, 6)}
    assert per_axis == {1: 5, 2: 3, 3: 5, 4: 2, 5: 5}
    assert set(load_vocabularies().rosace_axes) == {ind.axis for ind in rosace}
    assert all(ind.direction in DIRECTIONS for ind in rosace)
    assert all(isinstance(ind, Indicator) for ind in catalog.values())


def test_catalogue_is_ordered_by_axis_then_declaration():
    axes = [ind.axis for ind in load_indicator_catalog().values()]
    with_axis = [a for a in axes if a is not None]
    assert with_axis == sorted(with_axis)
    assert axes[: len(with_axis)] == with_axis  # indicators without axis come last
    assert list(load_indicator_catalog())[:2] == ["recours_ambulatoire", "densite_cmp"]


def test_every_priority_has_impact_indicators_with_their_seed_targets():
    catalog = load_indicator_catalog()
    impact = [ind for ind in catalog.values() if ind.category == "impact"]
    assert {ind.priority for ind in impact} == {1, 2, 3, 4, 5, 6}
    assert catalog["rehospit_15j"].target.type == "relative"
    assert catalog["rehospit_15j"].target.factor == 0.5
    assert catalog["urgences_sans_suivi"].target.value == 10
    assert catalog["delai_mdph"].target.value == 60  # « 2 mois au maximum »
    assert catalog["densite_soins_domicile"].target.factor == 2


def test_every_indicator_has_usable_demo_magnitudes():
    for ind in load_indicator_catalog().values():
        assert ind.kind in KINDS
        assert ind.demo is not None, ind.id
        assert ind.demo.spread > 0, ind.id
        assert ind.demo.min <= ind.demo.typical <= ind.demo.max, ind.id
        needs_size = ind.kind == "proportion" and ind.population is None
        assert not needs_size or ind.demo.denominator_per_100000, ind.id
    catalog = load_indicator_catalog()
    assert catalog["recours_ambulatoire"].demo.typical == 3100
    assert catalog["delai_premier_rdv_cmp"].demo.typical == 21


def test_user_file_replaces_the_packaged_catalogue(tmp_path):
    catalog = load_indicator_catalog(_write(tmp_path, [MINIMAL]))
    assert list(catalog) == ["mon_indicateur"]
    ind = catalog["mon_indicateur"]
    assert ind.short_label == "Mon indicateur"  # defaults to the label
    assert ind.secrecy is True and ind.age_breakdown is False


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"direction": "higher_is_nicer"}, "direction"),
        ({"axis": 7}, "axis"),
        ({"priority": 9}, "priority"),
        ({"category": "budget"}, "category"),
        ({"kind": "median"}, "kind"),
        ({"scale": 10}, "scale"),
        ({"population": "30-39"}, "population"),
        ({"unit": None}, "unit"),
        ({"dirction": "neutral"}, "dirction"),
        ({"target": {"text": "moitié", "type": "relative"}}, "target"),
        ({"axis": None}, "axis"),  # a rosace indicator needs an axis
    ],
)
def test_invalid_entry_names_file_entry_and_field(tmp_path, change, field_name):
    entry = {**MINIMAL, **change}
    entry = {k: v for k, v in entry.items() if not (k == "unit" and v is None)}
    path = _write(tmp_path, [entry])
    with pytest.raises(CatalogError) as caught:
        load_indicator_catalog(path)
    error = caught.value
    assert error.entry == "mon_indicateur"
    assert error.field_name == field_name
    assert str(path) in str(error) and "mon_indicateur" in str(error)


def test_duplicate_id_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="double") as caught:
        load_indicator_catalog(_write(tmp_path, [MINIMAL, MINIMAL]))
    assert caught.value.field_name == "id"


def test_entry_without_id_is_named_by_position(tmp_path):
    entry = {k: v for k, v in MINIMAL.items() if k != "id"}
    with pytest.raises(CatalogError) as caught:
        load_indicator_catalog(_write(tmp_path, [MINIMAL | {"id": "a"}, entry]))
    assert caught.value.entry == "n° 2"
    assert caught.value.field_name == "id"


def test_overrides_change_direction_label_and_rosace_membership():
    catalog = load_indicator_catalog(overrides={
        "recours_ambulatoire": {"direction": "neutral", "label": "Recours (ambulatoire)"},
        "gestes_auto_infliges": {"in_rosace": False},
    })
    assert catalog["recours_ambulatoire"].direction == "neutral"
    assert catalog["recours_ambulatoire"].label == "Recours (ambulatoire)"
    assert sum(ind.in_rosace for ind in catalog.values()) == 19
    # the packaged catalogue is untouched
    assert load_indicator_catalog()["recours_ambulatoire"].direction == "higher_is_better"


def test_overrides_from_a_yaml_file(tmp_path):
    path = tmp_path / "surcharges.yaml"
    path.write_text("indicators:\n  densite_cmp:\n    direction: neutral\n", encoding="utf-8")
    assert load_indicator_catalog(overrides=path)["densite_cmp"].direction == "neutral"


def test_invalid_overrides_are_errors(tmp_path):
    with pytest.raises(CatalogError) as caught:
        load_indicator_catalog(overrides={"inconnu": {"direction": "neutral"}})
    assert caught.value.entry == "inconnu"
    with pytest.raises(CatalogError) as caught:
        load_indicator_catalog(overrides={"densite_cmp": {"direction": "bof"}})
    assert (caught.value.entry, caught.value.field_name) == ("densite_cmp", "direction")
    with pytest.raises(CatalogError) as caught:
        load_indicator_catalog(overrides={"densite_cmp": {"couleur": "rouge"}})
    assert caught.value.field_name == "couleur"
