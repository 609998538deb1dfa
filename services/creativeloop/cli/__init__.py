"""`creativeloop`: one click command line, a thin layer over the library.

Each command lives in its own module of this package and imports what it needs at module level;
`main` imports a command's module only when that command runs, so `creativeloop serve ranking`
never loads the training stack (torch) and `--help` stays fast.
"""

from __future__ import annotations

import importlib

import click

#: Command name -> "module:attribute" of its click command or group, in help order.
COMMANDS: dict[str, str] = {
    "up": "creativeloop.cli.stack:up",
    "demo": "creativeloop.cli.demo:demo",
    "serve": "creativeloop.cli.stack:serve",
    "topics": "creativeloop.cli.stack:topics",
    "dlq": "creativeloop.cli.dlq:dlq",
    "data": "creativeloop.cli.data:data",
    "models": "creativeloop.cli.models:models",
    "ranking": "creativeloop.cli.ranking:ranking",
    "ope": "creativeloop.cli.ope:ope",
    "attribution": "creativeloop.cli.attribution:attribution",
    "eval": "creativeloop.cli.evaluate:evaluate",
    "train": "creativeloop.cli.train:train",
    "config-docs": "creativeloop.cli.stack:config_docs",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented lazy-loading pattern)."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self._lazy, *(name for name in super().list_commands(ctx) if name not in self._lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self._lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy=COMMANDS)
def main() -> None:
    """CreativeLoop: intelligent ad creatives on Kafka and gRPC."""
