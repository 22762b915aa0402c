// Rendered answers (directory users, dialplan routes) kept so REGISTER storms and
// call bursts cost no XML building, in one LRU bounded in bytes: 100k cached
// users must not mean 100k documents in memory. Entries belong to the objects
// they were rendered from (a tenant snapshot, or a head and one extension); a
// reloaded object gets a new id, so documents rendered from its predecessor are
// never served again and simply age out.
import { LRUCache } from 'lru-cache';

export class RenderedDocuments {
  private readonly lru: LRUCache<string, string> | undefined;
  private readonly ids = new WeakMap<object, number>();
  private nextId = 0;

  /** maxBytes 0: nothing is kept, every answer is rendered. */
  constructor(maxBytes: number) {
    // Size in characters (one byte each for the ASCII documents we render) plus entry overhead.
    this.lru =
      maxBytes > 0
        ? new LRUCache<string, string>({
            maxSize: maxBytes,
            sizeCalculation: (doc, key) => doc.length + key.length + 100,
          })
        : undefined;
  }

  /** The document `key` rendered from `sources` (by `render`) unless kept. */
  get(sources: readonly object[], key: string, render: () => string): string {
    if (!this.lru) return render();
    let k = key;
    for (const o of sources) {
      let id = this.ids.get(o);
      if (id === undefined) this.ids.set(o, (id = ++this.nextId));
      k = `${id}|${k}`;
    }
    let doc = this.lru.get(k);
    if (doc === undefined) {
      // xmlbuilder2 builds the document by concatenation: a rope of hundreds of small
      // strings, ~7x the size of the text. Kept flat (the same UTF-8 the socket would send).
      doc = Buffer.from(render(), 'utf8').toString('utf8');
      this.lru.set(k, doc);
    }
    return doc;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
  get bytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }
}
