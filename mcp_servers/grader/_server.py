"""The grader MCP server: six tools over `Grader`, identity from the bearer token."""

# no `from __future__ import annotations`: fastmcp reads these signatures, with closure-local types.
from typing import Annotated

from pydantic import Field

from mcp_servers.core import READ_ONLY, WRITES, IdempotencyKeyArg, ServerApp, refusals
from mcp_servers.grader._board import get_submission, leaderboard
from mcp_servers.grader._finals import final_selection, select_final
from mcp_servers.grader._models import DatasetInfo, FinalSelection, Leaderboard, SubmissionView, SubmitResult
from mcp_servers.grader._service import MAX_INT, Grader, GraderError, GraderSettings

INSTRUCTIONS = """Submit-and-score server for weak-to-strong research.
Submit one prediction per row of data/<dataset>/test.jsonl, in file order: 0/1 or the probability of class 1
(preference: the second answer is better; binary: the choice is correct). You get accuracy and PGR on the public
part of test, rounded and under one Ladder on the overall score (the ID and OOD parts are those of your best,
no finer than the overall step). train_unlabel is never scored. Submissions are budgeted per agent and dataset
and rate-limited: validate on train_label, submit what you mean. Mark up to a few final submissions per dataset
(select_final_submissions; default: your best public one): only those are scored on the private part, when the
operator publishes, which closes the run. Every submission is stored with your identity; the leaderboard is
built from these records only."""


def build_server(settings: GraderSettings | None = None, local_token: str | None = None) -> ServerApp[Grader]:
    settings = settings or GraderSettings()
    app = ServerApp("grader", settings, instructions=INSTRUCTIONS, local_token=local_token,
                    service=lambda server: Grader(settings, server.engine))
    grader = app.service
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
        seed: Annotated[int | None, Field(description="training seed behind these predictions", ge=0,
                                          le=MAX_INT)] = None,
        idempotency_key: IdempotencyKeyArg = None,
        ids: Annotated[list[Annotated[str, Field(max_length=256)]] | None, Field(
            description="optional row ids of the predictions (read_predictions with include_ids answers them): "
                        "when sent, a vector whose ids differ from the test file's order is refused, naming the "
                        "first differing row, instead of being scored", max_length=settings.max_predictions)] = None,
    ) -> SubmitResult:
        """Score test-set predictions (public part), store them, and answer accuracy and PGR (never per row)."""
        who = app.identity()
        if "/" in dataset:
            raise GraderError(f"{dataset!r} is not a dataset name",
                              "send a bare name from list_datasets; only the test split is ever scored")
        return grader.submit(who, dataset, predictions, idea=idea, note=note, seed=seed,
                             idempotency_key=idempotency_key, ids=ids)

    @app.mcp.tool(name="get_submission", annotations=READ_ONLY)
    @refusals
    def get_submission_tool(
        submission_id: Annotated[int, Field(description="id answered by submit_predictions", ge=1, le=MAX_INT)],
    ) -> SubmissionView:
        """One of your submissions as stored: what you were answered, flags, idea, note, hash."""
        return get_submission(grader, app.identity(), submission_id)

    @app.mcp.tool(name="leaderboard", annotations=READ_ONLY)
    @refusals
    def leaderboard_tool(dataset: Dataset) -> Leaderboard:
        """Best grader-scored submission per agent and idea, with counts, seeds and integrity flags."""
        app.identity()
        return leaderboard(grader, dataset)

    @app.mcp.tool(annotations=WRITES)
    @refusals
    def select_final_submissions(
        dataset: Dataset,
        submission_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_INT)]], Field(
            description="your submissions on this dataset to be scored on the private part (replaces any earlier "
                        "selection)", min_length=1, max_length=settings.final_selections)],
    ) -> FinalSelection:
        """Mark your final submissions on a dataset; only these are ever scored on the private part."""
        return select_final(grader, app.identity(), dataset, submission_ids)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def final_submissions(dataset: Dataset) -> FinalSelection:
        """Your final submissions on a dataset (your best public one until you mark some)."""
        return final_selection(grader, app.identity(), dataset)

    return app
