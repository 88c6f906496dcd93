"""The rendered Asterisk files, read back with a parser of this module's own (not the one
the renderer checks itself with): queues, contexts, FastAGI flows and failover, the AMI
user, seats and trunk, secrets and file modes, and free text that tries to break out."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from asterisk_conf import check as checkmod
from asterisk_conf import commands
from asterisk_conf import render as rendermod
from asterisk_conf.secrets import SecretsError
from hotline import config as configmod
from hotline import dialplan

PROMPTS = set(rendermod.DIALPLAN_PROMPTS)
AMI_SECRET = "Ami-Secret-0123456789"
TRUNK_SECRET = "trunk-pw-77"
SEAT_SECRETS = {"8001": "Seat-8001-Password", "8002": "Seat-8002-Password", "8003": "Seat-8003-Password"}

FULL = """
[ami]
enabled = true
[asterisk]
agi_hosts = ["10.0.0.11:4573", "10.0.0.12:4573"]
sip_bind = "10.0.0.5"
trunk_host = "sip.carrier.example.cn:5060"
trunk_username = "053212319"
secrets_file = "secrets.toml"
[fastagi]
bind = "10.0.0.11"
[[queues]]
name = "general"
[[queues]]
name = "emergency"
label_zh = "抢险抢修"
label_en = "Emergency repairs"
strategy = "ringall"
weight = 10
max_wait_seconds = 0
[[queues]]
name = "complaints"
label_zh = "投诉"
label_en = "Complaints"
announce_position = false
[[seats]]
extension = "8001"
name = "坐席1"
queues = ["general", "emergency"]
[[seats]]
extension = "8002"
name = "坐席2"
queues = ["general", "complaints"]
[[seats]]
extension = "8003"
name = "班长"
queues = ["emergency"]
"""


# -- a small reader of Asterisk config files, independent of asterisk_conf.check


@dataclass
class Section:
    name: str
    additive: bool
    options: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        values = self.all(key)
        return values[-1] if values else None

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.options if k == key]


def read_conf(text: str) -> list[Section]:
    """Sections and their `key = value` / `key => value` lines; every other line must be
    a comment or blank, or the file is not what Asterisk would read."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.split(r"(?<!\\);", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([^\]]+)\](\(\+\))?", line)
        if header:
            sections.append(Section(header.group(1), bool(header.group(2))))
            continue
        option = re.fullmatch(r"([\w.-]+)\s*=>?\s*(.*)", line)
        assert option and sections, f"line {number} is neither a section nor an option: {raw!r}"
        sections[-1].options.append((option.group(1), option.group(2).strip()))
    return sections


@dataclass(frozen=True)
class Step:
    context: str
    exten: str
    priority: int
    label: str
    app: str
    args: str


def read_dialplan(text: str) -> dict[str, dict[str, list[Step]]]:
    """context → extension → numbered steps (hints left out)."""
    plan: dict[str, dict[str, list[Step]]] = {}
    for section in read_conf(text):
        assert section.name not in plan, f"context {section.name} twice"
        extens = plan[section.name] = {}
        exten = ""
        for key, value in section.options:
            if key == "exten":
                exten, value = value.split(",", 1)
            else:
                assert key == "same", f"{key} in a dialplan context"
            match = re.fullmatch(r"(\d+|n|hint)(?:\((\w+)\))?,(\w+)\((.*)\)|hint,(.*)", value)
            assert match, f"bad dialplan line {value!r}"
            if value.startswith("hint,"):
                continue
            steps = extens.setdefault(exten, [])
            priority = len(steps) + 1
            assert match.group(1) in ("n", str(priority)), f"{exten}@{section.name}: priority {match.group(1)}, expected {priority}"
            steps.append(Step(section.name, exten, priority, match.group(2) or "", match.group(3), match.group(4)))
    return plan


def top_split(args: str, sep: str = ",") -> list[str]:
    out, depth, current = [], 0, ""
    for ch in args:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == sep and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    return [*out, current]


def all_steps(plan: dict[str, dict[str, list[Step]]]) -> list[Step]:
    return [s for extens in plan.values() for steps in extens.values() for s in steps]


def resolve(plan: dict[str, dict[str, list[Step]]], step: Step, target: str) -> tuple[str, str, str]:
    """[[context,]exten,]priority, relative to the step's own context and extension."""
    parts = top_split(target)
    context, exten, priority = [step.context, step.exten][: 3 - len(parts)] + parts
    return context, exten, priority


def target_exists(plan: dict[str, dict[str, list[Step]]], context: str, exten: str, priority: str) -> bool:
    if context not in plan:
        return False
    if "${" in exten:
        return "i" in plan[context]  # a computed extension lands on the invalid handler if unknown
    if exten not in plan[context]:
        return False
    steps = plan[context][exten]
    return 1 <= int(priority) <= len(steps) if priority.isdigit() else priority in {s.label for s in steps}


def agi_urls(plan: dict[str, dict[str, list[Step]]]) -> list[tuple[Step, str, str]]:
    """(step, host:port, flow) of every AGI(agi://host:port/flow?…)."""
    out = []
    for step in all_steps(plan):
        if step.app == "AGI":
            match = re.fullmatch(r"agi://(.+?)/(\w+)(\?.*)?", top_split(step.args)[0])
            assert match, step.args
            out.append((step, match.group(1), match.group(2)))
    return out


# -- fixtures


def make_config(tmp_path: Path, text: str = FULL, seats: dict[str, str] | None = None, trunk: str | None = TRUNK_SECRET, env: dict[str, str] | None = None) -> tuple[configmod.Config, dict[str, str]]:
    environ = {"HOTLINE_AMI_PASSWORD": AMI_SECRET} if env is None else env
    lines = [f'trunk_password = "{trunk}"'] if trunk else []
    lines.append("[seats]")
    lines += [f'"{ext}" = "{pw}"' for ext, pw in (SEAT_SECRETS if seats is None else seats).items()]
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    secrets.chmod(0o600)
    (tmp_path / "hotline.toml").write_text(text, encoding="utf-8")
    return configmod.load(tmp_path / "hotline.toml", environ=environ), environ


