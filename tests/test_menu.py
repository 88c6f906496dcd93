"""The menu as data: both shipped menus load against a config that declares their queues,
and every kind of broken menu is refused with a MenuError naming the file, the node and
the problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline import config as configmod
from hotline.prompts import catalogue
from ivr.menu import (
    Caller,
    CallerTicketNode,
    HoursNode,
    LanguageNode,
    MenuError,
    MenuNode,
    QueueNode,
    TicketStatusNode,
    VoicemailNode,
    load_menu,
    parse_menu,
)

SKILLS = [{"name": n} for n in ("general", "emergency", "roads", "sanitation", "street_order")]
CONFIG = configmod.from_mapping({}, source="test.toml")

#: A small valid menu; each broken case below changes one thing in it.
BASE = """
[menu]
start = "welcome"
general = "operators"
overflow = "message"

[nodes.welcome]
type = "prompt"
prompts = ["welcome"]
next = "main"

[nodes.main]
type = "menu"
prompts = ["main_menu"]
options = { "1" = "status", "2" = "emergency", "0" = "operators" }
default = "operators"

[nodes.status]
type = "ticket_status"
next = "bye"

[nodes.bye]
type = "hangup"

[nodes.emergency]
type = "queue"
queue = "emergency"

[nodes.operators]
type = "queue"
queue = "general"

