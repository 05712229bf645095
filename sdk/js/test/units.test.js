// The ordering and sending rules on their own, without a server: the
// sequencer (duplicates, holes, legitimate skips, a fill that fails) and the
// outbox (one in flight, order kept, retries after a lost connection).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sequencer } from '../src/sequencer.js';
import { Outbox, ConnectionLost } from '../src/outbox.js';
import { SwitchboardError } from '../src/errors.js';
import { Emitter } from '../src/emitter.js';

const ev = (seq) => ({ seq, id: `evt_${seq}`, type: 'message' });

test('the sequencer drops duplicates and fills holes from the transcript', async () => {
  const delivered = [];
  const fills = [];
  const log = new Map([1, 2, 3, 4, 5, 6].map((n) => [n, ev(n)]));
  const s = new Sequencer({
    lastSeq: 0,
    fill: async (after, before) => {
      fills.push([after, before]);
      return [...log.values()].filter((e) => e.seq > after && e.seq < before);
    },
    deliver: (e) => delivered.push(e.seq),
  });
  s.push(ev(1));
  s.push(ev(1));
  s.push(ev(2));
  assert.deepEqual(delivered, [1, 2], 'in order, synchronously, once');
  s.push(ev(5)); // 3 and 4 were lost
  s.push(ev(6));
  s.push(ev(3)); // arrives late: already filled by then
  await s.idle();
  assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(fills, [[2, 5]]);
  assert.equal(s.lastSeq, 6);
});

test('a skip the transcript does not fill is legitimate (screened events)', async () => {
  const delivered = [];
  const s = new Sequencer({ lastSeq: 10, fill: async () => [], deliver: (e) => delivered.push(e.seq) });
  s.push(ev(13));
  await s.idle();
  assert.deepEqual(delivered, [13]);
  // Long-poll answers are trusted and move the cursor past screened events.
  s.push(ev(15), { trusted: true });
  s.advanceTo(18);
  await s.idle();
  assert.deepEqual(delivered, [13, 15]);
  assert.equal(s.lastSeq, 18);
});

test('a fill that fails delivers nothing past the hole and asks for a resync', async () => {
  const delivered = [];
  let resyncs = 0;
  const s = new Sequencer({
    lastSeq: 1,
    fill: async () => {
      throw new Error('offline');
    },
    deliver: (e) => delivered.push(e.seq),
    onUnfillable: () => resyncs++,
  });
  s.push(ev(3));
  s.push(ev(4));
  await s.idle();
  assert.deepEqual(delivered, []);
  assert.equal(resyncs, 1);
  assert.equal(s.lastSeq, 1, 'resume from before the hole');
});

test('the outbox sends one at a time, in order, and retries a lost item first', async () => {
  let ready = true;
  const attempts = [];
  let loseNext = true;
  const box = new Outbox({
    isReady: () => ready,
    deliver: async (item) => {
      attempts.push(item.n);
      if (item.n === 2 && loseNext) {
        loseNext = false;
        ready = false;
        throw new ConnectionLost();
      }
      if (item.n === 3) throw new SwitchboardError({ code: 'payload_too_large' });
      return { seq: item.n };
    },
  });
  const results = [1, 2, 3, 4].map((n) => box.enqueue({ n }).then((r) => r.seq, (e) => e.code));
  await results[0];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(attempts, [1, 2], 'stopped at the lost item');
  assert.equal(box.size, 3);
  ready = true;
  box.wake();
  assert.deepEqual(await Promise.all(results), [1, 2, 'payload_too_large', 4]);
  assert.deepEqual(attempts, [1, 2, 2, 3, 4], 'the lost item went again before the later ones');
});

test('a closed outbox rejects what waits and what comes', async () => {
  const box = new Outbox({ isReady: () => false, deliver: async () => ({}) });
  const waiting = box.enqueue({});
  box.close(new SwitchboardError({ code: 'unauthenticated' }));
  await assert.rejects(waiting, { code: 'unauthenticated' });
  await assert.rejects(box.enqueue({}), { code: 'unauthenticated' });
});

test('emitter: on returns its unsubscribe, off removes, a throwing listener does not stop the others', () => {
  const e = new Emitter();
  const seen = [];
  const a = (x) => seen.push(['a', x]);
  const offB = e.on('x', (x) => seen.push(['b', x]));
  e.on('x', a);
  const origReport = globalThis.reportError;
  globalThis.reportError = () => {};
  e.on('x', () => {
    throw new Error('listener bug');
  });
  e.on('x', (x) => seen.push(['c', x]));
  e.emit('x', 1);
  offB();
  e.off('x', a);
  e.emit('x', 2);
  globalThis.reportError = origReport;
  assert.deepEqual(seen, [['b', 1], ['a', 1], ['c', 1], ['c', 2]]);
});
