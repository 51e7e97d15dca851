"""`w2s-admin`: operator commands (trusted side). Each component contributes its own typer app."""

from __future__ import annotations

import typer

from mcp_servers.core._cli import replica_app, tokens_app
from mcp_servers.grader._cli import grader_app
from mcp_servers.grader._demo import demo
from mcp_servers.grader._results_cli import results_app
from mcp_servers.grader.datasets._cli import app as data_app
from trainer.models import cli_app

app = typer.Typer(help="w2s-lab operator commands (trusted side: these read labels and secrets).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(cli_app(), name="models")
app.add_typer(tokens_app, name="tokens")
app.add_typer(replica_app, name="replica")
app.add_typer(grader_app, name="grader")
app.add_typer(results_app, name="results")
app.command()(demo)

if __name__ == "__main__":
    app()