def rendered(tmp_path: Path, text: str = FULL, **kw: object) -> dict[str, str]:
    config, environ = make_config(tmp_path, text, **kw)  # type: ignore[arg-type]
    result = rendermod.render(config, prompts=PROMPTS, environ=environ)
    return {f.name: f.text for f in result.files}


@pytest.fixture
def full(tmp_path: Path) -> dict[str, str]:
    return rendered(tmp_path)


# -- tests


def test_defaults_render_without_secrets_and_parse_back():
    """With no config at all the four files render, parse, hold no secret and define no AMI
    user; rendering again gives the same bytes."""
    result = rendermod.render(configmod.from_mapping({}, environ={}), prompts=PROMPTS, environ={})
    again = rendermod.render(configmod.from_mapping({}, environ={}), prompts=PROMPTS, environ={})
    assert [f.text for f in result.files] == [f.text for f in again.files]
    assert [f.name for f in result.files] == list(rendermod.FILES)
    for f in result.files:
        read_conf(f.text)
        assert not f.has_secrets and f.mode == 0o644
    assert read_conf(result.file("hotline-manager.conf").text) == []
    queues = [s.name for s in read_conf(result.file("hotline-queues.conf").text)]
    assert queues == ["hotline-general", "hotline-emergency"]
    assert "ami.enabled is false: hotline-manager.conf defines no AMI user" in result.warnings


def test_queues_conf_declares_exactly_the_configured_queues(tmp_path, full):
    """Every queue of queues.conf is a configured skill and every skill has its queue, with
    the configured strategy, ring time, wrap-up, weight, limit and announcements."""
    config, _ = make_config(tmp_path)
    sections = {s.name: s for s in read_conf(full["hotline-queues.conf"])}
    assert set(sections) == {f"hotline-{q.name}" for q in config.queues}
    assert "general" not in sections  # queues.conf keeps [general] for itself
    for q in config.queues:
        s = sections[rendermod.asterisk_queue(q.name)]
        assert (s.get("strategy"), s.get("timeout"), s.get("wrapuptime"), s.get("weight"), s.get("maxlen")) == (
            q.strategy,
            str(q.ring_seconds),
            str(q.wrapup_seconds),
            str(q.weight),
            str(q.max_callers),
        )
        assert s.get("announce-position") == ("yes" if q.announce_position else "no")
        assert s.get("context") == dialplan.CONTEXT_QUEUE_EXIT and s.get("setqueuevar") == "yes"
    assert sections["hotline-emergency"].get("weight") == "10"
    assert sections["hotline-complaints"].get("announce-frequency") == "0"


def test_queue_members_are_the_seats_serving_each_skill(tmp_path, full):
    """A seat is a member of exactly the queues it declares, as its PJSIP endpoint."""
    sections = {s.name: s for s in read_conf(full["hotline-queues.conf"])}
    members = {name: sorted(m.split(",")[0] for m in s.all("member")) for name, s in sections.items()}
    assert members == {
        "hotline-general": ["PJSIP/8001", "PJSIP/8002"],
        "hotline-emergency": ["PJSIP/8001", "PJSIP/8003"],
        "hotline-complaints": ["PJSIP/8002"],
    }


def test_every_goto_gosub_and_queue_target_exists(full):
    """Goto/GotoIf targets (context, extension, priority or label), Queue() queues, their
    data as hotline.dialplan.queue_application_data() makes it, and the gosub context exist."""
    plan = read_dialplan(full["hotline-extensions.conf"])
    queues = {s.name for s in read_conf(full["hotline-queues.conf"])}
    checked = 0
    for step in all_steps(plan):
        targets: list[str] = []
        if step.app == "Goto":
            targets = [step.args]
        elif step.app == "GotoIf":
            targets = [t for t in top_split(top_split(step.args, "?")[1], ":") if t]
        elif step.app == "Queue":
            fields = top_split(step.args)
            assert fields[0] in queues, step
            assert step.args == dialplan.queue_application_data(dialplan.skill_of(fields[0]) or "", int(fields[4] or 0))
            assert "s" in plan[fields[6]], f"gosub {fields[6]} has no s extension"
            checked += 1
        for target in targets:
            assert target_exists(plan, *resolve(plan, step, target)), f"{step.app}({target}) in {step.exten}@{step.context}"
            checked += 1
    assert checked > 10


def test_dialplan_and_fastagi_flows_agree_both_ways(full):
    """Every AGI() names a flow of hotline.dialplan.FLOWS, and every flow is called."""
    flows = [flow for _, _, flow in agi_urls(read_dialplan(full["hotline-extensions.conf"]))]
    assert set(flows) == set(dialplan.FLOWS)


