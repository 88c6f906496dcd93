"""The taxonomy and departments: shipped data, loading, inheritance and file validation."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hotline.storage.models import Category, CategoryKind, Department
from hotline.tickets.taxonomy import (
    DEFAULT_DEPARTMENTS_PATH,
    DEFAULT_TAXONOMY_PATH,
    CategoryDefaults,
    LoadReport,
    TaxonomyError,
    category_by_code,
    category_defaults,
    department_by_code,
    list_categories,
    load_departments,
    load_taxonomy,
    read_departments,
    read_taxonomy,
)
from hotline.worktime import TimeLimit

# What the shipped files hold (the reference's Beijing-Chaoyang table plus four assigned majors).
COMPONENT_MAJORS, COMPONENT_MINORS = 7, 100
EVENT_MAJORS, EVENT_MINORS = 7, 88
CATEGORIES = COMPONENT_MAJORS + COMPONENT_MINORS + EVENT_MAJORS + EVENT_MINORS
DEPARTMENTS = 30
ASSIGNED = {"1006": "其他设施", "1021": "扩展部件", "2006": "其他事件", "2021": "扩展事件"}


def shipped_taxonomy() -> dict[str, Any]:
    return json.loads(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))


def write_json(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def find_class(data: dict[str, Any], code: str) -> dict[str, Any]:
    for key in ("components", "events"):
        for major in data[key]:
            if major["code"] == code:
                return major
            for minor in major.get("subcategories", []):
                if minor["code"] == code:
                    return minor
    raise KeyError(code)


def snapshot(session) -> list[tuple[Any, ...]]:
    """Every stored taxonomy and department value, to compare before and after a load."""
    departments = {d.id: d.code for d in session.scalars(select(Department))}
    codes = {c.id: c.code for c in session.scalars(select(Category))}
    cats = [
        (c.id, c.code, c.kind, codes.get(c.parent_id), c.name_zh, c.name_en, departments.get(c.default_department_id), c.time_limit, c.urgent_time_limit, c.code_origin, c.note, c.active)
        for c in session.scalars(select(Category).order_by(Category.code))
    ]
    deps = [(d.id, d.code, d.name_zh, d.name_en, d.phone, d.active) for d in session.scalars(select(Department).order_by(Department.code))]
    return cats + deps


@pytest.fixture
def loaded(database):
    """The database with our default departments and taxonomy loaded."""
    with database.transaction() as session:
        load_departments(session)
        load_taxonomy(session)
    return database


# A small valid city table, mutated by the validation tests.
CITY_DEPARTMENTS = {"departments": [{"code": "SZ", "name_zh": "市政处", "name_en": "Municipal works"}, {"code": "HW", "name_zh": "环卫处"}]}
CITY_TAXONOMY = {
    "components": [
        {
            "code": "01",
            "name": "公用设施",
            "department": "SZ",
            "time_limit": "3 working_days",
            "urgent_time_limit": "24 hours",
            "subcategories": [
                {"code": "0101", "name": "上水井盖", "time_limit": "4 hours", "urgent_time_limit": "4 hours"},
                {"code": "0102", "name": "污水井盖"},
            ],
        }
    ],
    "events": [
        {
            "code": "E01",
            "name": "市容环境",
            "department": "HW",
            "time_limit": "1 工作日",
            "urgent_time_limit": "2wh",
            "subcategories": [{"code": "E0102", "name": "暴露垃圾", "time_limit": "4 个工作小时"}],
        }
    ],
}


# -- the shipped data ---------------------------------------------------------------------


def test_shipped_files_validate_and_reference_only_known_departments():
    """Our taxonomy names only departments of our departments file, and every major class has both limits."""
    departments = read_departments()
    assert len(departments) == DEPARTMENTS
    specs = read_taxonomy(department_codes={d.code for d in departments})
    majors = [s for s in specs if s.is_major]
    assert all(m.department_code and m.time_limit and m.urgent_time_limit for m in majors)
    assert {d.code for d in departments} == {s.department_code for s in specs if s.department_code}


def test_shipped_file_keeps_source_provenance_and_reference_blocks():
    """The source block is kept and the partial code lists are kept as not-loaded reference."""
    data = shipped_taxonomy()
    assert "No authoritative" in data["source"]["authoritative_status"]
    assert set(data["reference_not_loaded"]) == {"cross_check_events_wechat_app", "events_major_minor_codes_partial", "gb_t_47678_5_2026_partial"}
    assert "added_by_hotline" in data


def test_every_class_has_english_name_and_a_basis_for_its_own_limits():
    """Each class has name_en, and each class that sets a limit says whether it is published or our default."""
    data = shipped_taxonomy()
    for key in ("components", "events"):
        for major in data[key]:
            for cls in [major, *major["subcategories"]]:
                assert cls["name_en"].strip(), cls["code"]
                if "time_limit" in cls or "urgent_time_limit" in cls:
                    assert cls["time_limit_basis"].startswith(("published: ", "our default")), cls["code"]


def test_published_limits_are_used():
    """The limits published in local tables and the seeds are the ones the file sets."""
    data = shipped_taxonomy()
    expected = {
        "200102": "4 working_hours",  # 暴露垃圾
        "200104": "2 working_hours",  # 道路保洁 = 道路不洁
        "200101": "4 working_hours",  # 新增建筑 = 私搭乱建, stop work
        "200103": "4 working_days",  # 积存垃圾渣土
        "200105": "15 working_days",  # 河道保洁 = 水域不洁
        "200501": "4 working_days",  # 无照经营游商
        "1004": "5 working_days",  # 园林绿化: greenery maintenance
    }
    for code, limit in expected.items():
        cls = find_class(data, code)
        assert str(TimeLimit.parse(cls["time_limit"])) == limit, code
        assert cls["time_limit_basis"].startswith("published: "), code


# -- loading ------------------------------------------------------------------------------


def test_load_counts_match_the_file(database):
    """A first load creates every department and class of the shipped files, with the right kinds and levels."""
    with database.transaction() as session:
        assert load_departments(session) == LoadReport(created=DEPARTMENTS)
        assert load_taxonomy(session) == LoadReport(created=CATEGORIES)
    with database.transaction() as session:
        counts = {}
        for kind in CategoryKind:
            majors = session.scalar(select(func.count()).select_from(Category).where(Category.kind == kind, Category.parent_id.is_(None)))
            minors = session.scalar(select(func.count()).select_from(Category).where(Category.kind == kind, Category.parent_id.is_not(None)))
            counts[kind] = (majors, minors)
        assert counts == {CategoryKind.COMPONENT: (COMPONENT_MAJORS, COMPONENT_MINORS), CategoryKind.EVENT: (EVENT_MAJORS, EVENT_MINORS)}
        assert session.scalar(select(func.count()).select_from(Department)) == DEPARTMENTS
        minor = category_by_code(session, "100101")
        assert minor.name_zh == "上水井盖" and minor.parent.code == "1001" and minor.parent.name_zh == "公共设施"
        assert minor.default_department.code == "WATER"
        assert len(list_categories(session, kind=CategoryKind.EVENT, majors_only=True)) == EVENT_MAJORS


def test_loading_twice_changes_nothing(loaded):
    """A second load of the same files reports no change and leaves every row as it was."""
    with loaded.transaction() as session:
        before = snapshot(session)
    with loaded.transaction() as session:
        assert load_departments(session) == LoadReport()
        assert load_taxonomy(session) == LoadReport()
        assert not session.dirty
    with loaded.transaction() as session:
        assert snapshot(session) == before


def test_reload_after_edit_updates_in_place(loaded, tmp_path):
    """Editing names, a limit, a department and a parent in the file updates those rows and keeps their ids."""
    data = shipped_taxonomy()
    find_class(data, "200102")["name_en"] = "Uncollected rubbish"
    find_class(data, "200102")["time_limit"] = "1 工作日"  # another city's published limit
    find_class(data, "200502")["department"] = "ENFORCE"
    find_class(data, "1003")["urgent_time_limit"] = "2 hours"
    path = write_json(tmp_path, "taxonomy.json", data)
    with loaded.transaction() as session:
        ids = {c.code: c.id for c in session.scalars(select(Category))}
        assert load_taxonomy(session, path) == LoadReport(updated=3)
    with loaded.transaction() as session:
        garbage = category_by_code(session, "200102")
        assert garbage.id == ids["200102"]
        assert (garbage.name_en, garbage.time_limit) == ("Uncollected rubbish", "1 working_days")
        assert category_by_code(session, "200502").default_department.code == "ENFORCE"
        assert category_defaults(session, ids["100305"]).urgent_time_limit == "2 hours"


def test_class_removed_from_file_is_deactivated_not_deleted(loaded, tmp_path):
    """A class missing from the file is kept with active False, and comes back when the file has it again."""
    data = shipped_taxonomy()
    public = data["components"][0]
    public["subcategories"] = [s for s in public["subcategories"] if s["code"] != "100121"]
    data["events"] = [m for m in data["events"] if m["code"] != "2002"]  # a major and its 5 minors
    path = write_json(tmp_path, "taxonomy.json", data)
    with loaded.transaction() as session:
        assert load_taxonomy(session, path) == LoadReport(deactivated=1 + 1 + 5)
    with loaded.transaction() as session:
        assert category_by_code(session, "100121").active is False
        assert category_by_code(session, "2002").active is False
        assert category_by_code(session, "200201").active is False
        assert "100121" not in {c.code for c in list_categories(session)}
        assert "100121" in {c.code for c in list_categories(session, include_inactive=True)}
        assert session.scalar(select(func.count()).select_from(Category)) == CATEGORIES
    with loaded.transaction() as session:
        assert load_taxonomy(session) == LoadReport(updated=7)
        assert category_by_code(session, "100121").active is True


def test_city_can_load_its_own_tables(loaded, tmp_path):
    """A city's own files replace ours: its classes are created and ours deactivated."""
    deps = write_json(tmp_path, "departments.json", CITY_DEPARTMENTS)
    tax = write_json(tmp_path, "taxonomy.json", CITY_TAXONOMY)
    with loaded.transaction() as session:
        assert load_departments(session, deps) == LoadReport(created=2, deactivated=DEPARTMENTS)
        assert load_taxonomy(session, tax) == LoadReport(created=5, deactivated=CATEGORIES)
    with loaded.transaction() as session:
        assert [c.code for c in list_categories(session)] == ["01", "0101", "0102", "E01", "E0102"]
        assert department_by_code(session, "MUNI").active is False
        # Limits written in Chinese or short forms are stored canonical.
        assert category_by_code(session, "E01").time_limit == "1 working_days"
        assert category_by_code(session, "E01").urgent_time_limit == "2 working_hours"
        assert category_by_code(session, "E0102").time_limit == "4 working_hours"
        assert category_by_code(session, "0101").code_origin == "deployment"


