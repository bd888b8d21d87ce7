"""``termvault mcp``: the archive as a Model Context Protocol server over stdio.

Built on the maintained ``mcp`` SDK (``MCPServer``); install it with the ``mcp`` extra.
Every tool is a thin wrapper over ``SessionReader``, so what an agent sees is what the
CLI would show: the same search, the same rendering, redacted. The server is read-only
unless started with ``allow_restore``: only then is ``restore_session`` offered at all.
Tool failures the user can act on (an unknown id, a bad date) come back to the model as
the error sentence; stdout carries only the protocol.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import __version__
from ..errors import TermvaultError
from .reading import DEFAULT_PAGE_CHARS, MAX_LIMIT, MAX_PAGE_CHARS, SessionReader, clean

if TYPE_CHECKING:
    from ..vault import Vault

INSTRUCTIONS = """\
termvault keeps every past session of the user's coding agents (Claude Code, Codex, Gemini
CLI, Aider) and terminals, archived and indexed. Use it to recall earlier work: what was
decided, how an error was fixed, what was tried. Start with search_sessions (or
recent_sessions for the current project folder), look at a hit with show_session to see its
prompts by turn, then read_session for just the turns you need. Text is redacted: secrets
appear as [REDACTED:kind]."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

SessionId = Annotated[
    str,
    Field(
        description="A session id from search_sessions or recent_sessions (a unique prefix of at least 8 characters works).",
        min_length=1,
        max_length=300,
    ),
]
Version = Annotated[
    int | None,
    Field(
        description="An older archived version of the session; omit for the newest.",
        ge=1,
    ),
]


def _answer(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Library errors reach the model as their sentence (a crash would show it nothing)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except TermvaultError as exc:
            # Errors name paths and ids from the archive: cleaned like every answer.
            raise ToolError(clean(str(exc))) from exc

    return wrapper


def build_server(reader: SessionReader, allow_restore: bool = False) -> MCPServer:
    """The MCP server answering from ``reader``; ``allow_restore`` adds the one tool that
    writes (restore_session)."""
    server = MCPServer(
        "termvault",
        title="termvault session archive",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )

    @server.tool(annotations=READ_ONLY)
    @_answer
    def search_sessions(
        query: Annotated[
            str | None,
            Field(
                description='Words to find in the conversation text: plain words (all must match), "exact phrases" '
                "in double quotes, prefix* and AND / OR / NOT. Omit to list sessions by the filters alone, "
                "newest first.",
                max_length=1000,
            ),
        ] = None,
        source: Annotated[
            str | None,
            Field(
                description="Only sessions of this tool: claude-code, codex, gemini, aider, asciinema, native, agent-log.",
            ),
        ] = None,
        folder: Annotated[
            str | None,
            Field(description="Only sessions whose working folder contains this text (a path or part of one)."),
        ] = None,
        name: Annotated[str | None, Field(description="Only sessions whose title contains this text.")] = None,
        after: Annotated[
            str | None,
            Field(
                description="Only sessions active on or after this date: ISO (2025-03-01) or an age (7d, 3w, 2m, 1y).",
            ),
        ] = None,
        before: Annotated[
            str | None,
            Field(
                description="Only sessions active on or before this date: ISO (2025-03-31) or an age (7d, 3w).",
            ),
        ] = None,
        role: Annotated[
            Literal["user", "assistant", "tool"] | None,
            Field(
                description="Only sessions where a message of this role contains every word of the query "
                "(user = the person's prompts, assistant = the agent's replies, tool = tool calls and "
                "outputs); the hit then says in which turn. Needs a query; slower.",
            ),
        ] = None,
        limit: Annotated[int, Field(description="At most this many sessions.", ge=1, le=MAX_LIMIT)] = 10,
    ) -> dict[str, Any]:
        """Search the user's archived agent and terminal sessions.

        Returns for each match its id, name (title), source tool, working folder, start and
        last-activity times (UTC), first prompt and a short redacted snippet around the match.
        Best match first with a query, newest first without. Follow up with show_session or
        read_session using the id."""
        return reader.search(
            query, source=source, folder=folder, name=name, after=after, before=before, role=role, limit=limit
        )

    @server.tool(annotations=READ_ONLY)
    @_answer
    def recent_sessions(
        folder: Annotated[
            str,
            Field(
                description="Absolute path of the project folder, usually the current working directory; sessions "
                "recorded in it or in a folder below it are listed.",
                min_length=1,
            ),
        ],
        source: Annotated[
            str | None, Field(description="Only sessions of this tool (claude-code, codex, ...).")
        ] = None,
        limit: Annotated[int, Field(description="At most this many sessions.", ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        """List the most recent archived sessions of one project folder, newest activity first.

        Use it to see what was done earlier in the current project. Each row has the id, name,
        source tool, folder, times and first prompt."""
        return reader.recent(folder, source=source, limit=limit)

    @server.tool(annotations=READ_ONLY)
    @_answer
    def show_session(session_id: SessionId, version: Version = None) -> dict[str, Any]:
        """Show one archived session: its metadata and the outline of its prompts.

        The outline lists each user prompt (shortened) with its turn number and time; turn N
        is the N-th prompt and the replies that followed it. Use the turn numbers with
        read_session to read only what you need."""
        return reader.show(session_id, version)

    @server.tool(annotations=READ_ONLY)
    @_answer
    def read_session(
        session_id: SessionId,
        first_turn: Annotated[
            int | None,
            Field(
                description="First turn to read (see show_session); 0 is what precedes the first prompt. "
                "Omit to start at the beginning.",
                ge=0,
            ),
        ] = None,
        last_turn: Annotated[
            int | None, Field(description="Last turn to read, inclusive. Omit to read to the end.", ge=0)
        ] = None,
        detail: Annotated[
            Literal["prompts", "conversation", "full"],
            Field(
                description="prompts: the user's prompts only; conversation: prompts and the agent's replies; "
                "full: also tool calls, shortened tool outputs and terminal output."
            ),
        ] = "conversation",
        cursor: Annotated[
            str | None,
            Field(
                description="The next_cursor of the previous page, to continue reading; omit for the first page. "
                "Keep the other arguments the same."
            ),
        ] = None,
        max_chars: Annotated[
            int, Field(description="Size of one page in characters.", ge=500, le=MAX_PAGE_CHARS)
        ] = DEFAULT_PAGE_CHARS,
    ) -> dict[str, Any]:
        """Read an archived session, or a range of its turns, as Markdown, one page at a time.

        Returns the page in `markdown` and, when more follows, `next_cursor`: call again with it
        to get the next page. Secrets are redacted. Prefer a turn range over reading a long
        session whole."""
        return reader.read(
            session_id, first_turn=first_turn, last_turn=last_turn, detail=detail, cursor=cursor, max_chars=max_chars
        )

    if allow_restore:

        @server.tool(
            annotations=ToolAnnotations(
                read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
            )
        )
        @_answer
        def restore_session(session_id: SessionId, version: Version = None) -> dict[str, Any]:
            """Put an archived session's files back where its tool keeps them (so the tool can
            open or resume it), verified byte for byte. An existing file is never replaced:
            if a different one is there, nothing is written and the error says which."""
            return reader.restore(session_id, version)

    return server


def serve(vault: Vault, allow_restore: bool = False) -> None:
    """Answer MCP requests on stdin/stdout until the client closes them."""
    build_server(SessionReader(vault), allow_restore).run("stdio")


__all__ = ["build_server", "serve"]
