// Transcript pages: one page at a time, or every page through an async iterator.

export async function transcriptPage(http, conversationId, { order = 'asc', afterSeq, beforeSeq, limit, segments, after, before } = {}) {
  const q = new URLSearchParams({ order });
  if (afterSeq != null) q.set('after_seq', String(afterSeq));
  if (beforeSeq != null) q.set('before_seq', String(beforeSeq));
  if (limit != null) q.set('limit', String(limit));
  // A continued chat's whole history: cursors are `cnv_…:SEQ` places instead of seqs.
  if (segments != null) q.set('segments', segments);
  if (after != null) q.set('after', after);
  if (before != null) q.set('before', before);
  const body = await http.request('GET', `/conversations/${encodeURIComponent(conversationId)}/transcript?${q}`);
  const events = body?.events ?? [];
  const desc = order === 'desc';
  let next = null;
  if (segments === 'all') {
    const cursor = desc ? body?.next_before : body?.next_after;
    if (cursor != null) next = desc ? { order, segments, before: cursor, limit } : { order, segments, after: cursor, limit };
  } else if (desc && body?.next_before_seq != null) {
    next = { order, beforeSeq: body.next_before_seq, afterSeq, limit };
  } else if (!desc && body?.next_after_seq != null) {
    next = { order, afterSeq: body.next_after_seq, beforeSeq, limit };
  }
  // A full page says "more" although nothing may follow; the next page is then empty.
  const page = { events, hasMore: next !== null, next };
  if (body?.segments) page.segments = body.segments;
  return page;
}

export async function* transcriptPages(http, conversationId, opts = {}) {
  let next = { order: 'asc', ...opts };
  let first = true;
  while (next) {
    const page = await transcriptPage(http, conversationId, next);
    // An empty page is only yielded when it is the whole answer (an empty transcript).
    if (page.events.length > 0 || first) yield page;
    first = false;
    next = page.next;
  }
}

/** Every event with after < seq < before (ascending), for filling a hole. */
export async function eventsBetween(http, conversationId, after, before) {
  const out = [];
  let cursor = after;
  for (;;) {
    const page = await transcriptPage(http, conversationId, { order: 'asc', afterSeq: cursor, beforeSeq: before, limit: 500 });
    out.push(...page.events);
    if (!page.next || page.next.afterSeq >= before - 1) return out;
    cursor = page.next.afterSeq;
  }
}