[nodes.message]
type = "voicemail"
"""


def broken(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def test_base_is_valid():
    """The starting point of the broken cases is itself a valid menu."""
    menu = parse_menu(BASE, CONFIG, source="base.toml")
    assert menu.start == "welcome" and menu.general == "operators"


def test_default_menu_loads_and_keeps_the_promise():
    """The shipped default menu: 1 status, 2 emergency, 0 operators, 9 English, a repeat
    caller branch, and every silent path ends in the general queue within 10 s."""
    menu = load_menu(CONFIG)
    assert menu.name == "default" and menu.source.endswith("ivr/menus/default.toml")
    main = menu.node("main")
    assert isinstance(main, MenuNode) and dict(main.options) == {"1": "status", "2": "emergency", "0": "operators", "9": "language"}
    assert main.invalid == "operators" and main.retries == 1 and main.transfer_prompt == "invalid_transfer"
    assert main.language_offer == "language_offer" and "language_offer" not in main.prompts
    assert isinstance(menu.node("hours"), HoursNode) and menu.start == "hours"
    assert isinstance(menu.node("check_caller"), CallerTicketNode)
    assert isinstance(menu.node("language"), LanguageNode)
    assert isinstance(menu.node("emergency"), QueueNode) and menu.node("emergency").queue == "emergency"
    assert isinstance(menu.node("status"), TicketStatusNode) and isinstance(menu.node("message"), VoicemailNode)
    paths = menu.silent_paths(catalogue())
    assert {p.end for p in paths} == {"operators"} and len(paths) == 2
    assert all(p.seconds <= 10 for p in paths)
    assert menu.queues_used() == {"general", "emergency"}
    assert menu.prompts_used() <= set(catalogue())


def test_skills_menu_loads_with_its_queues():
    """The skills example routes a category submenu to roads, sanitation and street_order."""
    config = configmod.from_mapping({"ivr": {"menu": "skills"}, "queues": SKILLS})
    menu = load_menu(config)
    categories = menu.node("categories")
    assert isinstance(categories, MenuNode)
    targets = {k: menu.node(v) for k, v in categories.options.items()}
    assert {k: getattr(n, "queue", n.name) for k, n in targets.items()} == {"1": "roads", "2": "sanitation", "3": "street_order", "*": "main", "0": "general"}
    assert categories.retries == 1
    assert all(p.seconds <= 10 and p.end == "operators" for p in menu.silent_paths(catalogue()))


def test_skills_menu_needs_its_queues_declared():
    """Without roads etc. in [[queues]] the skills menu is refused, naming the node."""
    config = configmod.from_mapping({"ivr": {"menu": "skills"}})
    with pytest.raises(MenuError) as caught:
        load_menu(config)
    assert caught.value.node == "roads" and "skills.toml" in str(caught.value)
    assert "not declared in the config's [[queues]]" in str(caught.value)


BROKEN = [
    # (what, old, new, node, message fragment)
    ("unknown type", 'type = "hangup"', 'type = "hang_up"', "bye", "unknown type 'hang_up'"),
    ("unknown key", 'next = "bye"', 'next = "bye"\nnxt = "bye"', "status", "unknown key 'nxt' for a ticket_status node"),
    ("missing target", '"1" = "status"', '"1" = "statuss"', "main", "option '1' goes to 'statuss', which is not a node"),
    ("missing next", 'next = "main"', 'next = "mian"', "welcome", "next goes to 'mian', which is not a node"),
    ("missing required key", 'options = { "1" = "status", "2" = "emergency", "0" = "operators" }\n', "", "main", "a menu node needs 'options'"),
    ("unknown queue", 'queue = "emergency"', 'queue = "roads"', "emergency", "queue 'roads' is not declared"),
    ("unknown prompt", 'prompts = ["welcome"]', 'prompts = ["welcom"]', "welcome", "unknown prompt 'welcom'"),
    ("unknown prompt in a list", 'prompts = ["main_menu"]', 'prompts = ["main_menu", "press_one"]', "main", "unknown prompt 'press_one'"),
    ("bad option key", '"0" = "operators" }', '"0" = "operators", "10" = "operators" }', "main", "option key '10' is not one phone key"),
    ("no options", 'options = { "1" = "status", "2" = "emergency", "0" = "operators" }', "options = {}", "main", "options must be a table"),
    ("bad lookup", 'type = "ticket_status"', 'type = "ticket_status"\nlookup = "guess"', "status", "lookup must be one of keyed, caller, last"),
    ("retries out of range", 'default = "operators"', 'default = "operators"\nretries = 9', "main", "retries must be a whole number from 0 to 3"),
    ("timeout out of range", 'default = "operators"', 'default = "operators"\ntimeout_seconds = 99', "main", "timeout_seconds must be a number from 0 to 30"),
    ("default path to a hangup", 'default = "operators"', 'default = "bye"', "bye", "a caller who presses nothing ends here"),
    ("default path to another queue", 'default = "operators"', 'default = "emergency"', "emergency", "not in the 'general' queue"),
    ("too slow for a silent caller", 'default = "operators"', 'default = "operators"\ntimeout_seconds = 8', "main", "over the menu's limit of 10 s"),
    (
        "cycle without exit",
        'default = "operators"',
        'default = "again"\n\n[nodes.again]\ntype = "menu"\nprompts = ["main_menu"]\noptions = { "0" = "operators" }\ndefault = "main"',
        "main",
        "is a loop a caller cannot leave without pressing a key",
    ),
    ("prompt cycle", 'next = "main"', 'next = "echo"\n\n[nodes.echo]\ntype = "prompt"\nprompts = ["welcome"]\nnext = "welcome"', "welcome", "cycle with no exit"),
    ("overflow back into itself", 'queue = "emergency"', 'queue = "emergency"\noverflow = "emergency"', "emergency", "is a loop"),
    ("unreachable node", "[nodes.message]", '[nodes.orphan]\ntype = "hangup"\n\n[nodes.message]', "orphan", "nothing leads here from the start node"),
    ("general is not the general queue", 'general = "operators"', 'general = "emergency"', "emergency", "[menu] general must be a queue node for the 'general' queue"),
    ("bad language", "[nodes.bye]", '[nodes.lang]\ntype = "language"\nlang = "fr"\nnext = "main"\n\n[nodes.bye]', "lang", "lang must be one of zh, en, toggle"),
    ("bad node name", "[nodes.bye]", '[nodes.Bye2]\ntype = "hangup"\n\n[nodes.bye]', "Bye2", "node names are lower-case"),
    ("voicemail too long", '[nodes.message]\ntype = "voicemail"', '[nodes.message]\ntype = "voicemail"\nmax_seconds = 3600', "message", "max_seconds must be a whole number from 10 to 600"),
    ("not interruptible as text", 'next = "main"', 'next = "main"\ninterruptible = "yes"', "welcome", "interruptible must be true or false"),
]


@pytest.mark.parametrize("what, old, new, node, fragment", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_menu_is_refused_naming_the_node(what, old, new, node, fragment):
    """Each kind of mistake raises MenuError with the file, the node and the problem."""
    with pytest.raises(MenuError) as caught:
        parse_menu(broken(old, new), CONFIG, source="city.toml")
    error = caught.value
    assert error.node == node, str(error)
    assert fragment in str(error)
    assert str(error).startswith(f"city.toml: node {node!r}: ")


def test_slow_path_message_lists_the_time_spent():
    """The too-slow error shows the estimate step by step, so the administrator sees what to cut."""
    with pytest.raises(MenuError) as caught:
        parse_menu(broken('default = "operators"', 'default = "operators"\ntimeout_seconds = 8'), CONFIG, source="city.toml")
    assert re.search(r"after about 1\d\.\d s in zh \(answer 0\.5 s, welcome 2\.5 s, main 1\d\.\d s\)", str(caught.value))


def test_queue_without_overflow_is_refused():
    """A queue node needs somewhere to send callers when it is closed or full."""
    text = broken('overflow = "message"\n', "").replace('[nodes.message]\ntype = "voicemail"\n', "")
    with pytest.raises(MenuError) as caught:
        parse_menu(text, CONFIG, source="city.toml")
    assert caught.value.node == "emergency" and "no overflow" in str(caught.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[menu\n", "not valid TOML"),
        ('[nodes.a]\ntype = "hangup"\n', "no [menu] table"),
        ('[menu]\nstart = "a"\ngeneral = "b"\n', "no [nodes.<name>] tables"),
        ('[menu]\nstart = "nowhere"\ngeneral = "operators"\n[nodes.operators]\ntype = "queue"\nqueue = "general"\noverflow = "operators"\n', "start 'nowhere' is not a node"),
        ('[menu]\nstart = "a"\ngeneral = "a"\nspeed = 2\n[nodes.a]\ntype = "hangup"\n', "[menu]: unknown key 'speed'"),
        ('[menu]\nstart = "a"\ngeneral = "a"\n[nodes.a]\ntype = "hangup"\n[extra]\nx = 1\n', "unknown table [extra]"),
        ('[menu]\nstart = "a"\ngeneral = "a"\nmax_seconds_to_queue = 30\n[nodes.a]\ntype = "hangup"\n', "max_seconds_to_queue must be a number from 1 to 15"),
    ],
)
def test_broken_file_is_refused_naming_the_file(text, fragment):
    """Problems of the file as a whole name the file and say what is wrong."""
    with pytest.raises(MenuError) as caught:
        parse_menu(text, CONFIG, source="city.toml")
    assert caught.value.node is None and str(caught.value).startswith("city.toml: ") and fragment in str(caught.value)


def test_unknown_prompt_checked_against_a_given_catalogue():
    """Validation uses the catalogue it is given (a city may ship more prompts)."""
    small = {k: v for k, v in catalogue().items() if k != "emergency_transfer"}
    with pytest.raises(MenuError) as caught:
        load_menu(CONFIG, small)
    assert caught.value.node == "emergency" and "emergency_transfer" in str(caught.value)


def test_menu_path_relative_to_the_config(tmp_path: Path):
    """ivr.menu may be a file path, relative to the config file's directory."""
    (tmp_path / "menus").mkdir()
    (tmp_path / "menus" / "city.toml").write_text(BASE, encoding="utf-8")
    config = configmod.from_mapping({"ivr": {"menu": "menus/city.toml"}}, source=str(tmp_path / "hotline.toml"), base_dir=tmp_path)
    assert load_menu(config).node("status").kind == "ticket_status"


