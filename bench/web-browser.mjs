// bench/web.sh's browser half (headless Chromium through web/test/harness.mjs):
//
//   node bench/web-browser.mjs cpu SITE SCALE REPEAT PROG...   "PROG seconds" per line:
//        best time from the kernel's start to the guest's exit, `?arg=/PROG&arg=SCALE`
//   node bench/web-browser.mjs startup SITE 0 REPEAT           navigation to the shell
//        prompt, first visit (fresh profile) and second (image in OPFS), best of REPEAT

import { launch, screen, serve, waitFor } from '../web/test/harness.mjs';

const [mode, site, scale, repeat, ...progs] = process.argv.slice(2);
const server = await serve(site);
try {
  if (mode === 'cpu') {
    const browser = await launch();
    for (const p of progs) {
      let best = Infinity;
      let out = '';
      for (let i = 0; i < Number(repeat); i++) {
        const page = await browser.newPage();
        await page.goto(`${server.url}?arg=/${p}&arg=${scale}&persist=0`);
        await page.waitForFunction(() => window.friscy.exitCode !== null, null, { timeout: 600000 });
        const t = await page.evaluate(() => window.friscy.timings);
        best = Math.min(best, (t.exit - t.started) / 1000);
        // The program's output (its checksum), for bench/web.sh to compare.
        out = (await screen(page)).split('\n')[0];
        await page.close();
      }
      console.log(`${p} ${best.toFixed(3)} ${out}`);
    }
    await browser.close();
  } else {
    const first = [];
    const second = [];
    for (let i = 0; i < Number(repeat); i++) {
      const browser = await launch();
      for (const list of [first, second]) {
        const page = await browser.newPage();
        const t0 = Date.now();
        await page.goto(server.url);
        await waitFor(page, /# $/, 60000);
        list.push(Date.now() - t0);
        const t = await page.evaluate(() => window.friscy.timings);
        console.error(`visit: ${Date.now() - t0} ms (page ${t.start.toFixed(0)}, image ${t.image.toFixed(0)}, started ${t.started.toFixed(0)}, output ${t.output.toFixed(0)})`);
        await page.close();
      }
      await browser.close();
    }
    console.log(`first visit to prompt: best ${Math.min(...first)} ms of [${first.join(', ')}]`);
    console.log(`second visit to prompt: best ${Math.min(...second)} ms of [${second.join(', ')}]`);
  }
} finally {
  server.stop();
}
