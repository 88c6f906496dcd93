"""The 12319 hotline's shared core, by concept:

- `agi`: the AGI transport (FastAGI, classic AGI, the Channel seam, the scripted channel);
- `ami`: the AMI client and the live model of queues, agents and channels;
- `calllog`: one record per call, its timeline and its disk journal;
- `tickets`: workflow, taxonomy, voicemail drafts, KPIs;
- `storage`: models, engines, migrations, database work off the reactor;
- `web`: the HTTP site every role serves, and the supervisor's that gathers them;
- at the top: configuration, the CLI, the composition root (`service`: builds a role), the
  supervisor of `hotline serve` (one process per role), plug-in discovery (`plugins`), working
  time on the Chinese calendar (`worktime`), business hours, phone
  numbers, prompts, the dialplan contract and metrics.

Feature packages (`ivr`, `callback`, `agent_desk`, …) build on it; it never imports them:
they plug in through entry points (docs/architecture.md)."""

__version__ = "0.1.0"
