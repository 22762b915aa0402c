// The kept rendered answers: bounded in bytes, never served across snapshots.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RenderedDocuments } from '../../daemon/xml-curl/rendered-documents.js';

const test = suite('xml_curl: rendered documents');

test('renders once per snapshot and key; a new snapshot renders afresh', () => {
  const docs = new RenderedDocuments(1 << 20);
  const snapA = {};
  const snapB = {};
  let renders = 0;
  const render = (s: string) => () => {
    renders++;
    return s;
  };
  assert.is(docs.get([snapA], 'user|1001', render('<a/>')), '<a/>');
  assert.is(docs.get([snapA], 'user|1001', render('<not-used/>')), '<a/>');
  assert.is(renders, 1);
  assert.is(docs.get([snapB], 'user|1001', render('<b/>')), '<b/>');
  assert.is(docs.get([snapA], 'user|1002', render('<c/>')), '<c/>');
  assert.is(renders, 3);
  // Rendered from a tenant's head and one extension: a new one of either renders afresh.
  const ext = {};
  assert.is(docs.get([snapA, ext], 'user|1001', render('<d/>')), '<d/>');
  assert.is(docs.get([snapA, ext], 'user|1001', render('<not-used/>')), '<d/>');
  assert.is(docs.get([snapA, {}], 'user|1001', render('<e/>')), '<e/>');
  assert.is(docs.get([snapB, ext], 'user|1001', render('<f/>')), '<f/>');
  assert.is(renders, 6);
});

test('the byte budget bounds what is kept; least recently used go first', () => {
  const budget = 64 * 1024;
  const docs = new RenderedDocuments(budget);
  const snap = {};
  const doc = 'x'.repeat(2300);
  for (let i = 0; i < 1000; i++) docs.get([snap], `user|${i}`, () => doc);
  assert.ok(docs.bytes <= budget, `${docs.bytes} bytes kept`);
  assert.ok(docs.size > 10 && docs.size < 1000, `${docs.size} kept`);
  let rendered = false;
  docs.get([snap], 'user|999', () => {
    rendered = true;
    return doc;
  });
  assert.not.ok(rendered, 'the most recent is still kept');
  docs.get([snap], 'user|0', () => {
    rendered = true;
    return doc;
  });
  assert.ok(rendered, 'the oldest was evicted');
});

test('budget 0 keeps nothing', () => {
  const docs = new RenderedDocuments(0);
  let renders = 0;
  for (let i = 0; i < 3; i++)
    assert.is(
      docs.get([{}], 'k', () => {
        renders++;
        return 'é';
      }),
      'é',
    );
  assert.is(renders, 3);
  assert.is(docs.size, 0);
});

test.run();
