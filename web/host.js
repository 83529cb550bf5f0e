// The kernel's imports, implemented synchronously for a Web Worker (and Node's
// worker_threads): the component is transpiled by jco with `--instantiation sync`, and this
// object is what it is instantiated with, so no WASI shim is involved. Every blocking wait
// (wasi:io/poll) sleeps in Atomics.wait on the shared wake word (shared.js); the feeding
// thread bumps it when input, relay frames or terminal events arrive.

import { CTRL } from './shared.js';

/** Thrown by wasi:cli/exit to unwind out of the component with the guest's status. */
export class Exit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.code = code;
  }
}

const nowNs = () => BigInt(Math.round(performance.now() * 1e6));

/**
 * env: { shared: {ctrl, stdin, net}, args: string[], vars: [name, value][],
 *        terminal: boolean (wasi:cli/terminal-*), console: 'none' | 'raw' | 'cooked'
 *        (friscy:tty/console's mode), write(fd, bytes), rootfs: {size(), read(offset, len)},
 *        config: Uint8Array, layer: {persistent, size(), read(offset, len), save(bytes)},
 *        netSend(bytes) (null without a relay), beforeWait() (called before sleeping) }
 */
export function makeImports(env) {
  const { ctrl, stdin, net } = env.shared;

  class Pollable {
    /** `ready()` says whether it is ready now; `deadline` (ns) makes it a timer. */
    constructor(ready, deadline = null) {
      this.isReady = ready;
      this.deadline = deadline;
    }
    ready() {
      return this.isReady() || (this.deadline !== null && nowNs() >= this.deadline);
    }
    block() {
      poll([this]);
    }
  }

  /** wasi:io/poll.poll: the indices of the ready pollables, sleeping until one is. */
  function poll(list) {
    for (;;) {
      // Read the wake word before looking, so an event after the look ends the wait.
      const seen = Atomics.load(ctrl, CTRL.WAKE);
      const ready = [];
      let deadline = null;
      list.forEach((p, i) => {
        if (p.ready()) ready.push(i);
        if (p.deadline !== null && (deadline === null || p.deadline < deadline)) deadline = p.deadline;
      });
      if (ready.length) return new Uint32Array(ready);
      const ms = deadline === null ? Infinity : Math.max(0, Number(deadline - nowNs()) / 1e6);
      env.beforeWait?.();
      Atomics.wait(ctrl, CTRL.WAKE, seen, ms);
    }
  }

  const always = () => true;
  const stdinReady = () => stdin.used() > 0 || Atomics.load(ctrl, CTRL.STDIN_EOF) === 1;

  class InputStream {
    read(len) {
      const data = stdin.pop(Number(len));
      if (data.length === 0 && Atomics.load(ctrl, CTRL.STDIN_EOF) === 1) {
        return { tag: 'err', val: { tag: 'closed' } };
      }
      return data;
    }
    subscribe() {
      return new Pollable(stdinReady);
    }
  }

  class OutputStream {
    constructor(fd) {
      this.fd = fd;
    }
    checkWrite() {
      return 1n << 20n;
    }
    write(bytes) {
      env.write(this.fd, bytes);
    }
    blockingWriteAndFlush(bytes) {
      env.write(this.fd, bytes);
    }
    blockingFlush() {}
    subscribe() {
      return new Pollable(always);
    }
  }

  class TerminalInput {}
  class TerminalOutput {}
  // wasi:filesystem: no preopens in a browser, but the types must exist.
  class Descriptor {}
  class DirectoryEntryStream {}
  class IoError {
    toDebugString() {
      return 'error';
    }
  }

  const stdinStream = new InputStream();
  const stdoutStream = new OutputStream(1);
  const stderrStream = new OutputStream(2);

  const netReady = () => net.used() > 0 || Atomics.load(ctrl, CTRL.NET) === 2;

  // friscy:tty/console: the size and the resize counter live in the control words (the
  // feeding thread writes them), forwarded signals as one bit per Linux number.
  let resizesSeen = Atomics.load(ctrl, CTRL.RESIZES);
  const consoleReady = () =>
    Atomics.load(ctrl, CTRL.RESIZES) !== resizesSeen || Atomics.load(ctrl, CTRL.SIGNALS) !== 0;
  const winsize = () => {
    const rows = Atomics.load(ctrl, CTRL.ROWS);
    const cols = Atomics.load(ctrl, CTRL.COLS);
    return rows > 0 && cols > 0 ? { rows, cols } : undefined;
  };
  function consoleEvents() {
    const out = [];
    const n = Atomics.load(ctrl, CTRL.RESIZES);
    if (n !== resizesSeen) {
      resizesSeen = n;
      const w = winsize();
      if (w) out.push({ tag: 'resize', val: w });
    }
    const sigs = Atomics.exchange(ctrl, CTRL.SIGNALS, 0);
    for (let sig = 1; sig < 32; sig++) if (sigs & (1 << sig)) out.push({ tag: 'signal', val: sig });
    return out;
  }

  function randomBytes(len) {
    const out = new Uint8Array(Number(len));
    for (let i = 0; i < out.length; i += 65536) {
      crypto.getRandomValues(out.subarray(i, Math.min(out.length, i + 65536)));
    }
    return out;
  }

  return {
    'wasi:cli/environment': {
      getEnvironment: () => env.vars,
      getArguments: () => env.args,
    },
    'wasi:cli/exit': {
      exit: (status) => {
        throw new Exit(status.tag === 'ok' ? 0 : 1);
      },
      exitWithCode: (code) => {
        throw new Exit(code);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdinStream },
    'wasi:cli/stdout': { getStdout: () => stdoutStream },
    'wasi:cli/stderr': { getStderr: () => stderrStream },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => (env.terminal ? new TerminalInput() : undefined) },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => (env.terminal ? new TerminalOutput() : undefined) },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => (env.terminal ? new TerminalOutput() : undefined) },
    'wasi:clocks/monotonic-clock': {
      now: nowNs,
      subscribeInstant: (when) => new Pollable(() => false, when),
      subscribeDuration: (d) => new Pollable(() => false, nowNs() + d),
    },
    'wasi:clocks/wall-clock': {
      now: () => {
        const ms = performance.timeOrigin + performance.now();
        const seconds = Math.floor(ms / 1000);
        return { seconds: BigInt(seconds), nanoseconds: Math.floor((ms - seconds * 1000) * 1e6) };
      },
    },
    'wasi:random/random': { getRandomBytes: randomBytes },
    'wasi:random/insecure-seed': {
      insecureSeed: () => {
        const v = new BigUint64Array(randomBytes(16).buffer);
        return [v[0], v[1]];
      },
    },
    'wasi:io/poll': { Pollable, poll },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:io/error': { Error: IoError },
    // filesystem-error-code: whether a stream error is a filesystem error. Ours never are
    // (no files are opened through wasi:filesystem here): none.
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: () => undefined,
    },
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'friscy:vfs/rootfs': {
      size: () => BigInt(env.rootfs.size()),
      read: (offset, len) => env.rootfs.read(Number(offset), len),
      // `read` is one copy from JS (jco); `read-words` is for components behind
      // wasmtime's adapters. Provided for completeness: aligned offsets only.
      prefersWords: () => false,
      readWords: (offset, len) => {
        if (offset % 8n !== 0n) return new BigUint64Array(0);
        const bytes = env.rootfs.read(Number(offset), len);
        const padded = new Uint8Array(Math.ceil(bytes.length / 8) * 8);
        padded.set(bytes);
        return new BigUint64Array(padded.buffer);
      },
    },
    'friscy:vfs/image': { config: () => env.config },
    'friscy:vfs/layer': {
      persistent: () => env.layer.persistent,
      size: () => BigInt(env.layer.size()),
      read: (offset, len) => env.layer.read(Number(offset), len),
      save: (bytes) => env.layer.save(bytes),
    },
    'friscy:tty/console': {
      mode: () => env.console || 'none',
      size: winsize,
      events: consoleEvents,
      subscribe: () => new Pollable(consoleReady),
    },
    'friscy:net/transport': {
      send: (message) => {
        if (!env.netSend || Atomics.load(ctrl, CTRL.NET) === 2) {
          return { tag: 'err', val: { reason: 'the relay is closed' } };
        }
        env.netSend(message);
      },
      tryRecv: () => {
        const msg = net.popMessage();
        if (msg) return msg;
        if (Atomics.load(ctrl, CTRL.NET) === 2 || !env.netSend) {
          return { tag: 'err', val: { reason: 'the relay is closed' } };
        }
        return undefined;
      },
      subscribe: () => new Pollable(netReady),
    },
  };
}
