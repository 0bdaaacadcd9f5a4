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
        fragment, canvas = run.component("drawable_canvas")
        stroke = [json_widget(canvas.id, canvas_value(strokes, brush))]  # harness.canvas
        run = await s.rerun_fragment(fragment, stroke)
        run.metrics()         # {"Prediction": ("7", "93% sure")}
        await s.fetch_images(run)  # what a browser loads after the run: the new pictures

A run that ends early for a rerun (a button's `st.rerun()`) is followed into the run that
replaces it, as a browser follows it. Fragments with `run_every` announce themselves with
`auto_rerun` messages; `Session.auto_reruns` keeps them, for a caller that plays the browser's
timers (the Train page's live progress).
"""

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

# The values of ForwardMsg.script_finished, by name.
FINISHED = {v.number: v.name for v in ForwardMsg.DESCRIPTOR.fields_by_name["script_finished"].enum_type.values}
ENDED_FOR_RERUN = "FINISHED_EARLY_FOR_RERUN"
SUCCESS = ("FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY")


@dataclass
class Run:
    """What the server sent for one script (or fragment) run, in order, with arrival times."""

    messages: list[ForwardMsg] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.perf_counter() of each message
    sent: float = 0.0  # time.perf_counter() when the BackMsg went out
    finished: str | None = None  # a name of FINISHED, once the run has ended

    def of(self, kind: str) -> list:
        """The messages of one kind ("new_session", "navigation", "delta", ...), unwrapped."""
        return [getattr(m, kind) for m in self.messages if m.WhichOneof("type") == kind]

    def elements(self, kind: str | None = None) -> list:
        """The new elements of the run (Element protos), or those of one kind ("metric", "heading", ...)."""
        found = [d.new_element for d in self.of("delta") if d.WhichOneof("type") == "new_element"]
        return [e for e in found if kind is None or e.WhichOneof("type") == kind]

    def seconds_to(self, kind: str) -> float | None:
        """Seconds from the request to the first element of this kind ("metric": the answer)."""
        for m, at in zip(self.messages, self.arrived):
            if m.WhichOneof("type") == "delta" and m.delta.new_element.WhichOneof("type") == kind:
                return at - self.sent
        return None

    def component(self, name: str) -> tuple[str, object]:
        """(fragment id, BidiComponent proto) of the run's first components-v2 element whose
        component name contains `name` ("drawable_canvas": the canvas)."""
        for d in self.of("delta"):
            element = d.new_element
            if d.WhichOneof("type") == "new_element" and element.WhichOneof("type") == "bidi_component":
                if name in element.bidi_component.component_name:
                    return d.fragment_id, element.bidi_component
        raise LookupError(f"no component {name!r} in this run")

    def widget(self, kind: str, label: str) -> tuple[str, str]:
        """(fragment id, widget id) of the run's first `kind` element ("checkbox", a toggle too;
        "slider", ...) with this label."""
        for d in self.of("delta"):
            element = d.new_element
            if d.WhichOneof("type") == "new_element" and element.WhichOneof("type") == kind:
                if getattr(element, kind).label == label:
                    return d.fragment_id, getattr(element, kind).id
        raise LookupError(f"no {kind} {label!r} in this run")

    def headings(self) -> list[str]:
        return [e.heading.body for e in self.elements("heading")]

    def metrics(self) -> dict[str, tuple[str, str]]:
        """{label: (value, delta)} of the run's st.metric elements."""
        return {e.metric.label: (e.metric.body, e.metric.delta) for e in self.elements("metric")}

    def errors(self) -> list[str]:
        """Exceptions and error boxes the run drew, and a run that did not end well."""
        found = [f"{e.exception.type}: {e.exception.message}" for e in self.elements("exception")]
        found += [e.alert.body for e in self.elements("alert") if e.alert.format == Alert.ERROR]
        if self.finished not in SUCCESS:
            found.append(f"run ended {self.finished}")
        return found

    def image_urls(self) -> list[str]:
        return [img.url for e in self.elements("imgs") for img in e.imgs.imgs]

    def pages(self) -> list[str]:
        """The URL paths of the pages that the run's navigation lists ("" is the home page)."""
        return [p.url_pathname for nav in self.of("navigation") for p in nav.app_pages]

    def writes(self, fragment_id: str) -> dict[tuple[int, ...], str]:
        """{delta path: "element", or "block <kind>"} of what the run wrote in one fragment, the
        last write of each place."""
        found = {}
        for m in self.messages:
            if m.WhichOneof("type") == "delta" and m.delta.fragment_id == fragment_id:
                kind = m.delta.WhichOneof("type")
                block = f"block {m.delta.add_block.WhichOneof('type')}"
                found[tuple(m.metadata.delta_path)] = "element" if kind == "new_element" else block
        return found


def left_behind(before: dict, after: dict) -> list[tuple[int, ...]]:
    """The places a fragment's run wrote (Run.writes) that its next run neither wrote again nor
    took away (an element written above a place replaces all below it). The browser removes
    those only if the next run is reported finished, which Streamlit 1.67 does not always do
    (docs/streamlit-notes.md, "Two fragments on one page"): a fragment beside a `run_every` one
    must leave none."""

    def overwritten(path: tuple[int, ...]) -> bool:
        return path in after or any(after.get(path[:i]) == "element" for i in range(1, len(path)))

    return sorted(p for p in before if not overwritten(p))


def json_widget(widget_id: str, value: str) -> WidgetState:
    """A widget's value as JSON text: how a components-v2 element (the canvas) reports its state."""
    return WidgetState(id=widget_id, json_value=value)


def trigger_widget(widget_id: str) -> WidgetState:
    """A button press."""
    return WidgetState(id=widget_id, trigger_value=True)


def component_trigger(component_id: str, event: str, value) -> WidgetState:
    """A components-v2 element's setTriggerValue(event, value), as the browser sends it: a JSON list
    of {event, value} on the element's trigger widget (Streamlit's bidi_component/main.py names it
    "$$STREAMLIT_INTERNAL_KEY_<element id>__events")."""
    return WidgetState(
        id=f"$$STREAMLIT_INTERNAL_KEY_{component_id}__events",
        json_trigger_value=json.dumps([{"event": event, "value": value}]),
    )


class Session:
    """One websocket session on a running app, as one browser tab opens it."""

    def __init__(self, url: str):
        self.base = url.rstrip("/")
        self.url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = None
        self.page_script_hash = ""
        self.auto_reruns: dict[str, float] = {}  # fragment id -> seconds between its reruns
        self._http: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __aenter__(self) -> "Session":
        # The first subprotocol is the one spoken; a browser puts an XSRF token second, which
        # only matters for its auth cookies. A client that sends no Origin header is allowed.
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self.ws.close()
        if self._http is not None:
            self._http[1].close()
            self._http = None

    async def open(self, page: str, query: str = "", timeout: float = 60) -> Run:
        """Open a page by its URL path ("draw", or "" for home), as a browser's first request does."""
        msg = BackMsg()
        msg.rerun_script.page_name = page
        msg.rerun_script.query_string = query
        return await self.send(msg, timeout)

    def rerun_message(self, widgets: list[WidgetState], fragment_id: str = "") -> BackMsg:
        """The BackMsg of a rerun of this session's page (or of one fragment of it) with these
        widget values; widgets left out keep what the server holds for them."""
        msg = BackMsg()
        msg.rerun_script.page_script_hash = self.page_script_hash
        msg.rerun_script.fragment_id = fragment_id
        msg.rerun_script.widget_states.widgets.extend(widgets)
        return msg

    async def rerun_fragment(self, fragment_id: str, widgets: list[WidgetState], timeout: float = 60) -> Run:
        return await self.send(self.rerun_message(widgets, fragment_id), timeout)

    async def rerun(self, widgets: list[WidgetState], timeout: float = 60) -> Run:
        """A rerun of the whole page, as a button press or a changed widget outside fragments makes."""
        return await self.send(self.rerun_message(widgets), timeout)

    async def send(self, msg: BackMsg | bytes, timeout: float = 60) -> Run:
        """Send a BackMsg (or its bytes, made once for many sends) and read its run to the end."""
        run = Run(sent=time.perf_counter())
        await self.ws.send(msg if isinstance(msg, bytes) else msg.SerializeToString())
        async with asyncio.timeout(timeout):
            while run.finished is None:
                forward = ForwardMsg()
                forward.ParseFromString(await self.ws.recv())
                run.messages.append(forward)
                run.arrived.append(time.perf_counter())
                kind = forward.WhichOneof("type")
                if kind == "navigation":  # the page's own hash (new_session's is app.py's)
                    self.page_script_hash = forward.navigation.page_script_hash
                elif kind == "new_session":
                    if not forward.metadata.run.fragment_ids:
                        self.auto_reruns.clear()  # a whole page run: its fragments announce their timers anew
                elif kind == "auto_rerun":
                    self.auto_reruns[forward.auto_rerun.fragment_id] = forward.auto_rerun.interval
                elif kind == "stop_auto_rerun":
                    self.auto_reruns.pop(forward.stop_auto_rerun.fragment_id, None)
                elif kind == "script_finished":
                    status = FINISHED[forward.script_finished]
                    if status != ENDED_FOR_RERUN:  # st.rerun(): the next run follows on the same socket
                        run.finished = status
        return run

    async def fetch(self, path: str) -> bytes:
        """GET a file of the server (a picture under /media/) on this session's own keep-alive
        connection, as the browser's page loads its <img>s."""
        for _ in range(2):
            if self._http is None:
                parts = urlsplit(self.base)
                self._http = await asyncio.open_connection(parts.hostname, parts.port)
            reader, writer = self._http
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                await writer.drain()
                status = await reader.readline()
            except (ConnectionResetError, BrokenPipeError):
                status = b""  # closed as we asked, rather than before: the same, as a browser sees it
            if status:
                break
            # The server closes a keep-alive connection idle for a few seconds: open another.
            writer.close()
            self._http = None
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await reader.readexactly(length)
        if b" 200 " not in status:
            raise OSError(f"GET {path}: {status.decode(errors='replace').strip()}")
        return body

    async def fetch_images(self, run: Run) -> int:
        """Load the run's pictures; returns the bytes read."""
        return sum([len(await self.fetch(url)) for url in run.image_urls()])


def run_sync(coroutine):
    """Run a coroutine to its end from plain code, on a thread of its own: in a test process
    Playwright's sync API may already hold an event loop on this thread, and asyncio.run
    refuses to start a second one there."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
