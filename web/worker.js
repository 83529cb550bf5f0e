// The kernel's Web Worker: instantiates the transpiled kernel with the synchronous host
// (host.js) and runs the guest. The image is read through an OPFS sync access handle (or
// from memory where OPFS is missing); the writable layer is kept in OPFS. Everything the
// page must see goes out with postMessage; everything coming in arrives in shared memory.

import { makeImports, Exit } from './host.js';
import { importsConsole, views } from './shared.js';
import { instantiate } from './kernel/friscy.js';

const post = (msg, transfer = []) => self.postMessage(msg, transfer);

/**
 * Output is batched: one message when the kernel goes idle, per 64 KiB or every 20 ms of a
 * busy guest, not one per write(2).
 */
function outputBuffer() {
  const pending = [];
  let bytes = 0;
  let since = 0;
  return {
    write(fd, data) {
      if (!pending.length) since = performance.now();
      pending.push([fd, data]);
      bytes += data.length;
      if (bytes >= 65536 || performance.now() - since > 20) this.flush();
    },
    flush() {
      if (!pending.length) return;
      post({ type: 'out', chunks: pending.splice(0) });
      bytes = 0;
    },
  };
}

async function opfsDir() {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle('friscy', { create: true });
}

async function syncHandle(name, mode) {
  const dir = await opfsDir();
  const file = await dir.getFileHandle(name, { create: true });
  try {
    return await file.createSyncAccessHandle(mode ? { mode } : undefined);
  } catch (e) {
    if (mode) return file.createSyncAccessHandle();
    throw e;
  }
}

/** The image as the rootfs import reads it. */
async function openImage(image) {
  if (image.buffer) {
    const bytes = new Uint8Array(image.buffer);
    return { size: () => bytes.length, read: (off, len) => bytes.slice(off, off + len) };
  }
  const h = await syncHandle(image.opfs, 'read-only');
  const size = h.getSize();
  return {
    size: () => size,
    read(off, len) {
      const buf = new Uint8Array(Math.max(0, Math.min(len, size - off)));
      const n = h.read(buf, { at: off });
      return n === buf.length ? buf : buf.subarray(0, n);
    },
  };
}

/** The writable layer: kept in OPFS when the page asks for it, else none. */
async function openLayer(layer) {
  const none = { persistent: false, size: () => 0, read: () => new Uint8Array(0), save() {} };
  if (!layer.opfs) return none;
  let h;
  // A reloaded page's old worker may hold the handle a little longer: wait for it.
  for (let tries = 0; !h; tries++) {
    try {
      h = await syncHandle(layer.opfs);
    } catch (e) {
      if (tries < 40) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // Another tab holds it: run, but without keeping changes.
      post({ type: 'status', text: `changes will not be kept: ${e.message}` });
      return none;
    }
  }
  const saved = new Uint8Array(h.getSize());
  h.read(saved, { at: 0 });
  post({ type: 'layer', bytes: saved.slice(), restored: true });
  return {
    persistent: true,
    size: () => saved.length,
    read: (off, len) => saved.slice(off, off + len),
    save(bytes) {
      h.truncate(0);
      h.write(bytes, { at: 0 });
      h.flush();
      post({ type: 'layer', bytes: bytes.slice() });
    },
  };
}

// The kernel is compiled as soon as the worker exists, while the page is still making
// sure of the image; the run itself waits for the page's message.
const compiled = (async () => {
  const base = new URL('./kernel/', import.meta.url);
  const names = ['friscy.core.wasm', 'friscy.core2.wasm', 'friscy.core3.wasm'];
  const modules = {};
  await Promise.all(
    names.map(async (n) => {
      modules[n] = await WebAssembly.compileStreaming(fetch(new URL(n, base)));
    }),
  );
  return modules;
})();
compiled.catch(() => {});

self.onmessage = async ({ data: cfg }) => {
  const t0 = performance.now();
  try {
    const [modules, rootfs, layer] = await Promise.all([compiled, openImage(cfg.image), openLayer(cfg.layer)]);
    const out = outputBuffer();
    const shared = views(cfg.sab);
    // With the kernel's tty the terminal is raw: the kernel echoes, edits lines, turns ^C
    // into SIGINT and NL into CR NL. Without it, the page lets xterm.js do the last.
    const tty = importsConsole(modules['friscy.core.wasm']);
    const imports = makeImports({
      shared,
      args: ['friscy', ...cfg.args],
      vars: cfg.vars,
      terminal: cfg.terminal,
      console: cfg.terminal ? 'raw' : 'none',
      write: (fd, bytes) => out.write(fd, bytes),
      beforeWait: () => out.flush(),
      rootfs,
      config: new Uint8Array(cfg.config),
      layer,
      netSend: cfg.relay ? (bytes) => post({ type: 'net', bytes }, [bytes.buffer]) : null,
    });
    const kernel = instantiate((name) => modules[name], imports);
    post({ type: 'started', ms: performance.now() - t0, tty });
    let code = 0;
    try {
      kernel.run.run();
    } catch (e) {
      if (e instanceof Exit) code = e.code;
      else if (e?.payload !== undefined || e?.name === 'ComponentError') code = 1;
      else throw e;
    }
    out.flush();
    post({ type: 'exit', code });
  } catch (e) {
    post({ type: 'error', message: `${e?.stack || e}` });
  }
};
