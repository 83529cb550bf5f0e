// The memory the kernel's worker shares with the thread that feeds it (the page, or
// Node's main thread): a control word array and byte rings. The worker never returns to
// its event loop while the kernel runs, so nothing can be posted *to* it: everything it
// must see arrives here, and it sleeps in Atomics.wait on CTRL.WAKE until it does.
// Worker -> page traffic (output, exit status, relay frames) uses postMessage, which the
// page's event loop is free to receive.

/** Slots of the control Int32Array. */
export const CTRL = {
  /** Bumped (and notified) by the feeding thread whenever anything below changes. */
  WAKE: 0,
  /** 1: standard input has ended. */
  STDIN_EOF: 1,
  /** The relay: 0 none, 1 open, 2 closed for good. */
  NET: 2,
  /** Terminal size (rows, cols) and a counter bumped on every resize. */
  ROWS: 3,
  COLS: 4,
  RESIZES: 5,
  /** Signals forwarded from the host (a bit per Linux signal number below 32). */
  SIGNALS: 6,
  SIZE: 16,
};

/** A single-producer, single-consumer byte ring in a SharedArrayBuffer. */
export class Ring {
  /** `sab` holds 8 header bytes at `offset` (write and read counters), then `cap` bytes. */
  constructor(sab, offset, cap) {
    this.idx = new Int32Array(sab, offset, 2);
    this.data = new Uint8Array(sab, offset + 8, cap);
    this.cap = cap;
  }
  static bytes(cap) {
    return 8 + cap;
  }
  used() {
    return (Atomics.load(this.idx, 0) - Atomics.load(this.idx, 1)) >>> 0;
  }
  free() {
    return this.cap - this.used();
  }
  /** Appends as much of `bytes` as fits; returns how many were taken. */
  push(bytes) {
    const n = Math.min(bytes.length, this.free());
    let w = Atomics.load(this.idx, 0) >>> 0;
    for (let i = 0; i < n; ) {
      const at = w % this.cap;
      const k = Math.min(n - i, this.cap - at);
      this.data.set(bytes.subarray(i, i + k), at);
      i += k;
      w = (w + k) >>> 0;
    }
    Atomics.store(this.idx, 0, w | 0);
    return n;
  }
  /** Removes and returns up to `max` bytes (an empty array when there are none). */
  pop(max) {
    const n = Math.min(max, this.used());
    const out = new Uint8Array(n);
    let r = Atomics.load(this.idx, 1) >>> 0;
    for (let i = 0; i < n; ) {
      const at = r % this.cap;
      const k = Math.min(n - i, this.cap - at);
      out.set(this.data.subarray(at, at + k), i);
      i += k;
      r = (r + k) >>> 0;
    }
    Atomics.store(this.idx, 1, r | 0);
    return out;
  }
  /**
   * One length-prefixed message, or false if it does not fit now. The length and the body
   * are published by one store of the write counter: the consumer runs on another thread
   * and must never see a length whose body is not there yet (it would pop a short message
   * and read the rest of the body as the next length).
   */
  pushMessage(msg) {
    if (this.free() < 4 + msg.length) return false;
    const framed = new Uint8Array(4 + msg.length);
    new DataView(framed.buffer).setUint32(0, msg.length, true);
    framed.set(msg, 4);
    this.push(framed);
    return true;
  }
  /** The next whole message, or null (also while only part of one is visible). */
  popMessage() {
    const used = this.used();
    if (used < 4) return null;
    const r = Atomics.load(this.idx, 1) >>> 0;
    let len = 0;
    for (let i = 3; i >= 0; i--) len = len * 256 + this.data[(r + i) % this.cap];
    if (used < 4 + len) return null;
    this.pop(4);
    return this.pop(len);
  }
}

const STDIN_CAP = 1 << 16;
const NET_CAP = 4 << 20;

/** The shared state, made by the feeding thread and handed to the worker. */
export function createShared() {
  const ctrlBytes = CTRL.SIZE * 4;
  const sab = new SharedArrayBuffer(ctrlBytes + Ring.bytes(STDIN_CAP) + Ring.bytes(NET_CAP));
  return sab;
}

/** Views on a SharedArrayBuffer made by `createShared`. */
export function views(sab) {
  const ctrlBytes = CTRL.SIZE * 4;
  return {
    ctrl: new Int32Array(sab, 0, CTRL.SIZE),
    stdin: new Ring(sab, ctrlBytes, STDIN_CAP),
    net: new Ring(sab, ctrlBytes + Ring.bytes(STDIN_CAP), NET_CAP),
  };
}

/** Records a new terminal size and tells the worker (a resize event for the kernel). */
export function resize(ctrl, rows, cols) {
  Atomics.store(ctrl, CTRL.ROWS, rows);
  Atomics.store(ctrl, CTRL.COLS, cols);
  Atomics.add(ctrl, CTRL.RESIZES, 1);
  wake(ctrl);
}

/** Forwards a host signal (Linux number) to the guest's init. */
export function forwardSignal(ctrl, sig) {
  Atomics.or(ctrl, CTRL.SIGNALS, 1 << sig);
  wake(ctrl);
}

/** Whether a compiled kernel imports the console (friscy:tty/console). */
export function importsConsole(module) {
  return WebAssembly.Module.imports(module).some((i) => i.module.startsWith('friscy:tty/console'));
}

/** Tells the worker something changed. */
export function wake(ctrl) {
  Atomics.add(ctrl, CTRL.WAKE, 1);
  Atomics.notify(ctrl, CTRL.WAKE);
}

/**
 * Feeds bytes into a ring, keeping what does not fit yet (a large paste, a burst of relay
 * frames) and retrying as the worker drains it.
 */
export class Feeder {
  constructor(ring, ctrl, messages = false) {
    this.ring = ring;
    this.ctrl = ctrl;
    this.messages = messages;
    this.queue = [];
    this.timer = null;
  }
  send(bytes) {
    this.queue.push(bytes);
    this.flush();
  }
  flush() {
    let moved = false;
    while (this.queue.length) {
      const head = this.queue[0];
      if (this.messages) {
        if (!this.ring.pushMessage(head)) break;
        this.queue.shift();
      } else {
        const n = this.ring.push(head);
        if (n < head.length) {
          this.queue[0] = head.subarray(n);
          moved ||= n > 0;
          break;
        }
        this.queue.shift();
      }
      moved = true;
    }
    if (moved) wake(this.ctrl);
    if (this.queue.length && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, 5);
    }
  }
}
