"""`ci-toolkit publish --github`: a saved run's report published where GitHub shows it: the step outputs,
the job summary, annotations, and the one sticky pull-request comment (or, where the token cannot write,
the comment left as a folder for `workflows/comment.yml` to post).

Publishing never judges: its exit code is 0 whatever the verdict, and a comment that cannot be posted is a
warning annotation, never a failure of the step that carries the verdict.

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.errors import CiToolkitError, ExitCode

if TYPE_CHECKING:
    from ci_toolkit.publish.client import GitHub
    from ci_toolkit.publish.comment import Outcome
    from ci_toolkit.publish.context import GitHubContext

COMMENT_MODES = ("true", "false", "update-only")
PENDING_DIR = "pr-comment"  # in the output dir, unless --pending-dir names another folder
TOKEN_VARIABLE = "GITHUB_TOKEN"
AUTHOR_VARIABLE = "CI_TOOLKIT_COMMENT_AUTHOR"


@click.command("publish", cls=Command)
@click.option(
    "--github",
    "github",
    is_flag=True,
    help="Publish to GitHub from inside a workflow (GITHUB_* variables, the event file, GITHUB_TOKEN).",
)
@options.config_file
@options.from_dir
@click.option(
    "--comment",
    type=click.Choice(COMMENT_MODES),
    default="true",
    show_default=True,
    help="The pull-request comment: post or update it, leave it, or only update one that exists.",
)
@click.option(
    "--key",
    default=None,
    metavar="KEY",
    help="The comment's hidden marker: one comment per key on a pull request (default: report).",
)
@click.option(
    "--author",
    envvar=AUTHOR_VARIABLE,
    default=None,
    metavar="LOGIN",
    help=f"The login the token comments as, when GitHub cannot say (a GitHub App's token: NAME[bot]); "
    f"also ${AUTHOR_VARIABLE}.",
)
@click.option(
    "--pending-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help=f"Where the comment goes when the token cannot post it (a fork's pull request), for "
    f"`--from-pending` to post later (default: <output_dir>/{PENDING_DIR}).",
)
@click.option(
    "--from-pending",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="Post the comment a fork's pull request left in DIR, after checking it against the "
    "workflow_run that triggered this one (workflows/comment.yml).",
)
@click.option("--annotations/--no-annotations", default=True, show_default=True)
@click.option("--summary/--no-summary", default=True, show_default=True, help="Append to the job summary.")
def command(
    github: bool,
    config_path: Path | None,
    from_dir: Path | None,
    comment: str,
    key: str | None,
    author: str | None,
    pending_dir: Path | None,
    from_pending: Path | None,
    annotations: bool,
    summary: bool,
) -> int:
    """Publish the last run's report to GitHub: outputs, job summary, annotations, the PR comment."""
    from ci_toolkit.publish import context

    if not github:
        raise click.UsageError("say where to publish: --github (the only target so far)")
    ctx = context.from_env(os.environ)
    token = os.environ.get(TOKEN_VARIABLE, "")
    if from_pending is not None:
        return _post_pending(ctx, token, from_pending, update_only=comment == "update-only", author=author)
    return _publish(
        ctx,
        token,
        from_dir=from_dir,
        config_path=config_path,
        comment=comment,
        key=key,
        author=author,
        pending_dir=pending_dir,
        annotations=annotations,
        summary=summary,
    )