def test_department_reload_updates_names_and_keeps_phone(loaded, tmp_path):
    """Reloading departments updates names, and a phone set in the database survives a file without one."""
    with loaded.transaction() as session:
        department_by_code(session, "GAS").phone = "96777"
    data = json.loads(DEFAULT_DEPARTMENTS_PATH.read_text(encoding="utf-8"))
    gas = next(d for d in data["departments"] if d["code"] == "GAS")
    gas["name_zh"] = "港华燃气"
    path = write_json(tmp_path, "departments.json", data)
    with loaded.transaction() as session:
        assert load_departments(session, path) == LoadReport(updated=1)
    with loaded.transaction() as session:
        gas = department_by_code(session, "GAS")
        assert (gas.name_zh, gas.phone, gas.active) == ("港华燃气", "96777", True)


# -- inheritance --------------------------------------------------------------------------


def test_every_manhole_cover_class_is_urgent_four_hours(loaded):
    """Each 井盖 class has 4 clock hours as its normal and urgent limit, whatever its major's default."""
    with loaded.transaction() as session:
        covers = [c for c in list_categories(session) if "井盖" in c.name_zh]
        assert len(covers) == 18
        for cover in covers:
            defaults = category_defaults(session, cover.id)
            assert (defaults.time_limit, defaults.urgent_time_limit) == ("4 hours", "4 hours"), cover.code
            assert defaults.department_id is not None