def test_failover_tries_agi_hosts_in_order_then_the_general_queue(tmp_path):
    """Each chain tries asterisk.agi_hosts in the configured order, moves on only on
    AGISTATUS=FAILURE, and the inbound chain ends in the fallback context."""
    text = FULL.replace('["10.0.0.11:4573", "10.0.0.12:4573"]', '["10.0.0.12:4573", "[::1]:4574", "10.0.0.11:4573"]')
    plan = read_dialplan(rendered(tmp_path, text)["hotline-extensions.conf"])
    chains: dict[tuple[str, str], list[str]] = {}
    for step, host, flow in agi_urls(plan):
        chains.setdefault((step.context, flow), []).append(host)
        after = plan[step.context][step.exten][step.priority]
        assert after.app == "GotoIf" and '"${AGISTATUS}" != "FAILURE"' in after.args and after.args.endswith("?done")
    assert chains == {
        (dialplan.CONTEXT_INBOUND, dialplan.FLOW_IVR): ["10.0.0.12:4573", "[::1]:4574", "10.0.0.11:4573"],
        (dialplan.CONTEXT_QUEUE_EXIT, dialplan.FLOW_QUEUE_CALLBACK): ["10.0.0.12:4573", "[::1]:4574", "10.0.0.11:4573"],
    }
    inbound = plan[dialplan.CONTEXT_INBOUND]["12319"]
    last_agi = max(s.priority for s in inbound if s.app == "AGI")
    assert inbound[last_agi + 1].app == "Goto" and inbound[last_agi + 1].args == f"{dialplan.CONTEXT_FALLBACK},s,1"
    fallback = plan[dialplan.CONTEXT_FALLBACK]["s"]
    assert fallback[-1].args == f"{rendermod.CONTEXT_QUEUES},{dialplan.GENERAL_QUEUE},1"
    queue = next(s for s in plan[rendermod.CONTEXT_QUEUES][dialplan.GENERAL_QUEUE] if s.app == "Queue")
    assert queue.args.startswith("hotline-general,")


def test_ivr_is_told_the_channel_state_and_a_known_language(tmp_path, full):
    """The inbound chain answers, then passes state=${CHANNEL(state)} (the IVR sends no ANSWER
    of its own on an Up channel) and lang=${HOTLINE_LANGUAGE}, empty on the main number (the
    configured default, with the language offer) and "en" on asterisk.english_number, a
    second number whose callers hear English from the first word."""
    text = FULL.replace("[asterisk]\n", '[asterisk]\nenglish_number = "12320"\n', 1)
    plan = read_dialplan(rendered(tmp_path, text)["hotline-extensions.conf"])
    inbound = plan[dialplan.CONTEXT_INBOUND]
    main = inbound["12319"]
    agi = [s for s in main if s.app == "AGI"]
    assert agi and all(s.args.endswith("&state=${CHANNEL(state)}&lang=${HOTLINE_LANGUAGE}") for s in agi)
    assert max(s.priority for s in main if s.app == "Answer") < min(s.priority for s in agi)
    language = [s for s in main if "CHANNEL(language)" in s.args]
    assert [s.args for s in language] == ["CHANNEL(language)=zh", '$["${HOTLINE_LANGUAGE}" != ""]?Set(CHANNEL(language)=${HOTLINE_LANGUAGE})']
    english = inbound["12320"]
    assert [(s.app, s.args) for s in english] == [("Set", "HOTLINE_LANGUAGE=en"), ("Goto", "12319,1")]
    assert "12320" not in read_dialplan(full["hotline-extensions.conf"])[dialplan.CONTEXT_INBOUND]


def test_queue_callback_key_leads_to_the_callback_flow(full):
    """queues.conf `context` has the callback key, which runs the queue_callback flow for the
    skill (QUEUENAME without our prefix, else HOTLINE_QUEUE, else general) and goes back to
    that queue if no node answers."""
    plan = read_dialplan(full["hotline-extensions.conf"])
    steps = plan[dialplan.CONTEXT_QUEUE_EXIT][dialplan.QUEUE_CALLBACK_KEY]
    n = len(rendermod.QUEUE_PREFIX)
    assert steps[1].args == f'$["${{QUEUENAME:0:{n}}}" = "{rendermod.QUEUE_PREFIX}"]?Set(HOTLINE_QUEUE=${{QUEUENAME:{n}}})'
    assert steps[2].args == '$["${HOTLINE_QUEUE}" = ""]?Set(HOTLINE_QUEUE=general)'
    agi = [s for s in steps if s.app == "AGI"]
    assert len(agi) == 2 and all("queue=${HOTLINE_QUEUE}&" in s.args for s in agi)
    assert [s.app for s in steps[-3:]] == ["Playback", "Goto", "Hangup"] and steps[-1].label == "done"
    assert steps[-2].args == f"{rendermod.CONTEXT_QUEUES},${{HOTLINE_QUEUE}},1"
    for skill, queue_steps in plan[rendermod.CONTEXT_QUEUES].items():
        if skill != "i":
            assert f"HOTLINE_QUEUE={skill}" in [s.args for s in queue_steps]


def test_recording_is_named_after_the_callers_uniqueid(full):
    """The inbound context marks the caller's uniqueid for inheritance before the IVR runs;
    the agent-side gosub records to exactly hotline.dialplan.recording_path() of it."""
    plan = read_dialplan(full["hotline-extensions.conf"])
    inbound = plan[dialplan.CONTEXT_INBOUND]["12319"]
    mark = next(s for s in inbound if s.app == "Set" and s.args.startswith("__" + rendermod.VAR_CALLER_UNIQUEID))
    assert mark.args.endswith("=${UNIQUEID}") and mark.priority < min(s.priority for s in inbound if s.app == "AGI")
    gosub = plan[dialplan.CONTEXT_AGENT_ANSWERED]["s"]
    mixmonitor = next(s for s in gosub if s.app == "MixMonitor")
    path, options = top_split(mixmonitor.args)
    assert "b" in options and gosub[-1].app == "Return"
    assert path.replace("${HOTLINE_RECORDING_ID}", "1700000000.42") == dialplan.recording_path("/var/spool/asterisk/monitor/hotline", "1700000000.42")
    assert f"${{{rendermod.VAR_CALLER_UNIQUEID}}}" in gosub[1].args and "${CHANNEL(linkedid)}" in gosub[1].args


