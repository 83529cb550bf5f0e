// The page: a terminal (xterm.js) for the container, the image fetched once into OPFS,
// the kernel in a Web Worker (worker.js), the relay's WebSocket, and the writable layer's
// reset and export. See docs/WEB.md.
//
// URL parameters: ?arg=PROG&arg=ARG... replaces the image's cmd (docker run IMAGE ARGS),
// ?env=NAME=VALUE adds a variable, ?proxy=ws://HOST:PORT/ and ?token=T name a friscy-proxy
// for the guest's sockets (or friscy.json's "proxy"), ?persist=0 keeps no changes.

import { Terminal } from './vendor/xterm.mjs';
import { FitAddon } from './vendor/addon-fit.mjs';
import { CTRL, Feeder, createShared, resize, views, wake } from './shared.js';

const $ = (id) => document.getElementById(id);
const params = new URL(location.href).searchParams;
const statusEl = $('status');
const state = { exitCode: null, lastLayer: null, status: '', timings: {} };
window.friscy = state;

function status(text) {
  state.status = text;
  statusEl.textContent = text;
}

function mark(name) {
  state.timings[name] = performance.now();
}

const mib = (n) => `${(n / (1 << 20)).toFixed(1)} MiB`;

async function opfsDir() {
  if (!navigator.storage?.getDirectory) return null;
  try {
    const root = await navigator.storage.getDirectory();
    return await root.getDirectoryHandle('friscy', { create: true });
  } catch {
    return null;
  }
}

/** A response body through gunzip if the image is compressed, counting bytes as they come. */
function imageStream(resp, gzip, onBytes) {
  let got = 0;
  const count = new TransformStream({
    transform(chunk, ctl) {
      got += chunk.length;
      onBytes(got);
      ctl.enqueue(chunk);
    },
  });
  const body = resp.body.pipeThrough(count);
  return gzip ? body.pipeThrough(new DecompressionStream('gzip')) : body;
}

/**
 * The image, downloaded once: in OPFS under its digest (a complete copy has the expected
 * size; a partial one from an interrupted visit is downloaded again), or in memory where
 * OPFS is missing. Returns what the worker needs to open it.
 */
async function ensureImage(cfg, dir) {
  const img = cfg.image;
  const name = `${img.digest.replace(':', '-')}.tar`;
  if (dir) {
    try {
      const f = await (await dir.getFileHandle(name)).getFile();
      if (f.size === img.tar_size) return { opfs: name, cached: true };
    } catch {
      // Not there yet.
    }
  }
  const resp = await fetch(img.file);
  if (!resp.ok) throw new Error(`${img.file}: HTTP ${resp.status}`);
  const total = img.size;
  const progress = (n) => status(`downloading ${cfg.name}: ${mib(n)} of ${mib(total)}`);
  const stream = imageStream(resp, img.gzip, progress);
  if (dir) {
    const handle = await dir.getFileHandle(name, { create: true });
    const w = await handle.createWritable();
    await stream.pipeTo(w);
    return { opfs: name, cached: false };
  }
  const buffer = await new Response(stream).arrayBuffer();
  return { buffer, cached: false };
}

function relayUrl(cfg) {
  const url = params.get('proxy') || cfg.proxy;
  if (!url) return null;
  const u = new URL(url, location.href);
  const token = params.get('token') || cfg.token;
  if (token) u.searchParams.set('token', token);
  return u.href;
}