def test_minor_without_own_limits_inherits_its_major(loaded):
    """A minor that sets no limit gets its major's; one that sets only a normal limit still inherits the urgent one."""
    with loaded.transaction() as session:
        major = category_by_code(session, "2005")
        begging = category_by_code(session, "200502")  # own department, no own limits
        vendor = category_by_code(session, "200501")  # own normal limit only
        parking = category_by_code(session, "200506")  # nothing of its own
        assert begging.time_limit is None and begging.urgent_time_limit is None
        assert category_defaults(session, begging.id) == CategoryDefaults(department_id=department_by_code(session, "CIVIL").id, time_limit=major.time_limit, urgent_time_limit=major.urgent_time_limit)
        vendor_defaults = category_defaults(session, vendor.id)
        assert (vendor_defaults.time_limit, vendor_defaults.urgent_time_limit) == ("4 working_days", major.urgent_time_limit)
        assert vendor_defaults.limit_for(urgent=False) == "4 working_days"
        assert vendor_defaults.limit_for(urgent=True) == major.urgent_time_limit
        assert category_defaults(session, parking.id) == category_defaults(session, major.id)
        assert category_defaults(session, major.id).department_id == department_by_code(session, "ENFORCE").id


def test_category_defaults_of_unknown_id_raises(loaded):
    """Asking for the defaults of a class that does not exist is an error, not empty defaults."""
    with loaded.transaction() as session, pytest.raises(LookupError, match="999999"):
        category_defaults(session, 999999)


