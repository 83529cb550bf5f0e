// The sites in a real browser: Debian's Chromium (headless, playwright-core), `friscy
// serve`, and the real keyboard into xterm.js. FRISCY_SITE_BUNDLED is a site from
// build/rootfs.tar, FRISCY_SITE_ALPINE one from the Alpine fixture (web/test/run.sh makes
// both); FRISCY_PROXY is build/friscy-proxy. Every test is skipped, saying why, where
// Chromium or playwright-core is missing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserMissing, launch, serve, screen, waitFor, typeLine } from './harness.mjs';

const missing = browserMissing();
if (missing) console.log(`SKIPPED the browser tests: ${missing}`);
const bundled = process.env.FRISCY_SITE_BUNDLED;
const alpine = process.env.FRISCY_SITE_ALPINE;
const skip = (site, name) => missing || (!site && `${name} not set`);
// Ctrl-C and full-screen programs need the kernel's tty (friscy:tty/console).
const hasTty = alpine && readFileSync(join(alpine, 'kernel/friscy.js'), 'utf8').includes('friscy:tty/console');

let browser;
const servers = [];
before(async () => {
  if (!missing) browser = await launch();
});
after(async () => {
  await browser?.close();
  for (const s of servers) s.stop();
});

async function site(dir) {
  const s = await serve(dir);
  servers.push(s);
  return s.url;
}

async function open(url) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(url);
  return page;
}

const PROMPT = /# $/;

test('a non-interactive command: output and exit status reach the page', { skip: skip(bundled, 'FRISCY_SITE_BUNDLED') }, async () => {
  const url = await site(bundled);
  const page = await open(`${url}?arg=/bin/exit_status&arg=7`);
  await page.waitForFunction(() => window.friscy.exitCode !== null, null, { timeout: 30000 });
  assert.equal(await page.evaluate(() => window.friscy.exitCode), 7);
  const s = await screen(page);
  assert.match(s, /exiting with 7/);
  assert.match(s, /to stderr/);
  assert.match(await page.locator('#status').textContent(), /exited with status 7/);
  const hello = await open(`${url}?arg=/hello&arg=from%20the%20URL`);
  await waitFor(hello, /argv\[1\] = from the URL/);
  await hello.waitForFunction(() => window.friscy.exitCode === 0);
  await page.close();
  await hello.close();
});

test('Alpine: a shell in the terminal, typed at with the keyboard', { skip: skip(alpine, 'FRISCY_SITE_ALPINE') }, async () => {
  const page = await open(await site(alpine));
  await waitFor(page, PROMPT, 30000);
  assert.match(await page.locator('#name').textContent(), /alpine/);
  await typeLine(page, 'echo $((6*7))');
  await waitFor(page, /^42$/m);
  await typeLine(page, 'ls /etc | wc -l');
  await waitFor(page, /^35$/m);
  await typeLine(page, 'echo pipeline | tr a-z A-Z | sed s/LINE/LINE!/');
  await waitFor(page, /^PIPELINE!$/m);
  // (A job that ends while the shell sits at its prompt makes busybox's line editor
  // exit on the interrupted ppoll: a kernel tty matter, left to the tty work.)
  await typeLine(page, '(sleep 0.3; echo from the background) & echo started; wait; echo jobs done');
  await waitFor(page, /^started$/m);
  await waitFor(page, /^from the background$/m);
  await waitFor(page, /^jobs done$/m);
  await typeLine(page, 'echo still here');
  await waitFor(page, /^still here$/m);
  await page.close();
});

