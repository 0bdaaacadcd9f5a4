"""A browser session at the protocol level: Streamlit's websocket, without a browser.

A browser talks to `streamlit run` over one websocket on `/_stcore/stream`: it sends
`BackMsg`s (a rerun of the script or of one fragment, with the widgets' values) and the
server answers each run with `ForwardMsg`s (`new_session`, `navigation`, the elements as
`delta`s, `script_finished`). This speaks that protocol with Streamlit's own protobuf
classes, so a test or a benchmark can be a whole class of students while the students'
browsers, which in a classroom run on the students' own devices, cost this machine nothing.

    async with Session(server.url) as s:
        run = await s.open("draw")
        run.finished          # how the run ended: "FINISHED_SUCCESSFULLY", ...
        run.headings()        # ["Draw a digit", ...]
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

# The values of ForwardMsg.script_finished, by name.
FINISHED = {v.number: v.name for v in ForwardMsg.DESCRIPTOR.fields_by_name["script_finished"].enum_type.values}


@dataclass
class Run:
    """What the server sent for one script (or fragment) run, in order."""

    messages: list[ForwardMsg] = field(default_factory=list)
    finished: str | None = None  # a name of FINISHED, once the run has ended

    def of(self, kind: str) -> list:
        """The messages of one kind ("new_session", "navigation", "delta", ...), unwrapped."""
        return [getattr(m, kind) for m in self.messages if m.WhichOneof("type") == kind]

    def elements(self, kind: str | None = None) -> list:
        """The new elements of the run (Element protos), or those of one kind ("metric", "heading", ...)."""
        found = [d.new_element for d in self.of("delta") if d.WhichOneof("type") == "new_element"]
        return [e for e in found if kind is None or e.WhichOneof("type") == kind]

    def headings(self) -> list[str]:
        return [e.heading.body for e in self.elements("heading")]

    def pages(self) -> list[str]:
        """The URL paths of the pages that the run's navigation lists ("" is the home page)."""
        return [p.url_pathname for nav in self.of("navigation") for p in nav.app_pages]


class Session:
    """One websocket session on a running app, as one browser tab opens it."""

    def __init__(self, url: str):
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.ws = None
        self.page_script_hash = ""

    async def __aenter__(self) -> "Session":
        # The first subprotocol is the one spoken; a browser puts an XSRF token second, which
        # only matters for its auth cookies. A client that sends no Origin header is allowed.
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def open(self, page: str, query: str = "", timeout: float = 60) -> Run:
        """Open a page by its URL path ("draw", or "" for home), as a browser's first request does."""
        msg = BackMsg()
        msg.rerun_script.page_name = page
        msg.rerun_script.query_string = query
        return await self._run(msg, timeout)

    async def _run(self, msg: BackMsg, timeout: float) -> Run:
        await self.ws.send(msg.SerializeToString())
        run = Run()
        async with asyncio.timeout(timeout):
            while run.finished is None:
                forward = ForwardMsg()
                forward.ParseFromString(await self.ws.recv())
                run.messages.append(forward)
                kind = forward.WhichOneof("type")
                if kind == "new_session":
                    self.page_script_hash = forward.new_session.page_script_hash
                elif kind == "script_finished":
                    run.finished = FINISHED[forward.script_finished]
        return run


def run_sync(coroutine):
    """Run a coroutine to its end from plain code, on a thread of its own: in a test process
    Playwright's sync API may already hold an event loop on this thread, and asyncio.run
    refuses to start a second one there."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
