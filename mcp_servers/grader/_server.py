"""The grader MCP server: four tools over `Grader`, identity from the bearer token."""

# no `from __future__ import annotations`: fastmcp reads these signatures, with closure-local types.
from typing import Annotated

from pydantic import Field

from mcp_servers.core import READ_ONLY, WRITES, ServerApp, refusals
from mcp_servers.grader._board import get_submission, leaderboard
from mcp_servers.grader._models import DatasetInfo, Leaderboard, SubmissionView, SubmitResult
from mcp_servers.grader._service import Grader, GraderError, GraderSettings

INSTRUCTIONS = """Submit-and-score server for weak-to-strong research.
Submit one prediction per row of data/<dataset>/test.jsonl, in file order: 0/1 or the probability of class 1
(preference: the second answer is better; binary: the choice is correct). You get accuracy and PGR on the public
part of test, overall and for the ID and OOD subsets, rounded and under the Ladder rule. train_unlabel is never
scored. Every submission is stored with your identity; the leaderboard is built from these records only."""



def build_server(settings: GraderSettings | None = None, local_token: str | None = None) -> ServerApp:
    settings = settings or GraderSettings()
    app = ServerApp("grader", settings, instructions=INSTRUCTIONS, local_token=local_token)
    grader = Grader(settings, app.engine)
    app.state = grader  # type: ignore[attr-defined]
    Dataset = Annotated[str, Field(description="dataset name from list_datasets", max_length=128)]

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def list_datasets() -> list[DatasetInfo]:
        """Datasets you can submit to: task type, sizes, scored rows and the fixed weak and strong accuracies."""
        app.identity()
        return grader.datasets()

    @app.mcp.tool(annotations=WRITES)
    @refusals
    def submit_predictions(
        dataset: Dataset,
        predictions: Annotated[list[float], Field(
            description="one value per test row in file order: 0/1 or P(class 1) in [0, 1]",
            max_length=settings.max_predictions)],
        idea: Annotated[str | None, Field(description="short tag of the method, e.g. 'vanilla' or "
                                                      "'confident-only'", max_length=80)] = None,
        note: Annotated[str | None, Field(description="free note kept with the submission", max_length=2000)] = None,
        seed: Annotated[int | None, Field(description="training seed behind these predictions")] = None,
    ) -> SubmitResult:
        """Score test-set predictions (public part), store them, and answer accuracy and PGR (never per row)."""
        who = app.identity()
        if "/" in dataset:
            raise GraderError(f"{dataset!r} is not a dataset name",
                              "send a bare name from list_datasets; only the test split is ever scored")
        return grader.submit(who, dataset, predictions, idea=idea, note=note, seed=seed)

    @app.mcp.tool(name="get_submission", annotations=READ_ONLY)
    @refusals
    def get_submission_tool(
        submission_id: Annotated[int, Field(description="id answered by submit_predictions", ge=1)],
    ) -> SubmissionView:
        """One of your submissions as stored: what you were answered, flags, idea, note, hash."""
        return get_submission(grader, app.identity(), submission_id)

    @app.mcp.tool(name="leaderboard", annotations=READ_ONLY)
    @refusals
    def leaderboard_tool(dataset: Dataset) -> Leaderboard:
        """Best grader-scored submission per agent and idea, with counts, seeds and integrity flags."""
        app.identity()
        return leaderboard(grader, dataset)

    return app