test('Alpine: files survive a reload; reset discards them; export has them', { skip: skip(alpine, 'FRISCY_SITE_ALPINE') }, async () => {
  const url = await site(alpine);
  const page = await open(url);
  await waitFor(page, PROMPT, 30000);
  const saves = () => page.evaluate(() => window.friscy.layerSaves || 0);
  const before = await saves();
  await typeLine(page, 'echo kept across visits > /root/note; rm /etc/motd; echo written');
  await waitFor(page, /^written$/m);
  // The kernel saves once the shell is idle again.
  await page.waitForFunction((n) => (window.friscy.layerSaves || 0) > n, before, { timeout: 10000 });
  // export downloads it.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  assert.equal(download.suggestedFilename(), 'layer.tar');
  const tar = readFileSync(await download.path()).toString('latin1');
  assert.match(tar, /root\/note/);
  assert.match(tar, /etc\/\.wh\.motd/);
  assert.match(tar, /kept across visits/);

  await page.reload();
  await waitFor(page, PROMPT, 30000);
  await typeLine(page, 'cat /root/note; ls /etc/motd');
  await waitFor(page, /^kept across visits$/m);
  await waitFor(page, /motd: No such file or directory/);

  const starts = await page.evaluate(() => window.friscy.starts);
  await page.click('#reset');
  await page.waitForFunction((n) => window.friscy.starts > n, starts, { timeout: 30000 });
  await waitFor(page, PROMPT, 30000);
  await typeLine(page, 'cat /root/note; ls /etc/motd');
  await waitFor(page, /can't open '\/root\/note': No such file or directory/);
  await waitFor(page, /^\/etc\/motd$/m);
  await page.close();
});

test('Alpine: wget through a real friscy-proxy to a local server', { skip: skip(alpine, 'FRISCY_SITE_ALPINE') || (!process.env.FRISCY_PROXY && 'FRISCY_PROXY not set') }, async () => {
  const http = createServer((req, res) => res.end(`hello from the host: ${req.url}\n`));
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  const port = http.address().port;
  const proxy = spawn(process.env.FRISCY_PROXY, ['--listen', '127.0.0.1:0', '--allow', `127.0.0.1:${port}`, '--token', 't0ken'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const ws = await new Promise((resolve, reject) => {
      let err = '';
      proxy.stderr.on('data', (d) => {
        err += d;
        // The whole line: a chunk may end inside the address ("ws://127" is 0.0.0.127).
        const m = err.match(/listening on (ws:\/\/\S+)\r?\n/);
        if (m) resolve(m[1]);
      });
      proxy.on('exit', () => reject(new Error(`friscy-proxy exited: ${err}`)));
    });
    const page = await open(`${await site(alpine)}?proxy=${encodeURIComponent(ws)}&token=t0ken`);
    await waitFor(page, PROMPT, 30000);
    await typeLine(page, `wget -qO- http://127.0.0.1:${port}/page; echo status $?`);
    await waitFor(page, /^hello from the host: \/page$/m);
    await waitFor(page, /^status 0$/m);
    // Off the allow-list: refused, and the shell goes on.
    await typeLine(page, `wget -qO- http://127.0.0.1:${port + 1}/ ; echo refused $?`);
    await waitFor(page, /^refused 1$/m);
    await page.close();
  } finally {
    proxy.kill();
    http.close();
  }
});

test('Alpine: without a proxy, the guest has only its loopback', { skip: skip(alpine, 'FRISCY_SITE_ALPINE') }, async () => {
  const page = await open(await site(alpine));
  await waitFor(page, PROMPT, 30000);
  // The outside is unreachable, with Linux's error for a host whose only interface is lo.
  await typeLine(page, 'wget -qO- http://10.0.0.1/; echo status $?');
  await waitFor(page, /^status 1$/m);
  assert.match(await screen(page), /wget: can't connect.*Network (is )?unreachable/i);
  // Guest processes talk to each other over 127.0.0.1 (the listener reads /dev/null: a
  // background job reading the terminal would be stopped by SIGTTIN, as on Linux).
  await typeLine(page, 'nc -l -p 7777 < /dev/null > /tmp/got & sleep 1; echo hello loopback | nc 127.0.0.1 7777; wait; echo got $(cat /tmp/got)');
  await waitFor(page, /^got hello loopback$/m, 30000);
  await page.close();
});

test('Alpine: Ctrl-C stops a foreground program and the shell survives', { skip: skip(alpine, 'FRISCY_SITE_ALPINE') || (!hasTty && 'the kernel has no tty yet (friscy:tty/console)') }, async () => {
  const page = await open(await site(alpine));
  await waitFor(page, PROMPT, 30000);
  await typeLine(page, 'sleep 100');
  await page.waitForTimeout(500);
  await page.keyboard.press('Control+C');
  await typeLine(page, 'echo survived $?');
  await waitFor(page, /^survived 130$/m, 5000);
  // A busy loop too: keystrokes reach the kernel while the guest computes.
  await typeLine(page, 'while :; do :; done');
  await page.waitForTimeout(500);
  await page.keyboard.press('Control+C');
  await typeLine(page, 'echo still here');
  await waitFor(page, /^still here$/m, 5000);
  await page.close();
});

test('Alpine: vi draws a full screen', { skip: skip(alpine, 'FRISCY_SITE_ALPINE') || (!hasTty && 'the kernel has no tty yet (friscy:tty/console)') }, async () => {
  const page = await open(await site(alpine));
  await waitFor(page, PROMPT, 30000);
  await typeLine(page, 'vi /etc/hostname');
  const rows = await page.evaluate(() => window.friscy.term.rows);
  const s = await waitFor(page, /^~\s*$/m);
  const tildes = s.split('\n').filter((l) => /^~\s*$/.test(l)).length;
  assert.ok(tildes >= rows - 4, `vi filled ${tildes} of ${rows} rows`);
  await page.keyboard.type(':q!');
  await page.keyboard.press('Enter');
  await typeLine(page, 'echo back');
  await waitFor(page, /^back$/m);
  await page.close();
});
