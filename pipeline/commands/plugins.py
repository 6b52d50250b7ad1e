"""``pipeline plugins list|check|new``: plugins found through entry points."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline import json_output
from pipeline.commands.common import command, json_option
from pipeline.errors import UserError
from pipeline.plugins import GROUPS, PluginError, Registries, discover

__all__ = ["add_plugins", "plugin_rows"]


def add_plugins(commands: Any) -> None:
    parser = commands.add_parser(
        "plugins",
        help="list and check cell, initializer, task, tokenizer and image encoder plugins",
        description="Plugins found through entry points.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = command(actions, "list", cmd_plugins_list, "list plugins without importing them")
    check = command(
        actions,
        "check",
        cmd_plugins_check,
        "import every plugin and validate it against its contract",
    )
    check.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="with --deep: only these plugins (name or kind:name, e.g. cells:lstm)",
    )
    check.add_argument(
        "--deep",
        action="store_true",
        help="also run the conformance checks of pipeline.testing on each plugin",
    )
    check.add_argument("--no-ddp", action="store_true", help="--deep: skip tasks' DDP clause")
    check.add_argument(
        "--compile", action="store_true", help="--deep: also check cells on the compiled runner"
    )
    for sub in (listing, check):
        json_option(sub)
    _add_plugins_new(actions)


def _add_plugins_new(actions: Any) -> None:
    new = command(
        actions, "new", cmd_plugins_new, "write a new plugin distribution with tests and a README"
    )
    new.add_argument("name", help="distribution name, e.g. my-cells")
    for kind in ("cell", "initializer", "task"):
        new.add_argument(
            f"--{kind}",
            action="store_true",
            help=f"include a {kind} (default: cell, initializer and task)",
        )
    new.add_argument(
        "--image-encoder", action="store_true", help="include an image encoder (only if asked)"
    )
    new.add_argument("--directory", metavar="DIR", help="where to write it (default: ./NAME)")


def plugin_rows(registries: Registries, load: bool) -> list[dict[str, str]]:
    rows = []
    for kind, registry in registries.by_kind().items():
        for name, records in _records_by_name(registry).items():
            record = records[0]
            row = {
                "name": name,
                "group": GROUPS[kind],
                "distribution": record.dist,
                "version": record.version,
                "value": record.value,
                "status": "not checked",
                "error": "",
            }
            if name in registry.blocked:
                row["status"] = "blocked"
            elif len(records) > 1 or load:
                row["status"], row["error"] = _load_status(registry, name)
            rows.append(row)
    return rows


def _records_by_name(registry: Any) -> dict[str, list[Any]]:
    found = {name: [record] for name, record in registry.records.items()}
    found.update({name: list(records) for name, records in registry.conflicts.items()})
    return dict(sorted(found.items()))


def _load_status(registry: Any, name: str) -> tuple[str, str]:
    try:
        registry.get(name)
    except PluginError as error:
        return ("conflict" if name in registry.conflicts else "broken"), str(error)
    return "loaded", ""


def _print_plugins(rows: list[dict[str, str]], as_json: bool) -> None:
    if as_json:
        print(json_output.dumps({"plugins": rows}))
        return
    columns = ("name", "group", "distribution", "version", "status")
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns} if rows else {}
    print("  ".join(f"{c:<{widths.get(c, 0)}}" for c in columns).rstrip())
    for row in rows:
        print("  ".join(f"{row[c]:<{widths[c]}}" for c in columns).rstrip())
        if row["error"]:
            print(f"    {row['error']}")


def _registries(with_contracts: bool) -> Registries:
    if with_contracts:
        from pipeline.plugins import default_registries

        return default_registries()
    return Registries(*(discover(kind) for kind in GROUPS))


def cmd_plugins_list(args: argparse.Namespace) -> int:
    _print_plugins(plugin_rows(_registries(False), load=False), args.json)
    return 0


def cmd_plugins_check(args: argparse.Namespace) -> int:
    if args.deep:
        return _deep_check(args)
    if args.names:
        raise UserError("NAME arguments need --deep (without it every plugin is loaded)")
    rows = plugin_rows(_registries(True), load=True)
    _print_plugins(rows, args.json)
    return 1 if any(row["status"] in ("broken", "conflict") for row in rows) else 0


def _deep_check(args: argparse.Namespace) -> int:
    from pipeline.testing.installed import DeepOptions, check_installed, select

    registries = _registries(True)
    chosen = select(registries, args.names)
    options = DeepOptions(ddp=not args.no_ddp, compile=args.compile)
    outcomes = check_installed(registries, chosen, options)
    if args.json:
        print(json_output.dumps({"plugins": [vars(outcome) for outcome in outcomes]}))
    for outcome in [] if args.json else outcomes:
        print(outcome.line())
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


def cmd_plugins_new(args: argparse.Namespace) -> int:
    from pipeline.scaffold import KINDS, create, next_steps

    kinds = tuple(kind for kind in KINDS if getattr(args, kind))
    files = create(args.name, kinds, args.directory)
    root = files[0].parent
    for path in files:
        print(f"wrote {path}")
    print(f"next: {next_steps(root)}")
    return 0