/** The relay's WebSocket, on this thread: frames in go to the worker's ring. */
function openRelay(url, shared, feeder) {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  ws.onopen = () => {
    Atomics.store(shared.ctrl, CTRL.NET, 1);
    for (const m of queue.splice(0)) ws.send(m);
    wake(shared.ctrl);
  };
  ws.onmessage = (ev) => feeder.send(new Uint8Array(ev.data));
  ws.onclose = (ev) => {
    Atomics.store(shared.ctrl, CTRL.NET, 2);
    wake(shared.ctrl);
    if (ev.code !== 1000) status(`relay closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
  };
  return {
    send(bytes) {
      if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
      else if (ws.readyState === WebSocket.CONNECTING) queue.push(bytes);
    },
    close: () => ws.close(),
  };
}

const term = new Terminal({
  convertEol: true,
  cursorBlink: true,
  scrollback: 5000,
  fontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace',
  fontSize: 14,
  lineHeight: 1.1,
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open($('terminal'));
fit.fit();
term.focus();
state.term = term;

let worker = null;
let relay = null;
let layerName = null;
let resizeTarget = null;
term.onResize(({ rows, cols }) => resizeTarget && resize(resizeTarget, rows, cols));
let stdinFeeder = null;
term.onData((s) => stdinFeeder?.send(new TextEncoder().encode(s)));

async function start() {
  mark('start');
  // The worker starts compiling the kernel at once, while the image is made sure of.
  worker = new Worker('worker.js', { type: 'module' });
  const cfg = await (await fetch('friscy.json')).json();
  $('name').textContent = cfg.name;
  document.title = `${cfg.name} - friscy`;
  const configBytes = fetch(cfg.config).then((r) => r.arrayBuffer());
  const dir = await opfsDir();
  const image = await ensureImage(cfg, dir);
  mark('image');
  const config = new Uint8Array(await configBytes);
  const persist = dir && params.get('persist') !== '0';
  layerName = persist ? `${cfg.image.digest.replace(':', '-')}.layer.tar` : null;

  const sab = createShared();
  const shared = views(sab);
  Atomics.store(shared.ctrl, CTRL.ROWS, term.rows);
  Atomics.store(shared.ctrl, CTRL.COLS, term.cols);
  const stdin = new Feeder(shared.stdin, shared.ctrl);
  const netIn = new Feeder(shared.net, shared.ctrl, true);
  const url = relayUrl(cfg);
  relay = url ? openRelay(url, shared, netIn) : null;

  const args = params.getAll('arg');
  if (!args.length) args.push(...(cfg.default_args || []));
  const vars = params.getAll('env').map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
  });
  vars.push(['TERM', 'xterm-256color']);
  if (relay) vars.push(['FRISCY_RELAY', '1']);

  worker.onmessage = ({ data: m }) => {
    switch (m.type) {
      case 'out':
        for (const [, bytes] of m.chunks) term.write(bytes);
        if (!state.timings.output) mark('output');
        break;
      case 'started':
        mark('started');
        // The kernel's tty turns NL into CR NL itself (ONLCR).
        term.options.convertEol = !m.tty;
        state.starts = (state.starts || 0) + 1;
        status(`running${image.cached ? ' (image from OPFS)' : ''}${relay ? ', network through ' + url.replace(/\?.*/, '') : ''}`);
        break;
      case 'net':
        relay?.send(m.bytes);
        break;
      case 'layer':
        state.lastLayer = m.bytes;
        state.layerSaves = (state.layerSaves || 0) + (m.restored ? 0 : 1);
        break;
      case 'status':
        status(m.text);
        break;
      case 'exit':
        mark('exit');
        state.exitCode = m.code;
        status(`exited with status ${m.code}`);
        term.write(`\r\n[exited with status ${m.code}]\r\n`);
        relay?.close();
        break;
      case 'error':
        status('failed: see the terminal');
        term.write(`\r\nfriscy: ${m.message.replace(/\n/g, '\r\n')}\r\n`);
        break;
    }
  };
  worker.onerror = (e) => status(`worker failed: ${e.message}`);
  stdinFeeder = stdin;
  // onResize listeners pile up across resets: keep one, pointing at the current run.
  resizeTarget = shared.ctrl;
  worker.postMessage({
    sab,
    args,
    vars,
    terminal: true,
    config,
    image,
    layer: { opfs: layerName },
    relay: !!relay,
  });
}

window.addEventListener('resize', () => fit.fit());

$('reset').onclick = async () => {
  // The worker holds the layer's sync access handle: stop it first, then delete the file.
  worker?.terminate();
  relay?.close();
  const dir = await opfsDir();
  // The stopped worker's lock on the file goes a moment later: retry until it has.
  for (let tries = 0; dir && layerName; tries++) {
    try {
      await dir.removeEntry(layerName);
      break;
    } catch (e) {
      if (e.name === 'NotFoundError') break;
      if (tries >= 60) {
        fail(new Error(`could not discard the saved changes: ${e.message}`));
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  state.lastLayer = null;
  state.exitCode = null;
  term.reset();
  status('reset: starting again from the image');
  start().catch(fail);
};

$('export').onclick = () => {
  // The layer as last saved (the kernel saves within a second of the guest going idle,
  // and on `sync`).
  const bytes = state.lastLayer?.length ? state.lastLayer : new Uint8Array(1024);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/x-tar' }));
  a.download = 'layer.tar';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
};

function fail(e) {
  status(`failed: ${e.message || e}`);
  term.write(`\r\nfriscy: ${e.message || e}\r\n`);
}

if (!self.crossOriginIsolated) {
  fail(new Error('this page needs cross-origin isolation (COOP/COEP headers): serve it with `friscy serve`'));
} else {
  start().catch(fail);
}
