/**
 * A job's page: one self-contained HTML file (no external scripts, styles or fonts) that draws the
 * job from its {@link JobPageData}: state and progress, the loss and images/s curves (SVG), the
 * ranks with their step and heartbeat age, the generations, the lost workers and the latest
 * pictures. Live, the page asks for `status.json` beside it every two seconds and redraws; static
 * (the run directory's job.html), it shows the data it was written with.
 */
import { escapeHtml } from '../report/html-escape.js';
import type { JobPageData } from './job-page-data.js';

/** How the page is served. */
export interface JobPageOptions {
  /** Poll `status.json` (relative to the page) and redraw. */
  readonly live: boolean;
  /** Where the pictures are, relative to the page: `pictures/` live, `` beside job.html. */
  readonly picturesBase: string;
  /** Milliseconds between polls when live; default 2000. */
  readonly pollMs?: number;
}

/** Pictures shown: the newest few (a sample grid per epoch adds up). */
const PICTURES_SHOWN = 4;

/** The page's script: draws the data, and when live fetches it again and redraws. */
const SCRIPT = String.raw`
(function () {
  var body = document.body;
  var live = body.getAttribute('data-live') === 'true';
  var base = body.getAttribute('data-pictures') || '';
  var pollMs = Number(body.getAttribute('data-poll-ms')) || 2000;
  var shown = ${PICTURES_SHOWN};
  function text(id, s) { document.getElementById(id).textContent = s; }
  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return '-';
    var a = Math.abs(x);
    return a !== 0 && (a < 0.01 || a >= 1e6) ? x.toExponential(2) : x.toFixed(digits === undefined ? 2 : digits);
  }
  function when(ms) { return ms ? new Date(ms).toLocaleTimeString() : '-'; }
  function cell(row, value) { var td = document.createElement('td'); td.textContent = value; row.appendChild(td); }
  function table(id, rows) {
    var tbody = document.querySelector('#' + id + ' tbody');
    tbody.textContent = '';
    rows.forEach(function (r) { var tr = document.createElement('tr'); r.forEach(function (v) { cell(tr, v); }); tbody.appendChild(tr); });
    if (rows.length === 0) {
      var tr = document.createElement('tr');
      var td = document.createElement('td');
      td.colSpan = document.querySelectorAll('#' + id + ' th').length;
      td.className = 'muted none';
      td.textContent = 'none';
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
  }
  var NS = 'http://www.w3.org/2000/svg';
  function svgEl(name, attrs) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  // A line chart of key over step; points that are not finite break the line.
  function chart(id, curve, key, label) {
    var svg = document.getElementById(id);
    var W = 560, H = 220, L = 64, R = 12, T = 14, B = 34;
    svg.textContent = '';
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var pts = curve.filter(function (p) { return p[key] !== null && isFinite(p[key]); });
    svg.setAttribute('data-points', String(pts.length));
    svg.appendChild(svgEl('rect', { x: L, y: T, width: W - L - R, height: H - T - B, class: 'frame' }));
    var title = svgEl('text', { x: L, y: T - 3, class: 'label' });
    title.textContent = label;
    svg.appendChild(title);
    if (pts.length === 0) {
      var none = svgEl('text', { x: W / 2, y: H / 2, class: 'label', 'text-anchor': 'middle' });
      none.textContent = 'no points yet';
      svg.appendChild(none);
      return;
    }
    var x0 = pts[0].step, x1 = pts[pts.length - 1].step;
    var ys = pts.map(function (p) { return p[key]; });
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y1 = y0 + Math.max(1e-9, Math.abs(y0) * 0.05); y0 = y0 - (y1 - y0); }
    function X(s) { return L + ((s - x0) / (x1 - x0)) * (W - L - R); }
    function Y(v) { return T + (1 - (v - y0) / (y1 - y0)) * (H - T - B); }
    [y0, (y0 + y1) / 2, y1].forEach(function (v) {
      var t = svgEl('text', { x: L - 6, y: Y(v) + 4, class: 'tick', 'text-anchor': 'end' });
      t.textContent = isFinite(v) ? String(Number(v.toPrecision(4))) : '-';
      svg.appendChild(t);
    });
    [x0, x1].forEach(function (s, i) {
      var t = svgEl('text', { x: X(s), y: H - B + 16, class: 'tick', 'text-anchor': i ? 'end' : 'start' });
      t.textContent = 'step ' + s;
      svg.appendChild(t);
    });
    var d = '', pen = 'M';
    curve.forEach(function (p) {
      if (p[key] === null || !isFinite(p[key])) { pen = 'M'; return; }
      d += pen + X(p.step).toFixed(1) + ' ' + Y(p[key]).toFixed(1) + ' ';
      pen = 'L';
    });
    svg.appendChild(svgEl('path', { d: d, class: 'line' }));
    pts.forEach(function (p) { svg.appendChild(svgEl('circle', { cx: X(p.step), cy: Y(p[key]), r: 2, class: 'point' })); });
  }
  function render(d) {
    var j = d.job;
    document.title = 'Harmonium job ' + j.id + ' (' + j.state + ')';
    text('job-id', j.id);
    var state = document.getElementById('job-state');
    state.textContent = j.state;
    state.className = 'state ' + j.state.toLowerCase();
    text('job-model', j.model);
    text('job-message', j.message || '');
    var frac = j.totalSteps > 0 ? Math.min(1, j.step / j.totalSteps) : 0;
    document.getElementById('progress-bar').style.width = (100 * frac).toFixed(1) + '%';
    text('job-progress', 'step ' + j.step + (j.totalSteps > 0 ? ' of ' + j.totalSteps : '') + ', generation ' + j.generation +
      ', ' + j.worldSize + ' of ' + j.minWorkers + '-' + j.workers + ' workers');
    var last = d.curve.length ? d.curve[d.curve.length - 1] : null;
    text('job-loss', last ? num(last.loss, 4) : '-');
    text('job-rate', last ? num(last.imagesPerSecond, 0) : '-');
    text('updated', (live ? 'live, updated ' : 'as of ') + when(d.updatedAt));
    chart('loss-chart', d.curve, 'loss', 'training loss');
    chart('rate-chart', d.curve, 'imagesPerSecond', 'images/s');
    table('ranks', d.ranks.map(function (r) {
      return [String(r.rank), r.worker, String(r.step), r.heartbeatAgeSeconds === null ? '-' : r.heartbeatAgeSeconds.toFixed(1) + ' s'];
    }));
    table('generations', d.generations.map(function (g) {
      return [String(g.generation), String(g.fromStep), String(g.workers), g.start, when(g.formedAt), when(g.firstStepAt), g.endedBecause || ''];
    }));
    table('failures', d.failures.map(function (f) {
      return [f.worker, f.reason, String(f.generation), String(f.step)];
    }));
    var pics = document.getElementById('pictures');
    var names = d.pictures.slice(-shown);
    var have = Array.prototype.map.call(pics.querySelectorAll('img'), function (i) { return i.getAttribute('data-name'); });
    if (have.join('/') !== names.join('/')) {
      pics.textContent = '';
      names.forEach(function (n) {
        var fig = document.createElement('figure');
        var img = document.createElement('img');
        img.setAttribute('data-name', n);
        img.alt = n;
        img.src = base + encodeURIComponent(n);
        var cap = document.createElement('figcaption');
        cap.textContent = n;
        fig.appendChild(img);
        fig.appendChild(cap);
        pics.appendChild(fig);
      });
    }
    text('pictures-none', names.length ? '' : 'no pictures yet');
  }
  var data = JSON.parse(document.getElementById('job-data').textContent);
  render(data);
  if (!live) return;
  function poll() {
    fetch('status.json', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (d) { data = d; render(d); body.removeAttribute('data-stale'); })
      .catch(function () { body.setAttribute('data-stale', 'true'); text('updated', 'coordinator unreachable; last update ' + when(data.updatedAt)); })
      .then(function () { var s = data.job.state; if (s === 'RUNNING' || s === 'RENDEZVOUS' || s === 'PENDING') setTimeout(poll, pollMs); });
  }
  setTimeout(poll, pollMs);
})();
`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1180px; padding: 0 1em; color: #1d2330; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
.state { padding: .1em .5em; border-radius: .3em; background: #dde; font-size: .85em; }
.state.running { background: #cfe8cf; } .state.succeeded { background: #b9e0f5; }
.state.failed, .state.cancelled { background: #f5c6c0; } .state.rendezvous { background: #f5e6b9; }
.bar { height: .5em; background: #e6e8ee; border-radius: .25em; overflow: hidden; margin: .4em 0; }
#progress-bar { height: 100%; background: #4a7bd0; }
.figures { display: flex; gap: 2em; margin: .4em 0; } .figures b { font-size: 1.2em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; } svg { width: 560px; max-width: 100%; height: auto; }
.frame { fill: none; stroke: #c8ccd6; } .line { fill: none; stroke: #4a7bd0; stroke-width: 1.5; }
.point { fill: #4a7bd0; } .label { font-size: 12px; fill: #1d2330; } .tick { font-size: 11px; fill: #5b6270; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #e2e4ea; padding: .2em .7em; text-align: left; }
#pictures { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 0; }
#pictures img { width: 260px; image-rendering: pixelated; border: 1px solid #c8ccd6; }
figcaption, .muted { color: #5b6270; font-size: .85em; }
`;

/** The page for `data`, as `opts` serves it. */
export function renderJobPage(data: JobPageData, opts: JobPageOptions): string {
  // The data rides in a JSON script element; `<` escaped so no value can close it.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const id = escapeHtml(data.job.id);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Harmonium job ${id}</title>
<style>${STYLE}</style>
</head>
<body data-live="${opts.live}" data-pictures="${escapeHtml(opts.picturesBase)}" data-poll-ms="${opts.pollMs ?? 2000}">
<h1>Harmonium job <span id="job-id">${id}</span> <span id="job-state" class="state">${escapeHtml(data.job.state)}</span></h1>
<div class="muted"><span id="job-model"></span> · <span id="updated"></span></div>
<div class="bar"><div id="progress-bar"></div></div>
<div id="job-progress"></div>
<div class="muted" id="job-message"></div>
<div class="figures"><span>loss <b id="job-loss">-</b></span><span>images/s <b id="job-rate">-</b></span></div>
<div class="charts"><svg id="loss-chart" role="img" aria-label="training loss by step"></svg><svg id="rate-chart" role="img" aria-label="images per second by step"></svg></div>
<h2>Ranks</h2>
<table id="ranks"><thead><tr><th>rank</th><th>worker</th><th>step</th><th>heartbeat age</th></tr></thead><tbody></tbody></table>
<h2>Generations</h2>
<table id="generations"><thead><tr><th>generation</th><th>from step</th><th>workers</th><th>start</th><th>formed</th><th>first step</th><th>ended because</th></tr></thead><tbody></tbody></table>
<h2>Workers lost or released</h2>
<table id="failures"><thead><tr><th>worker</th><th>reason</th><th>generation</th><th>step</th></tr></thead><tbody></tbody></table>
<h2>Pictures</h2>
<div class="muted" id="pictures-none"></div>
<div id="pictures"></div>
<script type="application/json" id="job-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