def test_missing_menu_names_the_setting(tmp_path: Path):
    """An ivr.menu that is neither shipped nor a file is refused, naming ivr.menu."""
    config = configmod.from_mapping({"ivr": {"menu": "nonesuch"}}, source="hotline.toml", base_dir=tmp_path)
    with pytest.raises(MenuError) as caught:
        load_menu(config)
    assert "hotline.toml: ivr.menu: 'nonesuch' is neither a shipped menu (default, skills)" in str(caught.value)


def test_english_default_language_is_accepted():
    """service.language = "en" is a valid configuration: the default menu fits 10 s in
    English too (it was refused: the English prompts were too long)."""
    menu = load_menu(configmod.from_mapping({"service": {"language": "en"}}))
    assert all(p.seconds <= 10 for p in menu.silent_paths(catalogue(), "en"))


def test_menus_are_budgeted_in_both_languages():
    """Whatever the configuration's default, a menu whose English path is too slow is
    refused, naming the language (a number of its own may give callers English)."""
    slow = dict(catalogue())
    welcome = slow["welcome"]
    slow["welcome"] = type(welcome)(welcome.name, welcome.zh, welcome.en, welcome.seconds_zh, 9.0)
    with pytest.raises(MenuError) as caught:
        load_menu(CONFIG, slow)
    assert "s in en" in str(caught.value) and "over the menu's limit" in str(caught.value)


