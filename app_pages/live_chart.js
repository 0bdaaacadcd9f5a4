// The live chart's browser half (app_pages/live_chart.py): a Streamlit components-v2 module, run in
// the page's own DOM. Streamlit calls the default export again, on the same parentElement, each
// time the data changes while the key stays: the chart made at the first call is kept and
// updated with Plotly.react, so a redraw neither replaces the element nor loses a user's zoom.

const charts = new WeakMap(); // parentElement -> { el, next, busy, observer, theme, themeKey }

// plotly.js (4.6 MB) comes once per browser page, from the app's own static folder: one script
// tag and one promise for every chart, kept on window so that a second copy of this module
// (Streamlit makes one per distinct source text) shares it too.
function loadPlotly(src) {
  if (!window.__cnnDemoPlotly) {
    window.__cnnDemoPlotly = new Promise((resolve, reject) => {
      if (window.Plotly) return resolve(window.Plotly);
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        delete window.__cnnDemoPlotly; // the next update tries again
        script.remove();
        reject(new Error(`could not load ${src}`));
      };
      document.head.appendChild(script);
    });
  }
  return window.__cnnDemoPlotly;
}

// A little of st.plotly_chart's "streamlit" theme, from the CSS variables Streamlit sets on every
// component (--st-<theme key>): the app's font and colours, muted axis labels, no vertical grid.
// As template defaults, so the figure's own settings (the projector's font size, say) win. Made
// again only when those variables change (a theme switch), not at every update.
function theme(chart, root) {
  const style = getComputedStyle(root);
  const css = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  const text = css("--st-text-color", "#31333f");
  const background = css("--st-background-color", "#ffffff");
  const grid = css("--st-border-color-light", "#e6e9ef");
  const family = css("--st-font", "sans-serif");
  const key = [text, background, grid, family].join("|");
  if (chart.themeKey === key) return chart.theme;
  const muted = { color: fade(root, text, 0.6) };
  const axis = { gridcolor: grid, zerolinecolor: grid, linecolor: grid, tickcolor: grid, tickfont: muted };
  chart.themeKey = key;
  return (chart.theme = {
    font: { family, color: text },
    paper_bgcolor: background,
    plot_bgcolor: background,
    xaxis: { ...axis, showgrid: false, title: { font: muted } },
    yaxis: { ...axis, title: { font: muted } },
    hoverlabel: { bgcolor: background, bordercolor: grid, font: { family, color: text } },
  });
}

// A CSS colour at some opacity, as rgba() (the browser parses the colour, Plotly gets numbers).
function fade(root, color, alpha) {
  const probe = document.createElement("span");
  probe.style.color = color;
  root.appendChild(probe);
  const rgb = getComputedStyle(probe).color.match(/[\d.]+/g) || [49, 51, 63];
  probe.remove();
  return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})`;
}

async function draw(chart, root) {
  chart.busy = true;
  try {
    // Updates that arrive while one is drawn (or while plotly.js loads) collapse into the latest.
    while (chart.next) {
      const { figure, config, src } = chart.next;
      chart.next = null;
      const Plotly = await loadPlotly(src);
      const template = figure.layout.template || {};
      const layout = {
        ...figure.layout,
        template: { ...template, layout: { ...theme(chart, root), ...(template.layout || {}) } },
      };
      await Plotly.react(chart.el, figure.data, layout, config);
      if (!chart.observer) {
        // The chart follows its column's width (the sidebar opens, a tablet turns).
        chart.observer = new ResizeObserver(() => {
          if (chart.el.isConnected) Plotly.Plots.resize(chart.el).catch(() => {});
        });
        chart.observer.observe(chart.el);
      }
    }
  } catch (error) {
    console.error("live chart:", error);
    if (!chart.el.classList.contains("js-plotly-plot")) chart.el.textContent = String(error);
  } finally {
    chart.busy = false;
  }
}

function dispose(root, chart) {
  chart.observer?.disconnect();
  window.Plotly?.purge(chart.el);
  charts.delete(root);
}

export default function ({ data, parentElement }) {
  // live_chart.preload(): fetch and run plotly.js now, and draw nothing
  if (data && data.preload) {
    loadPlotly(data.src).catch(() => {});
    return;
  }
  let chart = charts.get(parentElement);
  if (!chart) {
    const el = document.createElement("div");
    parentElement.appendChild(el);
    chart = { el, next: null, busy: false, observer: null };
    charts.set(parentElement, chart);
  }
  chart.next = data;
  if (!chart.busy) draw(chart, parentElement);
  // Streamlit calls the last of these when the element goes; it may also call one at once when
  // an update was overtaken by the next, so only a chart no longer on the page is let go.
  return () =>
    setTimeout(() => {
      if (!chart.el.isConnected) dispose(parentElement, chart);
    }, 0);
}