def test_prompts_played_are_exactly_the_checked_list(full):
    """The dialplan plays only <sounds_dir>/<language>/<prompt>, and those are DIALPLAN_PROMPTS."""
    plan = read_dialplan(full["hotline-extensions.conf"])
    played = {s.args for s in all_steps(plan) if s.app in ("Playback", "Background")}
    assert played == {f"/var/lib/asterisk/sounds/hotline/zh/{p}" for p in rendermod.DIALPLAN_PROMPTS}
    assert all(s.get("periodic-announce") is None for s in read_conf(full["hotline-queues.conf"]))


def test_queues_announce_the_callback_key_only_with_its_prompt(tmp_path):
    """With queue_callback_offer in the catalogue every queue announces it periodically;
    without it none does, and the render says so."""
    config, environ = make_config(tmp_path, FULL.replace("[ami]\n", '[service]\nlanguage = "en"\n[ami]\n'))
    result = rendermod.render(config, prompts=PROMPTS | {rendermod.PROMPT_CALLBACK_OFFER}, environ=environ)
    queues = read_conf(result.file("hotline-queues.conf").text)
    assert {s.get("periodic-announce") for s in queues} == {"/var/lib/asterisk/sounds/hotline/en/queue_callback_offer"}
    assert not any("queue_callback_offer" in w for w in result.warnings)
    without = rendermod.render(config, prompts=PROMPTS, environ=environ)
    assert any("no 'queue_callback_offer'" in w for w in without.warnings)


def test_seats_reach_each_other_and_nothing_else(full):
    """The seats context dials only seat endpoints; the outbound context only the trunk,
    and only national numbers."""
    plan = read_dialplan(full["hotline-extensions.conf"])
    seats = plan[dialplan.CONTEXT_SEATS]
    assert set(seats) == {"8001", "8002", "8003"}
    for exten, steps in seats.items():
        assert [s.app for s in steps] == ["Dial", "Hangup"] and steps[0].args == f"PJSIP/{exten},30"
    outbound = plan[dialplan.CONTEXT_OUTBOUND]
    assert set(outbound) == set(rendermod.OUTBOUND_PATTERNS)
    for steps in outbound.values():
        assert steps[0].args == "CALLERID(num)=12319" and steps[1].args == "PJSIP/${EXTEN}@hotline-trunk,60"


def test_seat_endpoints_have_auth_and_aor(full):
    """Each seat is an endpoint in the seats context with its auth (username = extension)
    and an aor; every name an endpoint refers to is defined with the right type."""
    sections = read_conf(full["hotline-pjsip.conf"])
    by_type: dict[str, dict[str, Section]] = {}
    for s in sections:
        by_type.setdefault(s.get("type") or "", {})[s.name] = s
    for ext in ("8001", "8002", "8003"):
        endpoint = by_type["endpoint"][ext]
        assert endpoint.get("context") == dialplan.CONTEXT_SEATS and endpoint.get("transport") == rendermod.TRANSPORT
        auth = by_type["auth"][endpoint.get("auth") or ""]
        assert auth.get("username") == ext and auth.get("password") == SEAT_SECRETS[ext]
        assert by_type["aor"][endpoint.get("aors") or ""].get("max_contacts") == "1"
    trunk = by_type["endpoint"]["hotline-trunk"]
    assert trunk.get("context") == dialplan.CONTEXT_INBOUND
    assert by_type["auth"][trunk.get("outbound_auth") or ""].get("password") == TRUNK_SECRET
    assert by_type["identify"]["hotline-trunk-identify"].get("match") == "sip.carrier.example.cn"
    assert by_type["registration"]["hotline-trunk-registration"].get("contact_user") == "12319"
    assert by_type["transport"][rendermod.TRANSPORT].get("bind") == "10.0.0.5:5060"


def test_ip_authenticated_trunk_needs_no_password(tmp_path):
    """A trunk without a user name is matched by address: no auth, no registration, no
    secret needed, and without seats the pjsip file holds none."""
    config, environ = make_config(tmp_path, '[asterisk]\ntrunk_host = "[2001:db8::7]:5060"\n', env={})
    pjsip = rendermod.render(config, prompts=PROMPTS, environ=environ).file("hotline-pjsip.conf")
    types = {(s.name, s.get("type")) for s in read_conf(pjsip.text)}
    assert types == {(rendermod.TRANSPORT, "transport"), ("hotline-trunk", "endpoint"), ("hotline-trunk", "aor"), ("hotline-trunk-identify", "identify")}
    identify = next(s for s in read_conf(pjsip.text) if s.get("type") == "identify")
    assert identify.get("match") == "2001:db8::7" and not pjsip.has_secrets and pjsip.mode == 0o644


def test_secrets_file_readable_by_everyone_is_a_warning(tmp_path):
    """A world-readable secrets file, or a password for a seat nobody declared, is said."""
    config, environ = make_config(tmp_path, seats={**SEAT_SECRETS, "8009": "Seat-8009-Password"})
    (tmp_path / "secrets.toml").chmod(0o644)
    warnings = rendermod.render(config, prompts=PROMPTS, environ=environ).warnings
    assert any("is readable by every user (mode 0644)" in w for w in warnings)
    assert any('seats."8009" is not a declared seat' in w for w in warnings)


def test_manager_binds_loopback_by_default_and_permits_only_the_service(tmp_path):
    """With AMI enabled and nothing else said, the AMI listens on 127.0.0.1 and its one user
    may log in from the service's address only, with the minimal classes."""
    config, environ = make_config(tmp_path, "[ami]\nenabled = true\n")
    manager = rendermod.render(config, prompts=PROMPTS, environ=environ).file("hotline-manager.conf")
    sections = read_conf(manager.text)
    general, user = sections
    assert general.name == "general" and general.additive
    assert (general.get("enabled"), general.get("bindaddr"), general.get("port")) == ("yes", "127.0.0.1", "5038")
    assert user.name == "hotline" and user.get("secret") == AMI_SECRET
    assert user.all("deny") == ["0.0.0.0/0.0.0.0", "::/0"] and user.all("permit") == ["127.0.0.1/255.255.255.255"]
    assert [k for k, _ in user.options].index("permit") > [k for k, _ in user.options].index("deny")  # last match wins
    assert user.get("read") == "call,agent" and user.get("write") == "call,agent,reporting"  # originate only with desk.listen_in
    assert manager.has_secrets and manager.mode == 0o640


