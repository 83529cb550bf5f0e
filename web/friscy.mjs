#!/usr/bin/env node
// The site's bundle under Node (20 or later), like `wasmtime run`:
//
//   node site/friscy.mjs [-e NAME=VALUE]... [--] [CMD [ARG...]]
//
// Standard input, output and error are the process's own, the exit status is the
// guest's, and the guest's environment is exactly the -e variables (plus the image's),
// never the host's. The kernel runs in a worker thread (node-worker.mjs) on the same host
// code as in a browser (host.js); the image is decompressed once into
// $XDG_CACHE_HOME/friscy/web (or ~/.cache/friscy/web), keyed by its digest.

import { Worker } from 'node:worker_threads';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { CTRL, Feeder, createShared, forwardSignal, resize, views, wake } from './shared.js';

const site = dirname(fileURLToPath(import.meta.url));
const usage = 'usage: node friscy.mjs [-e NAME=VALUE]... [--] [CMD [ARG...]]';

function parseArgs(argv) {
  const vars = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    } else if (a === '-e' || a === '--env') {
      const v = argv[++i];
      if (v === undefined) throw new Error('-e needs NAME=VALUE');
      const eq = v.indexOf('=');
      // `-e NAME` alone passes the host's value, as docker does.
      vars.push(eq < 0 ? [v, process.env[v] ?? ''] : [v.slice(0, eq), v.slice(eq + 1)]);
    } else if (a === '-h' || a === '--help') {
      console.log(usage);
      process.exit(0);
    } else if (a.startsWith('-')) {
      throw new Error(`unknown option ${a}\n${usage}`);
    } else {
      break;
    }
  }
  return { vars, args: argv.slice(i) };
}

/** The image as an uncompressed tar on disk (the site serves it gzipped). */
async function imageFile(cfg) {
  const img = cfg.image;
  const src = join(site, img.file);
  if (!img.gzip) return src;
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'friscy', 'web');
  const out = join(cache, `${img.digest.replace(':', '-')}.tar`);
  if (existsSync(out) && statSync(out).size === img.tar_size) return out;
  mkdirSync(cache, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await pipeline(createReadStream(src), createGunzip(), createWriteStream(tmp));
  renameSync(tmp, out);
  return out;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`friscy: ${e.message}\n`);
    return 2;
  }
  const cfg = JSON.parse(readFileSync(join(site, 'friscy.json'), 'utf8'));
  const image = await imageFile(cfg);
  const sab = createShared();
  const shared = views(sab);
  const terminal = !!(process.stdin.isTTY && process.stdout.isTTY);
  if (terminal) {
    Atomics.store(shared.ctrl, CTRL.ROWS, process.stdout.rows || 0);
    Atomics.store(shared.ctrl, CTRL.COLS, process.stdout.columns || 0);
    process.stdout.on('resize', () => resize(shared.ctrl, process.stdout.rows, process.stdout.columns));
  }
  // As docker does: a signal to us goes to the guest's init (with the kernel's tty).
  for (const [name, num] of [['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.on(name, () => forwardSignal(shared.ctrl, num));
  }
  const worker = new Worker(new URL('./node-worker.mjs', import.meta.url), {
    workerData: {
      sab,
      args: opts.args,
      vars: opts.vars,
      terminal,
      image,
      config: join(site, cfg.config),
    },
  });
  const stdin = new Feeder(shared.stdin, shared.ctrl);
  process.stdin.on('data', (b) => stdin.send(new Uint8Array(b.buffer, b.byteOffset, b.length)));
  process.stdin.on('end', () => {
    const finish = () => {
      if (stdin.queue.length) return setTimeout(finish, 5);
      Atomics.store(shared.ctrl, CTRL.STDIN_EOF, 1);
      wake(shared.ctrl);
    };
    finish();
  });
  process.stdin.on('error', () => {});
  return new Promise((resolve) => {
    worker.on('message', (m) => {
      if (m.type === 'out') {
        for (const [fd, bytes] of m.chunks) (fd === 2 ? process.stderr : process.stdout).write(bytes);
      } else if (m.type === 'started') {
        // The kernel's tty does echo, line editing and ^C: our terminal goes raw.
        if (terminal && m.tty) process.stdin.setRawMode(true);
      } else if (m.type === 'exit') {
        resolve(m.code);
      } else if (m.type === 'error') {
        process.stderr.write(`friscy: ${m.message}\n`);
        resolve(125);
      }
    });
    worker.on('error', (e) => {
      process.stderr.write(`friscy: ${e.stack || e}\n`);
      resolve(125);
    });
  }).finally(() => {
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.destroy();
    worker.terminate();
  });
}

const code = await main();
// Let stdout drain before exiting with the guest's status.
process.stdout.write('', () => process.exit(code));
