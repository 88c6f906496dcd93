"""The consistency check run on every render: read the rendered files back the way Asterisk
would and make sure everything they name exists.

What is checked, each failure naming the file, the line and what is missing:

* every line is a comment, a section header or ``key = value`` / ``key => value``;
* every Goto/GotoIf/Gosub target (context, extension, priority or label) exists;
* every Queue() names a queue of hotline-queues.conf, and its gosub context exists;
* queues.conf and the service config declare the same queues, each once;
* every AGI(agi://…/<flow>) names a flow of `hotline.dialplan.FLOWS`, every flow is
  reached, and each failover chain tries exactly asterisk.agi_hosts, in order;
* every prompt played (Playback, periodic-announce) is in the prompt catalogue;
* every PJSIP object named (endpoints dialled or used as members, auths, aors, transports)
  is defined, and every endpoint's context exists;
* the contexts the service relies on (`hotline.dialplan.CONTEXT_*`) exist.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from asterisk_conf.addresses import host_port
from hotline import dialplan
from hotline import prompts as promptsmod
from hotline.config import Config


class ConfSyntaxError(ValueError):
    """A line Asterisk would not read as we meant it."""


@dataclass
class Entry:
    key: str
    op: str  # "=" or "=>"
    value: str
    line: int


@dataclass
class Section:
    name: str
    additive: bool  # [name](+): appended to an existing section of that name
    line: int
    entries: list[Entry] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        values = self.all(key)
        return values[-1] if values else None

    def all(self, key: str) -> list[str]:
        return [e.value for e in self.entries if e.key == key]


_SECTION = re.compile(r"^\[([^\[\]]+)\](\(\+\))?$")
_OPTION = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(=>|=)\s*(.*)$")


def _strip_comment(raw: str, filename: str, lineno: int) -> str:
    for index, ch in enumerate(raw):
        if ch == ";" and (index == 0 or raw[index - 1] != "\\"):
            if raw.startswith(";--", index):
                raise ConfSyntaxError(f"{filename}:{lineno}: block comment ';--' (nothing we render opens one)")
            return raw[:index]
    return raw


def parse(text: str, filename: str) -> list[Section]:
    """Sections in file order; a section name may repeat (pjsip endpoint and aor)."""
    sections: list[Section] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if any(ord(ch) < 32 and ch != "\t" for ch in raw):
            raise ConfSyntaxError(f"{filename}:{lineno}: control character in line")
        line = _strip_comment(raw, filename, lineno).strip()
        if not line:
            continue
        if line.startswith("#"):
            raise ConfSyntaxError(f"{filename}:{lineno}: directive {line.split()[0]!r} (we render none)")
        match = _SECTION.match(line)
        if match:
            sections.append(Section(name=match.group(1), additive=bool(match.group(2)), line=lineno))
            continue
        match = _OPTION.match(line)
        if not match:
            raise ConfSyntaxError(f"{filename}:{lineno}: neither a section nor key = value: {line[:60]!r}")
        if not sections:
            raise ConfSyntaxError(f"{filename}:{lineno}: {match.group(1)} outside any section")
        sections[-1].entries.append(Entry(match.group(1), match.group(2), match.group(3).strip(), lineno))
    return sections


# -- the dialplan


@dataclass
class Step:
    context: str
    exten: str
    priority: int
    label: str | None
    app: str
    args: str
    line: int


@dataclass
class Dialplan:
    #: context → extension → steps in priority order
    contexts: dict[str, dict[str, list[Step]]]
    hints: dict[tuple[str, str], str]

    def steps(self) -> list[Step]:
        return [s for exts in self.contexts.values() for steps in exts.values() for s in steps]

    def find_exten(self, context: str, exten: str) -> str | None:
        """The extension of `context` that `exten` dials (exact name first, then patterns)."""
        extens = self.contexts.get(context, {})
        wanted = exten.replace("-", "")
        for name in extens:
            if not name.startswith("_") and name.replace("-", "") == wanted:
                return name
        for name in extens:
            if name.startswith("_") and _pattern(name).match(exten):
                return name
        return None


def _pattern(pattern: str) -> re.Pattern[str]:
    out, i, body = [], 0, pattern[1:]
    while i < len(body):
        ch = body[i]
        if ch == "X":
            out.append("[0-9]")
        elif ch == "Z":
            out.append("[1-9]")
        elif ch == "N":
            out.append("[2-9]")
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.index("]", i)
            out.append("[" + body[i + 1 : end] + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")


_STEP = re.compile(r"^(\d+|n|hint)(?:\(([A-Za-z0-9_-]+)\))?,(.*)$")
_APP = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\((.*)\)$")


def dialplan_of(sections: list[Section], filename: str) -> Dialplan:
    contexts: dict[str, dict[str, list[Step]]] = {}
    hints: dict[tuple[str, str], str] = {}
    for section in sections:
        if section.name in contexts:
            raise ConfSyntaxError(f"{filename}:{section.line}: context [{section.name}] defined twice")
        extens: dict[str, list[Step]] = {}
        contexts[section.name] = extens
        current: str | None = None
        for entry in section.entries:
            if entry.key == "exten" and entry.op == "=>":
                current, _, rest = entry.value.partition(",")
            elif entry.key == "same" and entry.op == "=>":
                rest = entry.value
                if current is None:
                    raise ConfSyntaxError(f"{filename}:{entry.line}: 'same =>' before any 'exten =>'")
            else:
                raise ConfSyntaxError(f"{filename}:{entry.line}: {entry.key} {entry.op} in a dialplan context")
            match = _STEP.match(rest)
            if not match:
                raise ConfSyntaxError(f"{filename}:{entry.line}: bad priority in {entry.value[:60]!r}")
            priority, label, command = match.groups()
            if priority == "hint":
                hints[(section.name, current)] = command
                continue
            app = _APP.match(command)
            if not app:
                raise ConfSyntaxError(f"{filename}:{entry.line}: expected App(args), found {command[:60]!r}")
            steps = extens.setdefault(current, [])
            number = int(priority) if priority != "n" else (steps[-1].priority + 1 if steps else 0)
            if priority != "n" and steps:
                raise ConfSyntaxError(f"{filename}:{entry.line}: extension {current} of [{section.name}] restarts at priority {priority}")
            if number != len(steps) + 1:
                raise ConfSyntaxError(f"{filename}:{entry.line}: extension {current} of [{section.name}] has no priority {len(steps) + 1}")
            steps.append(Step(section.name, current, number, label, app.group(1), app.group(2), entry.line))
    return Dialplan(contexts, hints)


def split_args(args: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside ${…}, $[…] and (…), as Asterisk does after substitution."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(args[start:i])
            start = i + 1
    parts.append(args[start:])
    return parts


def _condition(args: str) -> tuple[str, str]:
    """(condition, branches) of GotoIf/ExecIf: split at the first '?' outside brackets."""
    parts = split_args(args, "?")
    return parts[0], "?".join(parts[1:])


_AGI = re.compile(r"^agi://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d+)/([A-Za-z0-9_\-]+)(?:\?(.*))?$")


@dataclass(frozen=True)
class AgiCall:
    host: str
    port: int
    flow: str
    step: Step


def agi_calls(plan: Dialplan) -> list[AgiCall]:
    calls = []
    for step in plan.steps():
        if step.app == "AGI":
            match = _AGI.match(split_args(step.args)[0])
            if match:
                calls.append(AgiCall(match.group(1), int(match.group(2)), match.group(3), step))
    return calls


# -- the check


class _Report:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def check(files: Mapping[str, str], config: Config, prompts: Collection[str] | None) -> list[str]:
    """Every problem found in the rendered `files` (name → text); empty when consistent.
    `prompts`: the prompt names the catalogue offers, or None to skip that part."""
    report = _Report()
    parsed: dict[str, list[Section]] = {}
    for name, text in files.items():
        try:
            parsed[name] = parse(text, name)
        except ConfSyntaxError as exc:
            report.problems.append(str(exc))
    if report.problems:
        return report.problems
    ext_file, queue_file, pjsip_file = "hotline-extensions.conf", "hotline-queues.conf", "hotline-pjsip.conf"
    try:
        plan = dialplan_of(parsed[ext_file], ext_file)
    except ConfSyntaxError as exc:
        return [str(exc)]
    queues = {s.name: s for s in parsed[queue_file]}
    pjsip = parsed[pjsip_file]
    _check_contract(plan, config, report)
    _check_steps(plan, config, queues, pjsip, prompts, report)
    _check_flows(plan, config, report)
    _check_queues(parsed[queue_file], plan, config, pjsip, prompts, report)
    _check_pjsip(pjsip, plan, report)
    return report.problems


def _check_contract(plan: Dialplan, config: Config, report: _Report) -> None:
    needed = {
        dialplan.CONTEXT_INBOUND: config.asterisk.hotline_number,
        dialplan.CONTEXT_QUEUE_EXIT: dialplan.QUEUE_CALLBACK_KEY,
        dialplan.CONTEXT_AGENT_ANSWERED: "s",
        dialplan.CONTEXT_FALLBACK: "s",
        dialplan.CONTEXT_SEATS: None,
        dialplan.CONTEXT_OUTBOUND: None,
    }
    for context, exten in needed.items():
        if context not in plan.contexts:
            report.add("hotline-extensions.conf", f"context [{context}] of hotline.dialplan is missing")
        elif exten is not None and plan.find_exten(context, exten) is None:
            report.add("hotline-extensions.conf", f"context [{context}] has no extension {exten!r}")


def _check_target(step: Step, target: str, plan: Dialplan, report: _Report) -> None:
    """A Goto-style target: [[context,]exten,]priority-or-label."""
    where = f"hotline-extensions.conf:{step.line}"
    parts = [p.strip() for p in split_args(target)]
    if len(parts) == 1:
        context, exten, priority = step.context, step.exten, parts[0]
    elif len(parts) == 2:
        context, exten, priority = step.context, parts[0], parts[1]
    elif len(parts) == 3:
        context, exten, priority = parts
    else:
        report.add(where, f"{step.app} target {target!r} is not [[context,]exten,]priority")
        return
    if "${" in context:
        return
    if context not in plan.contexts:
        report.add(where, f"{step.app} target {target!r}: no context [{context}]")
        return
    if "${" in exten:
        return
    found = plan.find_exten(context, exten)
    if found is None:
        report.add(where, f"{step.app} target {target!r}: no extension {exten!r} in [{context}]")
        return
    steps = plan.contexts[context][found]
    if priority.isdigit():
        if not 1 <= int(priority) <= len(steps):
            report.add(where, f"{step.app} target {target!r}: no priority {priority} in {exten}@{context}")
    elif priority not in {s.label for s in steps}:
        report.add(where, f"{step.app} target {target!r}: no label {priority!r} in {exten}@{context}")


def _check_steps(plan: Dialplan, config: Config, queues: Mapping[str, Section], pjsip: list[Section], prompts: Collection[str] | None, report: _Report) -> None:
    endpoints = {s.name for s in pjsip if s.get("type") == "endpoint"}
    recordings = config.asterisk.recordings_dir.rstrip("/") + "/"
    pending = [(step, step.app, step.args) for step in plan.steps()]
    while pending:
        step, app, args = pending.pop(0)
        where = f"hotline-extensions.conf:{step.line}"
        if app in ("Goto", "Gosub"):
            _check_target(step, args.split("(")[0] if app == "Gosub" else args, plan, report)
        elif app in ("GotoIf", "GosubIf"):
            _, branches = _condition(args)
            for target in split_args(branches, ":"):
                if target.strip():
                    _check_target(step, target, plan, report)
        elif app == "ExecIf":
            _, branches = _condition(args)
            for command in split_args(branches, ":"):
                inner = _APP.match(command.strip())
                if inner:
                    pending.append((step, inner.group(1), inner.group(2)))
        elif app == "Queue":
            fields = split_args(args)
            name = fields[0]
            if name not in queues or name == "general":
                report.add(where, f"Queue({name}): no queue [{name}] in hotline-queues.conf")
            if len(fields) > 6 and fields[6]:
                gosub = fields[6].split(",")[0]
                if gosub not in plan.contexts or plan.find_exten(gosub, "s") is None:
                    report.add(where, f"Queue({name}) gosub: no context [{gosub}] with extension s")
        elif app in ("Playback", "Background"):
            for sound in split_args(args)[0].split("&"):
                _check_prompt(sound, where, app, config, prompts, report)
        elif app == "MixMonitor":
            path = split_args(args)[0]
            if not path.startswith(recordings) or "/" in path[len(recordings) :]:
                report.add(where, f"MixMonitor writes {path!r}, not into asterisk.recordings_dir {config.asterisk.recordings_dir!r}")
        elif app == "Dial":
            for target in split_args(args)[0].split("&"):
                tech, _, resource = target.partition("/")
                endpoint = resource.rpartition("@")[2] if "@" in resource else resource
                if tech == "PJSIP" and endpoint not in endpoints:
                    report.add(where, f"Dial({target}): no PJSIP endpoint [{endpoint}] in hotline-pjsip.conf")
        elif app == "AGI" and not _AGI.match(split_args(args)[0]):
            report.add(where, f"AGI({args}): not agi://host:port/<flow>")


def _check_prompt(sound: str, where: str, app: str, config: Config, prompts: Collection[str] | None, report: _Report) -> None:
    """A sound must be one of our prompts, <sounds_dir>/<lang>/<name> (hotline.prompts)."""
    try:
        _, prompt = promptsmod.parse_sound_name(sound, config.asterisk.sounds_dir)
    except ValueError:
        report.add(where, f"{app} plays {sound!r}, not <asterisk.sounds_dir>/<lang>/<prompt>")
        return
    if prompts is not None and prompt not in prompts:
        report.add(where, f"prompt {prompt!r} ({app}) is not in the prompt catalogue")


def _check_flows(plan: Dialplan, config: Config, report: _Report) -> None:
    calls = agi_calls(plan)
    for call in calls:
        if call.flow not in dialplan.FLOWS:
            report.add(f"hotline-extensions.conf:{call.step.line}", f"AGI flow {call.flow!r} is not one of hotline.dialplan.FLOWS ({', '.join(dialplan.FLOWS)})")
    reached = {c.flow for c in calls}
    for flow in dialplan.FLOWS:
        if flow not in reached:
            report.add("hotline-extensions.conf", f"FastAGI flow {flow!r} of hotline.dialplan.FLOWS is never called by AGI()")
    expected = [(h.host, h.port) for h in (host_port(e) for e in config.asterisk.agi_hosts)]
    chains: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    for call in calls:
        chains.setdefault((call.step.context, call.step.exten, call.flow), []).append((call.host, call.port))
    for (context, exten, flow), hosts in chains.items():
        if hosts != expected:
            shown = ", ".join(f"{h}:{p}" for h, p in hosts)
            report.add("hotline-extensions.conf", f"{exten}@{context} tries {flow} on {shown}; asterisk.agi_hosts is {', '.join(config.asterisk.agi_hosts)}")


def _check_queues(sections: list[Section], plan: Dialplan, config: Config, pjsip: list[Section], prompts: Collection[str] | None, report: _Report) -> None:
    endpoints = {s.name for s in pjsip if s.get("type") == "endpoint"}
    declared = {dialplan.asterisk_queue(q.name) for q in config.queues}
    seen: set[str] = set()
    for section in sections:
        where = f"hotline-queues.conf:{section.line}"
        if section.name == "general" or section.additive:
            report.add(where, f"[{section.name}] is queues.conf's own settings section; we render queues only")
            continue
        if section.name in seen:
            report.add(where, f"queue [{section.name}] declared twice")
        seen.add(section.name)
        if section.name not in declared:
            report.add(where, f"queue [{section.name}] is not declared in the service config")
        context = section.get("context")
        if context is not None and (context not in plan.contexts or plan.find_exten(context, dialplan.QUEUE_CALLBACK_KEY) is None):
            report.add(where, f"context = {context}: no such context with extension {dialplan.QUEUE_CALLBACK_KEY!r}")
        for key in ("periodic-announce", "announce", "queue-callerannounce"):
            for value in section.all(key):
                for sound in value.split(","):
                    _check_prompt(sound.strip(), where, key, config, prompts, report)
        for member in section.all("member"):
            fields = split_args(member)
            for interface in (fields[0], fields[3] if len(fields) > 3 else ""):
                tech, _, name = interface.partition("/")
                if tech == "PJSIP" and name not in endpoints:
                    report.add(where, f"member {interface}: no PJSIP endpoint [{name}] in hotline-pjsip.conf")
    for name in sorted(declared - seen):
        report.add("hotline-queues.conf", f"queue [{name}] of the service config is missing")


def _check_pjsip(sections: list[Section], plan: Dialplan, report: _Report) -> None:
    by_type: dict[str, set[str]] = {}
    for section in sections:
        kind = section.get("type")
        if kind is None:
            report.add(f"hotline-pjsip.conf:{section.line}", f"[{section.name}] has no type")
            continue
        by_type.setdefault(kind, set()).add(section.name)

    def need(kind: str, name: str, where: str, what: str) -> None:
        if name not in by_type.get(kind, set()):
            report.add(where, f"{what} = {name}: no type={kind} section [{name}]")

    for section in sections:
        where = f"hotline-pjsip.conf:{section.line}"
        kind = section.get("type")
        for key, target in (("auth", "auth"), ("outbound_auth", "auth"), ("transport", "transport")):
            for value in section.all(key):
                need(target, value, where, key)
        if kind == "endpoint":
            for aor in (section.get("aors") or "").split(","):
                if aor.strip():
                    need("aor", aor.strip(), where, "aors")
            context = section.get("context")
            if context is None or context not in plan.contexts:
                report.add(where, f"endpoint [{section.name}] context = {context}: no such context in hotline-extensions.conf")
        if kind in ("identify", "registration") and section.get("endpoint"):
            need("endpoint", section.get("endpoint") or "", where, "endpoint")