def test_manager_permits_every_node_and_warns_when_the_ami_is_unreachable(tmp_path):
    """Remote nodes in agi_hosts are permitted; a loopback-bound AMI they cannot reach is a warning."""
    config, environ = make_config(tmp_path)
    result = rendermod.render(config, prompts=PROMPTS, environ=environ)
    user = read_conf(result.file("hotline-manager.conf").text)[1]
    assert user.all("permit") == ["10.0.0.11/255.255.255.255", "10.0.0.12/255.255.255.255"]
    assert any("cannot reach the AMI" in w for w in result.warnings)
    config, environ = make_config(tmp_path, FULL.replace("[ami]\n", '[ami]\nhost = "10.0.0.5"\n'))
    result = rendermod.render(config, prompts=PROMPTS, environ=environ)
    assert read_conf(result.file("hotline-manager.conf").text)[0].get("bindaddr") == "10.0.0.5"
    assert not any("cannot reach the AMI" in w for w in result.warnings)


@pytest.mark.parametrize(
    "seats, trunk, env, named",
    [
        ({"8001": SEAT_SECRETS["8001"], "8003": SEAT_SECRETS["8003"]}, TRUNK_SECRET, None, ['seat 8002 password (seats."8002" in']),
        (SEAT_SECRETS, None, None, ["trunk password (HOTLINE_TRUNK_PASSWORD, or trunk_password in"]),
        ({}, None, None, ["seat 8001", "seat 8002", "seat 8003", "trunk password"]),
    ],
)
def test_missing_secrets_fail_naming_each(tmp_path, seats, trunk, env, named):
    """Rendering without a needed secret fails with one message naming every missing one."""
    config, environ = make_config(tmp_path, seats=seats, trunk=trunk, env=env)
    with pytest.raises(SecretsError) as caught:
        rendermod.render(config, prompts=PROMPTS, environ=environ)
    message = str(caught.value)
    assert message.startswith("missing secrets: ") and "\n" not in message
    assert all(n in message for n in named), message
    assert not any(pw in message for pw in (*SEAT_SECRETS.values(), TRUNK_SECRET, AMI_SECRET))


def test_trunk_password_from_the_environment_and_no_secrets_file(tmp_path):
    """HOTLINE_TRUNK_PASSWORD wins over the file; seats without a secrets_file name the key to set."""
    config, environ = make_config(tmp_path, env={"HOTLINE_AMI_PASSWORD": AMI_SECRET, "HOTLINE_TRUNK_PASSWORD": "from-env-pw"})
    pjsip = rendermod.render(config, prompts=PROMPTS, environ=environ).file("hotline-pjsip.conf").text
    assert "password = from-env-pw" in pjsip and TRUNK_SECRET not in pjsip
    config, environ = make_config(tmp_path, FULL.replace('secrets_file = "secrets.toml"\n', ""))
    with pytest.raises(SecretsError, match=r"seat 8001 password \(seats.\"8001\" in the file named by asterisk.secrets_file \(not set\)\)"):
        rendermod.render(config, prompts=PROMPTS, environ=environ)


def test_ami_password_written_in_the_config_file_is_refused(tmp_path):
    """An AMI password in hotline.toml itself is refused: secrets never go in that file."""
    config, environ = make_config(tmp_path, FULL.replace("[ami]\n", '[ami]\npassword = "Plain-Text-Password-1"\n'), env={})
    with pytest.raises(SecretsError, match="ami.password is written in .*hotline.toml; .*HOTLINE_AMI_PASSWORD or ami.password_file"):
        rendermod.render(config, prompts=PROMPTS, environ=environ)


@pytest.mark.parametrize("password, reason", [("short-pw", "at least 12"), ("has;semicolon-x", "without spaces, ';'"), ("has space in it", "without spaces")])
def test_unusable_seat_passwords_are_refused_without_echoing_them(tmp_path, password, reason):
    """A seat password that is short or could break its line is refused, and not printed."""
    config, environ = make_config(tmp_path, seats={**SEAT_SECRETS, "8002": password})
    with pytest.raises(SecretsError) as caught:
        rendermod.render(config, prompts=PROMPTS, environ=environ)
    assert reason in str(caught.value) and 'seats."8002"' in str(caught.value) and password not in str(caught.value)


def test_secrets_appear_only_where_needed_and_those_files_are_0640(tmp_path):
    """Seat and trunk passwords only in pjsip, the AMI secret only in manager; written
    files holding them are 0640 whatever the umask, the others 0644."""
    config, environ = make_config(tmp_path)
    result = rendermod.render(config, prompts=PROMPTS, environ=environ)
    where = {f.name: f.text for f in result.files}
    for secret in (*SEAT_SECRETS.values(), TRUNK_SECRET):
        assert [n for n, t in where.items() if secret in t] == ["hotline-pjsip.conf"]
    assert [n for n, t in where.items() if AMI_SECRET in t] == ["hotline-manager.conf"]
    old = os.umask(0o000)
    try:
        paths = rendermod.write(result, tmp_path / "out")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in paths}
    assert modes == {"hotline-pjsip.conf": 0o640, "hotline-extensions.conf": 0o644, "hotline-queues.conf": 0o644, "hotline-manager.conf": 0o640}
    assert sorted(os.listdir(tmp_path / "out")) == sorted(modes)  # no temporary file left


