// Table rows kept by key: a row is made once per key and filled again on each
// update, so a focused button in a row keeps its focus while the data changes.

export class KeyedRows {
  /**
   * @param {HTMLElement} tbody
   * @param {(item: any) => string} keyOf
   * @param {(item: any) => {tr: HTMLElement}} make
   */
  constructor(tbody, keyOf, make) {
    this.tbody = tbody;
    this.keyOf = keyOf;
    this.make = make;
    this.rows = new Map();
  }

  get(key) { return this.rows.get(key); }

  /** Shows `items` in order, calling `fill(row, item)` for each. */
  update(items, fill) {
    const keep = new Set(items.map(this.keyOf));
    for (const [key, row] of this.rows) {
      if (!keep.has(key)) {
        row.tr.remove();
        this.rows.delete(key);
      }
    }
    items.forEach((item, index) => {
      const key = this.keyOf(item);
      let row = this.rows.get(key);
      if (!row) {
        row = this.make(item);
        this.rows.set(key, row);
      }
      fill(row, item);
      const at = this.tbody.children[index];
      if (at !== row.tr) this.tbody.insertBefore(row.tr, at || null);
    });
  }
}
