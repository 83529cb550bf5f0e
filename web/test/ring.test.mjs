// The shared rings between the feeding thread and the kernel's worker (web/shared.js),
// with a real second thread: the relay's messages must arrive whole and in order however
// the two threads interleave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createShared, views } from '../shared.js';

const MESSAGES = 20000;

/** Message i: i as 4 bytes, then a body of (i * 7919) % 3000 bytes of (i + k) & 255. */
function expected(i) {
  const m = new Uint8Array(4 + ((i * 7919) % 3000));
  new DataView(m.buffer).setUint32(0, i, true);
  for (let k = 4; k < m.length; k++) m[k] = (i + k) & 255;
  return m;
}

test('relay messages cross the ring whole and in order while both threads run', async () => {
  const sab = createShared();
  const { net } = views(sab);
  const producer = new Worker(
    `const { workerData } = require('node:worker_threads');
     import(workerData.shared).then(({ views }) => {
       const { net } = views(workerData.sab);
       ${expected.toString()}
       for (let i = 0; i < ${MESSAGES}; ) if (net.pushMessage(expected(i))) i++;
     });`,
    { eval: true, workerData: { sab, shared: new URL('../shared.js', import.meta.url).href } },
  );
  const exited = new Promise((resolve, reject) => {
    producer.on('exit', resolve);
    producer.on('error', reject);
  });
  const deadline = Date.now() + 60000;
  for (let i = 0; i < MESSAGES; ) {
    const m = net.popMessage();
    if (!m) {
      assert.ok(Date.now() < deadline, `message ${i} never arrived`);
      continue;
    }
    assert.deepEqual(m, expected(i), `message ${i}`);
    i++;
  }
  await exited;
  assert.equal(net.used(), 0);
});