HOSTILE = 'Evil"<9999>;\r\n[hacked]\nexten => 666,1,System(rm -rf /)\n#include /etc/passwd\u2028;-- ${SHELL(id)} \\'


def test_hostile_labels_and_seat_names_cannot_inject_lines_or_sections(tmp_path):
    """Labels and seat names with newlines, ';', ';--', brackets, quotes, '#include' and
    substitutions change no line, section, option or dialplan step: they stay text."""
    text = FULL.replace('label_zh = "投诉"', f"label_zh = {json.dumps(HOSTILE)}")
    text = text.replace('label_en = "Complaints"', f"label_en = {json.dumps(HOSTILE)}").replace('name = "班长"', f"name = {json.dumps(HOSTILE)}")
    (tmp_path / "hostile").mkdir()
    (tmp_path / "clean").mkdir()
    config, _ = make_config(tmp_path / "hostile", text)
    assert config.queue("complaints").label_zh == HOSTILE and config.seats[2].name == HOSTILE
    files, clean = rendered(tmp_path / "hostile", text), rendered(tmp_path / "clean")
    for name, body in files.items():
        shape = [(s.name, [k for k, _ in s.options]) for s in read_conf(body)]
        assert shape == [(s.name, [k for k, _ in s.options]) for s in read_conf(clean[name])], name
        assert len(body.splitlines()) == len(clean[name].splitlines()), name
        assert not any(line.lstrip().startswith(("#", "[hacked", "exten => 666")) for line in body.splitlines()), name
        assert "\r" not in body and "\u2028" not in body and ";--" not in body and "${SHELL" not in body, name
    steps = lambda f: [(s.context, s.exten, s.app) for s in all_steps(read_dialplan(f["hotline-extensions.conf"]))]  # noqa: E731
    assert steps(files) == steps(clean)
    endpoint = next(s for s in read_conf(files["hotline-pjsip.conf"]) if s.name == "8003" and s.get("type") == "endpoint")
    assert endpoint.get("callerid") == f'"{rendermod.text(HOSTILE)}" <8003>'
    assert rendermod.text(HOSTILE).startswith("Evil9999 hacked exten = 666,1,System(rm -rf /) #include")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("人工服务", "人工服务"),
        ("a;b", "ab"),
        ("line1\nline2\r\nline3", "line1 line2 line3"),
        ('say "hi" <x>', "say hi x"),
        ("[section]", "section"),
        ("${SHELL(id)}", "{SHELL(id)}"),
        ("tab\tand\u2028sep\u0085nel\x00nul", "tab and sep nel nul"),
        ("back\\slash", "backslash"),
        ("x" * 200, "x" * 80),
    ],
)
def test_text_filter_keeps_one_harmless_line(raw, expected):
    """The escaping filter leaves one line with no comment, escape, quote, bracket or substitution."""
    assert rendermod.text(raw) == expected


def test_templates_cannot_print_an_unchecked_value():
    """A template printing a plain string (not passed through a filter) is a render error."""
    env = rendermod._environment(rendermod._OutputGuard())
    with pytest.raises(rendermod.RenderError, match="unchecked value"):
        env.from_string("label = {{ label }}").render(label="x\n[evil]")
    assert env.from_string("label = {{ label|text }}").render(label="x\n[evil]") == "label = x evil"


@pytest.mark.parametrize(
    "snippet, key",
    [
        ('[asterisk]\nrecordings_dir = "/var/rec,evil"\n', "asterisk.recordings_dir"),
        ('[asterisk]\nvoicemail_dir = "relative/dir"\n', "asterisk.voicemail_dir"),
        ('[asterisk]\nsounds_dir = "/a/../b"\n', "asterisk.sounds_dir"),
        ('[asterisk]\ntrunk_host = "evil.example;x"\n', "asterisk.trunk_host"),
        ('[asterisk]\ntrunk_host = "sip.example.cn"\ntrunk_username = "a b"\n', "asterisk.trunk_username"),
        ('[asterisk]\ntrunk_username = "0532"\n', "asterisk.trunk_host"),
        ('[ami]\nusername = "x]\\n[y"\n', "ami.username"),
        ('[ami]\nusername = "general"\n', "ami.username"),
        ('[asterisk]\nenglish_number = "12319"\n', "asterisk.english_number"),
        ('[[queues]]\nname = "general"\n[[queues]]\nname = "h"\n', "queues[1].name"),
        ('[[queues]]\nname = "general"\n[[queues]]\nname = "a-b"\n[[queues]]\nname = "ab"\n', "queues[2].name"),
        ('[[queues]]\nname = "emergency"\n', "queues: expected a queue named 'general'"),
    ],
)
def test_values_that_cannot_go_into_asterisk_files_are_refused(snippet, key):
    """Paths, hosts, user names and queue names that would break a line or clash in Asterisk
    are refused with the key named."""
    config = configmod.parse(snippet, source="t.toml", environ={})
    with pytest.raises(rendermod.RenderError) as caught:
        rendermod.render(config, prompts=PROMPTS, environ={})
    assert key in str(caught.value) and "\n" not in str(caught.value)