def test_assigned_codes_are_marked(loaded):
    """The four majors without a source code carry our assigned codes, marked and explained; all others are 'deployment'."""
    with loaded.transaction() as session:
        categories = list_categories(session)
        assigned = {c.code: c for c in categories if c.code_origin == "assigned"}
        assert {code: c.name_zh for code, c in assigned.items()} == ASSIGNED
        assert all(c.parent_id is None and "assigned" in c.note for c in assigned.values())
        assert {c.code_origin for c in categories if c.code not in ASSIGNED} == {"deployment"}


# -- validation ---------------------------------------------------------------------------


def _city(mutate) -> dict[str, Any]:
    data = copy.deepcopy(CITY_TAXONOMY)
    mutate(data)
    return data


def _minor(data: dict[str, Any]) -> dict[str, Any]:
    return data["components"][0]["subcategories"][0]


BAD_TAXONOMIES = {
    "missing name": (lambda d: _minor(d).pop("name"), ["0101", "missing key 'name'"]),
    "missing code": (lambda d: d["components"][0].pop("code"), ["公用设施", "missing key 'code'"]),
    "duplicate code": (lambda d: d["components"][0]["subcategories"][1].update(code="0101"), ["0101 污水井盖", "duplicate code", "0101 上水井盖"]),
    "minor outside its major": (lambda d: _minor(d).update(code="0201"), ["0201 上水井盖", "does not start with", "'01'"]),
    "unknown department": (lambda d: _minor(d).update(department="NOPE"), ["0101 上水井盖", "unknown department code 'NOPE'"]),
    "bad time limit": (lambda d: _minor(d).update(time_limit="4 days"), ["0101 上水井盖", "bad time_limit", "'4 days'"]),
    "bad urgent limit": (lambda d: _minor(d).update(urgent_time_limit=0), ["0101 上水井盖", "bad urgent_time_limit"]),
    "major without time limit": (lambda d: d["events"][0].pop("time_limit"), ["E01 市容环境", "missing key 'time_limit'"]),
    "major without urgent limit": (lambda d: d["components"][0].pop("urgent_time_limit"), ["01 公用设施", "missing key 'urgent_time_limit'"]),
    "major without department": (lambda d: d["components"][0].pop("department"), ["01 公用设施", "missing key 'department'"]),
    "misspelt key": (lambda d: _minor(d).update(time_limt="1 wd"), ["0101 上水井盖", "unknown key 'time_limt'"]),
    "assigned without a reason": (lambda d: d["events"][0].update(code_origin="assigned"), ["E01 市容环境", "needs a 'note'"]),
    "unknown code origin": (lambda d: _minor(d).update(code_origin="standard"), ["0101 上水井盖", "code_origin 'standard'"]),
    "three levels": (lambda d: _minor(d).update(subcategories=[]), ["0101 上水井盖", "cannot have subcategories"]),
    "code too long": (lambda d: _minor(d).update(code="01" + "9" * 20), ["上水井盖", "at most 16"]),
}