def test_known_language_skips_the_offer_on_the_path():
    """The language offer counts only for a caller whose language the dialplan did not tell."""
    menu = load_menu(CONFIG)
    offered = menu.silent_paths(catalogue(), caller=Caller(lang="zh", repeat=False))
    known = menu.silent_paths(catalogue(), caller=Caller(lang="zh", language_known=True, repeat=False))
    assert [p.nodes for p in offered] == [p.nodes for p in known] == [("hours", "welcome", "check_caller", "main", "operators")]
    assert offered[0].seconds - known[0].seconds == pytest.approx(catalogue()["language_offer"].seconds("zh"))


def test_after_hours_path_ends_at_the_message():
    """After hours the default menu says so first and takes a message: the silent path goes
    hours → closed → night_message, without the welcome or 人工服务请稍候."""
    menu = load_menu(CONFIG)
    paths = menu.silent_paths(catalogue(), caller=Caller(lang="zh", open=False))
    assert [p.nodes for p in paths] == [("hours", "closed", "night_message")]
    assert paths[0].seconds <= 10


@pytest.mark.parametrize(
    "old, new, node, fragment",
    [
        (
            '[nodes.welcome]\ntype = "prompt"',
            '[nodes.welcome]\ntype = "hours"\nqueue = "nightly"\nopen = "main"\nclosed = "message"\n[nodes.unused]\ntype = "prompt"',
            "welcome",
            "queue 'nightly' is not declared",
        ),
        ('default = "operators"', 'default = "operators"\ntransfer_prompt = "no_such"', "main", "transfer_prompt: unknown prompt 'no_such'"),
        ('default = "operators"', 'default = "operators"\nlanguage_offer = "no_such"', "main", "language_offer: unknown prompt 'no_such'"),
        ('[nodes.message]\ntype = "voicemail"', '[nodes.message]\ntype = "voicemail"\nmin_seconds = 20', "message", "min_seconds must be a number from 0 to 10"),
    ],
)
def test_new_keys_are_checked(old, new, node, fragment):
    """hours, transfer_prompt, language_offer and min_seconds are validated like the rest."""
    with pytest.raises(MenuError) as caught:
        parse_menu(broken(old, new), CONFIG, source="city.toml")
    assert caught.value.node == node and fragment in str(caught.value)
