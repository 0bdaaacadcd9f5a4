// The tiles of the class's wall (app_pages/wall_tiles.py): one element for the whole wall, drawn
// in the page's own DOM. Each look of the wall sends the tiles again; a tile already on the page
// is kept as it is (its picture not loaded again), new ones are made, gone ones removed, and the
// order follows the data. Names and answers go in with textContent: a student's name is never
// read as HTML. The teacher's two buttons send a trigger value, {kind, id}, which the server
// checks (a student's forged press is refused there, not here).

const walls = new WeakMap(); // parentElement -> { grid, tiles: Map(id -> tile element) }

// Material-style icons as inline SVG paths: no font or network needed.
const ICONS = {
  spot: "M15.5 14h-.79l-.28-.27A6.47 6.47 0 0 0 16 9.5 6.5 6.5 0 1 0 9.5 16c1.61 0 3.09-.59 4.23-1.57l.27.28v.79l5 4.99L20.49 19zm-6 0C7.01 14 5 11.99 5 9.5S7.01 5 9.5 5 14 7.01 14 9.5 11.99 14 9.5 14m.5-7H9v2H7v1h2v2h1v-2h2V9h-2z",
  remove: "M6 19c0 1.1.9 2 2 2h8c1.1 0 2-.9 2-2V7H6zM8 9h8v10H8zm7.5-5-1-1h-5l-1 1H5v2h14V4z",
};

function iconButton(kind, id, label, send) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `wall-button wall-${kind}`;
  button.title = label; // the tooltip, as the buttons' help said before
  button.setAttribute("aria-label", label);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[kind]);
  svg.appendChild(path);
  button.appendChild(svg);
  button.addEventListener("click", () => send("action", { kind, id }));
  return button;
}

function makeTile(tile, data, send) {
  const el = document.createElement("div");
  el.className = "wall-tile";
  el.dataset.sentId = String(tile.id);
  const img = document.createElement("img");
  img.src = tile.src;
  img.alt = tile.answer;
  const name = document.createElement("div");
  name.className = "wall-name";
  name.textContent = tile.name;
  const answer = document.createElement("div");
  answer.className = "wall-answer";
  answer.textContent = tile.answer;
  el.append(img, name, answer);
  if (data.teacher) {
    const row = document.createElement("div");
    row.className = "wall-buttons";
    row.append(
      iconButton("spot", tile.id, data.spot_help, send),
      iconButton("remove", tile.id, data.remove_help, send),
    );
    el.appendChild(row);
  }
  return el;
}

export default function ({ data, parentElement, setTriggerValue }) {
  let wall = walls.get(parentElement);
  if (!wall) {
    const grid = document.createElement("div");
    grid.className = "wall-tiles";
    parentElement.appendChild(grid);
    wall = { grid, tiles: new Map(), setTriggerValue };
    wall.send = (name, value) => wall.setTriggerValue(name, value);
    walls.set(parentElement, wall);
  }
  wall.setTriggerValue = setTriggerValue; // the latest call's: the buttons' clicks go through it
  wall.grid.style.setProperty("--tile-width", `${data.width}px`);
  wall.grid.style.setProperty("--tile-scale", String(data.scale));
  const wanted = new Set(data.tiles.map((tile) => tile.id));
  for (const [id, el] of wall.tiles) {
    if (!wanted.has(id)) {
      el.remove();
      wall.tiles.delete(id);
    }
  }
  data.tiles.forEach((tile, i) => {
    let el = wall.tiles.get(tile.id);
    // A tile is the same while its id, name, answer and role are: a renamed student, or the
    // viewer becoming the teacher, makes it anew.
    const signature = `${tile.name}\u0000${tile.answer}\u0000${data.teacher ? 1 : 0}`;
    if (el && el.dataset.signature !== signature) {
      el.remove();
      el = undefined;
    }
    if (!el) {
      el = makeTile(tile, data, wall.send);
      el.dataset.signature = signature;
      wall.tiles.set(tile.id, el);
    }
    const there = wall.grid.children[i] || null; // tiles 0 .. i-1 are in place already
    if (el !== there) wall.grid.insertBefore(el, there);
  });
}