@pytest.mark.parametrize("case", sorted(BAD_TAXONOMIES))
def test_bad_taxonomy_is_refused_naming_file_and_class(loaded, tmp_path, case):
    """Each kind of mistake raises TaxonomyError naming the file, the class and the problem, and writes nothing."""
    mutate, expected = BAD_TAXONOMIES[case]
    deps = write_json(tmp_path, "departments.json", {"departments": CITY_DEPARTMENTS["departments"] + json.loads(DEFAULT_DEPARTMENTS_PATH.read_text(encoding="utf-8"))["departments"]})
    with loaded.transaction() as session:
        load_departments(session, deps)
        before = snapshot(session)
    path = write_json(tmp_path, "city-taxonomy.json", _city(mutate))
    with loaded.transaction() as session:
        with pytest.raises(TaxonomyError) as caught:
            load_taxonomy(session, path)
        assert not session.new and not session.dirty and not session.deleted
    message = str(caught.value)
    assert str(path) in message
    for part in expected:
        assert part in message, (part, message)
    with loaded.transaction() as session:
        assert snapshot(session) == before


def test_every_problem_of_a_file_is_reported_at_once(database, tmp_path):
    """A file with several mistakes lists them all, each naming its class, and nothing is written."""

    def mutate(d):
        _minor(d)["time_limit"] = "soon"
        d["events"][0]["subcategories"][0]["code"] = "X0102"

    with database.transaction() as session:
        load_departments(session, write_json(tmp_path, "departments.json", CITY_DEPARTMENTS))
    path = write_json(tmp_path, "taxonomy.json", _city(mutate))
    with database.transaction() as session, pytest.raises(TaxonomyError) as caught:
        load_taxonomy(session, path)
    assert len(caught.value.problems) == 2
    assert "0101 上水井盖" in caught.value.problems[0] and "X0102 暴露垃圾" in caught.value.problems[1]
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Category)) == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"components": [', "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"components": []}', "missing top-level key 'events'"),
        ('{"components": {}, "events": []}', "'components' must be a list"),
    ],
)
def test_malformed_taxonomy_file_is_refused(loaded, tmp_path, text, expected):
    """A file that is not JSON or lacks the class lists is refused with the file's name, and nothing changes."""
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    with loaded.transaction() as session:
        before = snapshot(session)
        with pytest.raises(TaxonomyError) as caught:
            load_taxonomy(session, path)
        assert not session.new and not session.dirty
    assert str(path) in str(caught.value) and expected in str(caught.value)
    with loaded.transaction() as session:
        assert snapshot(session) == before


def test_missing_file_is_refused(database, tmp_path):
    """A path that does not exist is a TaxonomyError naming it, not a bare OSError."""
    path = tmp_path / "nowhere.json"
    with database.transaction() as session, pytest.raises(TaxonomyError, match=r"nowhere\.json: cannot read"):
        load_departments(session, path)


def test_taxonomy_before_departments_is_refused(database):
    """Loading classes into a database without departments says to load departments first."""
    with database.transaction() as session:
        with pytest.raises(TaxonomyError, match="load a departments file first"):
            load_taxonomy(session)
        assert session.scalar(select(func.count()).select_from(Category)) == 0


@pytest.mark.parametrize(
    "departments, expected",
    [
        ([{"code": "SZ", "name_zh": "市政处"}, {"code": "SZ", "name_zh": "市政二处"}], ["SZ 市政二处", "duplicate code 'SZ'"]),
        ([{"code": "SZ"}], ["SZ", "missing key 'name_zh'"]),
        ([{"code": "S Z", "name_zh": "市政处"}], ["市政处", "must not contain spaces"]),
        ([{"code": "SZ", "name_zh": "市政处", "fax": "1"}], ["SZ 市政处", "unknown key 'fax'"]),
    ],
)
def test_bad_departments_file_is_refused(loaded, tmp_path, departments, expected):
    """A bad departments file names the file and the department, and leaves the stored departments as they were."""
    path = write_json(tmp_path, "departments.json", {"departments": departments})
    with loaded.transaction() as session:
        before = snapshot(session)
        with pytest.raises(TaxonomyError) as caught:
            load_departments(session, path)
        assert not session.new and not session.dirty
    assert str(path) in str(caught.value)
    for part in expected:
        assert part in str(caught.value)
    with loaded.transaction() as session:
        assert snapshot(session) == before
