// The site's Node CLI (`node SITE/friscy.mjs -- CMD`), checked like the wasmtime e2e tests
// (tests/e2e.rs): argv, exact exit status, stdout and stderr apart, stdin, exactly the -e
// environment, shell-like errors. FRISCY_SITE_BUNDLED is a site from build/rootfs.tar,
// FRISCY_SITE_ALPINE one from the Alpine fixture (web/test/run.sh makes both).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const bundled = process.env.FRISCY_SITE_BUNDLED;
const alpine = process.env.FRISCY_SITE_ALPINE;

function run(site, args, input = '') {
  const r = spawnSync(process.execPath, [join(site, 'friscy.mjs'), ...args], {
    input,
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, GUEST_MUST_NOT_SEE: 'host' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('hello prints its argv', { skip: !bundled && 'FRISCY_SITE_BUNDLED not set' }, () => {
  const r = run(bundled, ['--', '/hello', 'a', 'b']);
  assert.equal(r.stdout, 'hello from riscv64\nargv[0] = /hello\nargv[1] = a\nargv[2] = b\n', r.stderr);
  assert.equal(r.status, 0);
  // Without the leading --, and found through PATH.
  assert.equal(run(bundled, ['hello', 'x']).stdout, 'hello from riscv64\nargv[0] = hello\nargv[1] = x\n');
});

test('the exact exit status and stderr reach the caller', { skip: !bundled && 'FRISCY_SITE_BUNDLED not set' }, () => {
  for (const code of [0, 3, 42, 255]) {
    const r = run(bundled, ['--', '/bin/exit_status', String(code)]);
    assert.equal(r.stdout, `exiting with ${code}\n`);
    assert.equal(r.stderr, 'to stderr\n');
    assert.equal(r.status, code);
  }
});

test('the environment is -e plus what docker run adds (PATH, HOSTNAME, HOME)', { skip: !bundled && 'FRISCY_SITE_BUNDLED not set' }, () => {
  const r = run(bundled, ['-e', 'GREETING=hi there', '-e', 'EMPTY=', '--', '/bin/environ']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').sort();
  // The bundled image has no /etc/passwd: HOME is "/", as docker run gives it.
  assert.deepEqual(lines, ['EMPTY=', 'GREETING=hi there', 'HOME=/', 'HOSTNAME=friscy', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
});

test('missing and unrunnable commands fail like a shell', { skip: !bundled && 'FRISCY_SITE_BUNDLED not set' }, () => {
  const r = run(bundled, ['--', '/nonexistent']);
  assert.equal(r.status, 127);
  assert.match(r.stderr, /nonexistent: No such file or directory/);
  const x = run(bundled, ['--', '/bin/x86_64_elf']);
  assert.equal(x.status, 126, x.stderr);
  const none = run(bundled, []);
  assert.equal(none.status, 2, none.stderr);
  const seg = run(bundled, ['--', '/bin/segfault']);
  assert.equal(seg.status, 139, seg.stderr);
  assert.match(seg.stderr, /Segmentation fault/);
});

test('Alpine: stdin, pipelines and the image config', { skip: !alpine && 'FRISCY_SITE_ALPINE not set' }, () => {
  const r = run(alpine, ['--', '/bin/sh', '-c', 'tr a-z A-Z | wc -c; echo $((6*7)); exit 7'], 'hello\n');
  assert.equal(r.stdout, '6\n42\n', r.stderr);
  assert.equal(r.status, 7);
  // A shell reading its commands from stdin, as `echo ... | wasmtime run app.wasm` does.
  const sh = run(alpine, ['--', '/bin/sh'], 'ls /etc | wc -l\ncat /etc/alpine-release\n');
  assert.equal(sh.stdout, '35\n3.20.3\n', sh.stderr);
});
