// The kernel's worker thread under Node (friscy.mjs): the same host as in a browser
// (host.js), with the image read from a file and no writable layer kept (as with
// `wasmtime run`, changes last as long as the run).

import { parentPort, workerData as cfg } from 'node:worker_threads';
import { closeSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { makeImports, Exit } from './host.js';
import { importsConsole, views } from './shared.js';
import { instantiate } from './kernel/friscy.js';

const post = (m) => parentPort.postMessage(m);

function outputBuffer() {
  const pending = [];
  let bytes = 0;
  return {
    write(fd, data) {
      pending.push([fd, data]);
      bytes += data.length;
      if (bytes >= 65536) this.flush();
    },
    flush() {
      if (!pending.length) return;
      post({ type: 'out', chunks: pending.splice(0) });
      bytes = 0;
    },
  };
}

try {
  const dir = new URL('./kernel/', import.meta.url);
  const modules = {};
  for (const n of ['friscy.core.wasm', 'friscy.core2.wasm', 'friscy.core3.wasm']) {
    modules[n] = new WebAssembly.Module(readFileSync(new URL(n, dir)));
  }
  const fd = openSync(cfg.image, 'r');
  const size = fstatSync(fd).size;
  const out = outputBuffer();
  const imports = makeImports({
    shared: views(cfg.sab),
    args: ['friscy', ...cfg.args],
    vars: cfg.vars,
    terminal: cfg.terminal,
    console: cfg.terminal ? 'raw' : 'none',
    write: (f, bytes) => out.write(f, bytes),
    beforeWait: () => out.flush(),
    rootfs: {
      size: () => size,
      read(off, len) {
        const buf = new Uint8Array(Math.max(0, Math.min(len, size - off)));
        const n = readSync(fd, buf, 0, buf.length, off);
        return n === buf.length ? buf : buf.subarray(0, n);
      },
    },
    config: new Uint8Array(readFileSync(cfg.config)),
    layer: { persistent: false, size: () => 0, read: () => new Uint8Array(0), save() {} },
    netSend: null,
  });
  const kernel = instantiate((name) => modules[name], imports);
  post({ type: 'started', tty: importsConsole(modules['friscy.core.wasm']) });
  let code = 0;
  try {
    kernel.run.run();
  } catch (e) {
    if (e instanceof Exit) code = e.code;
    else if (e?.name === 'ComponentError') code = 1;
    else throw e;
  }
  out.flush();
  closeSync(fd);
  post({ type: 'exit', code });
} catch (e) {
  post({ type: 'error', message: `${e?.stack || e}` });
}