def _publish(
    ctx: GitHubContext,
    token: str,
    *,
    from_dir: Path | None,
    config_path: Path | None,
    comment: str,
    key: str | None,
    author: str | None,
    pending_dir: Path | None,
    annotations: bool,
    summary: bool,
) -> int:
    from ci_toolkit.publish import annotations as notes
    from ci_toolkit.publish import outputs, pending
    from ci_toolkit.publish import summary as job_summary
    from ci_toolkit.report import budget, json_report, markdown

    root = Path.cwd()
    if from_dir is None:
        from ci_toolkit.commands.common import load_config
        from ci_toolkit.run import layout

        config = load_config(config_path)
        root, from_dir = config.root, layout.output_path(config)
    report_path = from_dir / json_report.REPORT_FILE
    report = json_report.load(report_path)
    key = key or markdown.DEFAULT_KEY

    values = outputs.from_report(report, report_path.resolve())
    number = ctx.pull_request_number
    route = _route(ctx, token, comment, number)
    body = markdown.render(report, key=key, max_bytes=budget.COMMENT_LIMIT) if route != "none" else ""
    said: list[str] = []
    if annotations:
        for line in notes.render(notes.collect(report, root=root, workspace=ctx.workspace)):
            click.echo(line)
    if route == "post":
        assert number is not None
        problem, read_only = _post(
            ctx, token, number, body, key=key, author=author, update_only=comment == "update-only"
        )
        if read_only:
            route = "pending"  # the token cannot write here: the comment workflow posts it
        elif problem is not None:
            # The verdict stays what it is; the reader learns why the comment is missing.
            click.echo(f"::warning title=ci-toolkit::{notes.escape_data(problem)}")
            said.append(f"⚠️ {problem}")
    if route == "pending":
        assert number is not None
        folder = pending_dir or from_dir / PENDING_DIR
        pending.write(
            folder, body=body, repository=ctx.repository, number=number, head_sha=ctx.head_sha, key=key
        )
        values["pending-comment"] = str(folder.resolve())
        said.append(
            "The pull-request comment is left as an artifact for the comment workflow "
            "(workflows/comment.yml) to post: this token cannot write to the pull request."
        )
        click.echo("ci-toolkit: the pull-request comment is left for the comment workflow to post")
    if ctx.output is not None:
        outputs.write(ctx.output, values)
    if summary and ctx.step_summary is not None:
        written = job_summary.append_report(ctx.step_summary, report, notes=said)
        if written.left_out:
            click.echo(f"::warning title=ci-toolkit::{notes.escape_data(written.left_out)}")
    sys.stdout.flush()
    return int(ExitCode.OK)


def _route(ctx: GitHubContext, token: str, comment: str, number: int | None) -> str:
    """none: no comment here; pending: one the token cannot post (a fork); post: post it now."""
    if comment == "false" or number is None:
        return "none"
    if ctx.is_fork or not token:
        return "pending"
    return "post"


def _post(
    ctx: GitHubContext, token: str, number: int, body: str, *, key: str, author: str | None, update_only: bool
) -> tuple[str | None, bool]:
    """Post or update the comment. Returns why it could not be (one line, or None) and whether that is
    because the token may not write here."""
    from ci_toolkit.publish import client

    try:
        outcome = _upsert(_client(ctx, token), ctx, token, number, body, key, author, update_only)
    except client.PublishError as exc:
        return f"the pull-request comment was not posted: {exc}", exc.read_only
    except CiToolkitError as exc:
        return f"the pull-request comment was not posted: {exc}", False
    except Exception as exc:
        # A bug of ours must not cost the summary the verdict is read from: say it, as a bug.
        return (
            f"the pull-request comment was not posted: internal error {type(exc).__name__} "
            "(a bug in ci-toolkit; please report it)",
            False,
        )
    where = f": {outcome.html_url}" if outcome.html_url else ""
    click.echo(f"ci-toolkit: pull-request comment {outcome.action}{where}")
    return None, False


def _post_pending(
    ctx: GitHubContext, token: str, folder: Path, *, update_only: bool, author: str | None
) -> int:
    """workflows/comment.yml: the comment a fork's pull request left, checked against the run that made it,
    then posted. Here posting is the job's whole purpose, so a failure fails it."""
    from ci_toolkit.publish import client, pending

    left = pending.read(folder)
    run = ctx.workflow_run
    if run is None:
        raise CiToolkitError(
            f"--from-pending: the event is {ctx.event_name or 'unknown'!r}, not workflow_run: only a "
            "workflow_run workflow (workflows/comment.yml) may post a comment another run left"
        )
    gh = _client(ctx, token)
    try:
        number = pending.validate(
            gh,
            left,
            repository=ctx.repository,
            run_head_sha=run.head_sha,
            run_event=run.event,
            run_pull_requests=run.pull_requests,
        )
        outcome = _upsert(gh, ctx, token, number, left.body, left.key, author, update_only)
    except client.PublishError as exc:
        raise CiToolkitError(
            f"the pull-request comment was not posted: {exc}", ExitCode.TESTS_FAILED
        ) from None
    click.echo(f"ci-toolkit: pull-request #{number} comment {outcome.action}")
    return int(ExitCode.OK)


def _client(ctx: GitHubContext, token: str) -> GitHub:
    from ci_toolkit.publish import client

    return client.GitHub(ctx.api_url, token, policy=client.Policy.from_env(os.environ))


def _upsert(
    gh: GitHub,
    ctx: GitHubContext,
    token: str,
    number: int,
    body: str,
    key: str,
    author: str | None,
    update_only: bool,
) -> Outcome:
    """The one comment of `key` on pull request `number`: both paths find and update it the same way."""
    from ci_toolkit.publish import comment
    from ci_toolkit.report import markdown

    return comment.upsert(
        gh,
        ctx.repository,
        number,
        body,
        marker=markdown.marker(key),
        author=comment.author_for(gh, token, author),
        update_only=update_only,
    )
