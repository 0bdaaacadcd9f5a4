"""The Train page's networks editor writes the same places in every run (app_pages/train.py and
network_editor.py, STEADY), as the Draw page's canvas does (tests/e2e/test_draw_steady.py): the
page's look for a run (a fragment every 2 s) can start right after an editor's run, and then the
browser keeps what that run did not write again: the race's picker after the race was switched
off, the summary of a network no longer chosen.
"""

from streamlit.proto.WidgetStates_pb2 import WidgetState

from harness.websocket import Run, Session, left_behind, run_sync

RACE = "Race against another network"
HIDDEN = "Hidden units of the fully connected layer"


async def editor_states(url: str) -> dict[str, tuple[dict, Run]]:
    async with Session(url) as session:
        first = await session.open("train")
        assert not first.errors(), first.errors()
        fragment, race = first.widget("checkbox", RACE)
        _, hidden = first.widget("slider", HIDDEN)
        states = {}

        async def show(name: str, racing: bool, units: int) -> None:
            widgets = [WidgetState(id=race, bool_value=racing), WidgetState(id=hidden)]
            widgets[1].double_array_value.data.append(units)
            run = await session.rerun_fragment(fragment, widgets)
            assert not run.errors(), (name, run.errors())
            states[name] = (run.writes(fragment), run)

        await show("the tutorial's CNN", racing=False, units=100)
        await show("a race", racing=True, units=100)
        await show("no race", racing=False, units=100)
        await show("hidden units changed", racing=False, units=50)
        await show("hidden units back", racing=False, units=100)
        return states


def test_each_run_of_the_networks_editor_overwrites_all_the_run_before_it_wrote(server):
    states = run_sync(editor_states(server.url))
    said = {name: [e.markdown.body for e in run.elements("markdown")] for name, (_, run) in states.items()}
    assert any(
        "Race against" in label for label in [e.selectbox.label for e in states["a race"][1].elements("selectbox")]
    )
    assert sum("changed" in body.lower() for body in said["hidden units changed"]) == 1, said["hidden units changed"]
    names = list(states)
    for before, after in zip(names, names[1:]):
        stale = left_behind(states[before][0], states[after][0])
        assert not stale, f"{before} -> {after}: places the new run leaves to the browser's clean-up: {stale}"