def test_missing_prompt_is_named_by_the_check(tmp_path):
    """A prompt the dialplan plays but the catalogue lacks fails the render, naming it."""
    config, environ = make_config(tmp_path)
    with pytest.raises(rendermod.RenderError, match=r"prompt 'leave_message' \(Playback\) is not in the prompt catalogue"):
        rendermod.render(config, prompts=PROMPTS - {"leave_message"}, environ=environ)
    result = rendermod.render(config, prompts=None, environ=environ)
    assert any("prompt catalogue is not available" in w for w in result.warnings)


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("Goto(hotline-fallback,s,1)", "Goto(hotline-fallbak,s,1)", "no context [hotline-fallbak]"),
        ('GotoIf($["${AGISTATUS}" != "FAILURE" | "${HOTLINE_OUTCOME}" != ""]?done)', "GotoIf($[1]?finished)", "no label 'finished'"),
        ("Queue(hotline-general,", "Queue(hotline-generl,", "no queue [hotline-generl]"),
        ("/ivr?", "/menu?", "AGI flow 'menu' is not one of hotline.dialplan.FLOWS"),
        ("/queue_callback?", "/ivr?", "FastAGI flow 'queue_callback' of hotline.dialplan.FLOWS is never called"),
        ("AGI(agi://10.0.0.12:4573/ivr", "AGI(agi://10.0.0.13:4573/ivr", "tries ivr on 10.0.0.11:4573, 10.0.0.13:4573"),
        ("Dial(PJSIP/8002,30)", "Dial(PJSIP/8009,30)", "no PJSIP endpoint [8009]"),
        ("[hotline-agent-answered]", "[hotline-recording]", "Queue(hotline-general) gosub: no context [hotline-agent-answered]"),
    ],
)
def test_check_names_what_is_missing(tmp_path, old, new, message):
    """The render-time check, given a broken dialplan, names the missing context, label,
    queue, flow, host or endpoint."""
    config, environ = make_config(tmp_path)
    files = {f.name: f.text for f in rendermod.render(config, prompts=PROMPTS, environ=environ).files}
    assert old in files["hotline-extensions.conf"]
    files["hotline-extensions.conf"] = files["hotline-extensions.conf"].replace(old, new)
    problems = checkmod.check(files, config, PROMPTS)
    assert any(message in p for p in problems), problems


def test_check_catches_queues_out_of_step_with_the_config(tmp_path):
    """A queue in queues.conf that the config does not declare, or one missing, is named."""
    config, environ = make_config(tmp_path)
    files = {f.name: f.text for f in rendermod.render(config, prompts=PROMPTS, environ=environ).files}
    files["hotline-queues.conf"] = files["hotline-queues.conf"].replace("[hotline-complaints]", "[hotline-other]")
    problems = checkmod.check(files, config, PROMPTS)
    assert any("queue [hotline-other] is not declared in the service config" in p for p in problems)
    assert any("queue [hotline-complaints] of the service config is missing" in p for p in problems)


def test_dialplan_prompts_are_in_the_catalogue():
    """The prompts the dialplan plays are offered by hotline.prompts' catalogue, which the
    command passes to the check."""
    names = commands.prompt_names()
    assert names is not None and set(rendermod.DIALPLAN_PROMPTS) <= set(names)


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "hotline", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


def test_cli_renders_checks_and_writes(tmp_path):
    """`hotline asterisk-config render --out DIR` writes the four files with their modes;
    --check-only writes nothing; a missing secret is one line and exit 1."""
    make_config(tmp_path)
    env = {"HOTLINE_AMI_PASSWORD": AMI_SECRET}
    out = tmp_path / "asterisk"
    result = _run("asterisk-config", "render", "--out", str(out), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}/hotline-pjsip.conf (0640, holds passwords)" in result.stdout
    assert f"wrote {out}/hotline-extensions.conf (0644)" in result.stdout
    assert stat.S_IMODE((out / "hotline-manager.conf").stat().st_mode) == 0o640
    assert AMI_SECRET not in result.stdout + result.stderr
    plan = read_dialplan((out / "hotline-extensions.conf").read_text(encoding="utf-8"))
    assert set(plan) >= {dialplan.CONTEXT_INBOUND, dialplan.CONTEXT_FALLBACK, dialplan.CONTEXT_QUEUE_EXIT}

    check_dir = tmp_path / "check"
    check = _run("asterisk-config", "render", "--out", str(check_dir), "--check-only", cwd=tmp_path, env=env)
    assert check.returncode == 0 and "nothing written" in check.stdout and not check_dir.exists()

    (tmp_path / "secrets.toml").write_text('trunk_password = "x-trunk-pw"\n[seats]\n"8001" = "Seat-8001-Password"\n', encoding="utf-8")
    missing = _run("asterisk-config", "render", "--out", str(out), cwd=tmp_path, env=env)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("hotline: missing secrets: seat 8002 password") and len(missing.stderr.strip().splitlines()) == 1

    no_out = _run("asterisk-config", "render", cwd=tmp_path, env=env)
    assert no_out.returncode == 1 and "--out DIR is required" in no_out.stderr


# -- the AMI user's classes (hotline.ami.permissions) and check-manager


def _manager_user(tmp_path: Path, extra: str = "") -> tuple[configmod.Config, Any]:
    config, environ = make_config(tmp_path, "[ami]\nenabled = true\n" + extra)
    manager = rendermod.render(config, prompts=PROMPTS, environ=environ).file("hotline-manager.conf")
    return config, read_conf(manager.text)[1]


def test_the_rendered_ami_user_is_refused_nothing(tmp_path: Path) -> None:
    """Logged in to our Asterisk peer with exactly the rendered classes, every action the
    service builds runs: the resync's CoreShowChannels too, which write=call,agent,originate
    was refused (ami_channels.txt). Originate only with desk.listen_in on: without it the
    rendered user may not originate at all."""
    from hotline.ami import actions
    from hotline.ami.client import AmiActionError
    from hotline.simulator.ami import failure_of, result_of
    from tests.test_ami_client import connected_client, send

    _config, user = _manager_user(tmp_path)
    client, endpoint, _clock = connected_client(write=user.get("write").split(","))
    calls = [
        actions.ping(),
        actions.core_show_channels(),
        actions.status(),
        actions.queue_status("hotline-general"),
        actions.queue_summary("hotline-general"),
        actions.queue_add("hotline-general", "PJSIP/8001", member_name="8001"),
        actions.queue_pause("PJSIP/8001", True, queue="hotline-general", reason="lunch"),
        actions.queue_pause("PJSIP/8001", False, queue="hotline-general"),
        actions.queue_remove("hotline-general", "PJSIP/8001"),
        actions.redirect("PJSIP/1001-00000001", "hotline-inbound", "s"),
        actions.hangup("Local/noanswer@survey-phone-00000013;1", 16),
        actions.setvar("HOTLINE_TICKET", "2027-0001", channel="PJSIP/1001-00000001"),
        actions.getvar("SURVEY_ID", channel="PJSIP/1001-00000001"),
    ]
    for action in calls:
        result_of(send(client, endpoint, action))
    names = set(endpoint.peer.action_names())
    assert names >= {"CoreShowChannels", "QueueAdd", "QueuePause", "QueueRemove", "Status"}
    originate = actions.originate("Local/5550001@survey-phone", context="survey", exten="s")
    assert "originate" not in user.get("write").split(",")
    assert failure_of(send(client, endpoint, originate), AmiActionError).message == "Permission denied"
    _config, listening = _manager_user(tmp_path, "[desk]\nlisten_in = true\n")
    assert listening.get("write") == "call,agent,reporting,originate"
    client, endpoint, _clock = connected_client(write=listening.get("write").split(","))
    assert result_of(send(client, endpoint, originate)).answered
    # The peer refuses for real: the old grant is answered as the lab's Asterisk answered.
    client, endpoint, _clock = connected_client(write=["call", "agent", "originate"])
    assert failure_of(send(client, endpoint, actions.core_show_channels()), AmiActionError).message == "Permission denied"


def test_check_manager_reports_a_user_that_lacks_a_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hotline asterisk-config check-manager FILE` follows manager.conf's #include into the
    rendered file: clean for the rendered user; the old grant (no `reporting`) exits 1 and
    names CoreShowChannels; a missing user or file is one clear line."""
    from hotline import cli

    config, _user = _manager_user(tmp_path)
    out = tmp_path / "asterisk"
    (out / "hotline").mkdir(parents=True)
    config_file = str(tmp_path / "hotline.toml")
    environ = {"HOTLINE_AMI_PASSWORD": AMI_SECRET}
    rendermod.write(rendermod.render(config, prompts=PROMPTS, environ=environ), out / "hotline")
    (out / "manager.conf").write_text("[general]\nenabled = no\n#include hotline/hotline-manager.conf\n#tryinclude manager.d/*.conf\n", encoding="utf-8")
    os.environ["HOTLINE_AMI_PASSWORD"] = AMI_SECRET
    try:
        assert cli.main(["-c", config_file, "asterisk-config", "check-manager", str(out / "manager.conf")]) == 0
        assert "has every class the service needs" in capsys.readouterr().out
        manager = out / "hotline" / "hotline-manager.conf"
        manager.write_text(manager.read_text(encoding="utf-8").replace("write = call,agent,reporting", "write = call,agent,originate").replace("read = call,agent", "read = call"), encoding="utf-8")
        assert cli.main(["-c", config_file, "asterisk-config", "check-manager", str(out / "manager.conf")]) == 1
        printed = capsys.readouterr().out
        assert "write lacks system or reporting: action CoreShowChannels answers 'Permission denied'" in printed
        assert "read lacks agent: event QueueCallerJoin is never delivered" in printed
        (out / "other.conf").write_text("[someone]\nread = all\nwrite = all\n", encoding="utf-8")
        assert cli.main(["-c", config_file, "asterisk-config", "check-manager", str(out / "other.conf")]) == 1
        assert "defines no AMI user [hotline]" in capsys.readouterr().err
        (out / "other.conf").write_text("[hotline]\nread = all\nwrite = all\n", encoding="utf-8")
        assert cli.main(["-c", config_file, "asterisk-config", "check-manager", str(out / "other.conf")]) == 0
        assert cli.main(["-c", config_file, "asterisk-config", "check-manager", str(out / "nowhere.conf")]) == 1
        assert "cannot read" in capsys.readouterr().err
        # With listen-in on, the service originates: a user without `originate` lacks it.
        (out / "other.conf").write_text("[hotline]\nread = call,agent\nwrite = call,agent,reporting\n", encoding="utf-8")
        assert cli.main(["-c", config_file, "asterisk-config", "check-manager", str(out / "other.conf")]) == 0
        capsys.readouterr()
        Path(config_file).write_text(Path(config_file).read_text(encoding="utf-8") + "\n[desk]\nlisten_in = true\n", encoding="utf-8")
        assert cli.main(["-c", config_file, "asterisk-config", "check-manager", str(out / "other.conf")]) == 1
        printed = capsys.readouterr().out
        assert "write lacks originate: action Originate (desk.listen_in is on) answers 'Permission denied'" in printed
        assert "write = call,agent,reporting,originate" in printed
    finally:
        del os.environ["HOTLINE_AMI_PASSWORD"]


def test_permission_tables_cover_every_action_and_event() -> None:
    """hotline.ami.permissions names a class for every action actions.py builds and every
    event the live model applies, so a new one cannot slip past the grant."""
    import inspect as inspectmod

    from hotline.ami import actions, permissions
    from hotline.ami.live import LiveModel

    built = set(re.findall(r'Action\(\s*"([A-Za-z]+)"', inspectmod.getsource(actions)))
    assert built and built <= set(permissions.ACTIONS)
    assert set(LiveModel()._handlers) <= set(permissions.EVENTS)
    assert permissions.missing(permissions.READ, permissions.WRITE) == []
    listen_in = permissions.used_actions(listen_in=True)
    assert permissions.missing(permissions.READ, permissions.WRITE, listen_in) == ["write lacks originate: action Originate (desk.listen_in is on) answers 'Permission denied'"]
    assert permissions.missing(permissions.READ, permissions.write_classes(listen_in), listen_in) == []
