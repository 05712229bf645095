// What a browser downloads for each page on a first visit: the page, its
// stylesheets and every module it imports (followed through the imports),
// as files and as gzip (the server compresses each file on its own).
//
//   node web/tests/page-weight.mjs
//
// Prints a markdown table (BENCHMARKS.md, "The web pages").

import { readFileSync, existsSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The file behind a served path (`/assets/sdk/…` is the SDK, `/assets/…` is `web/`). */
function fileOf(url) {
  if (url.startsWith('/assets/sdk/')) return join(repo, 'sdk/js/src', url.slice('/assets/sdk/'.length));
  if (url.startsWith('/assets/')) return join(repo, 'web', url.slice('/assets/'.length));
  return null;
}

/** Every file a page loads, following `src`/`href` and the modules' static and dynamic imports. */
function filesOf(entry) {
  const seen = new Set([entry]);
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop();
    const text = readFileSync(file, 'utf8');
    const refs = [];
    for (const [, url] of text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) refs.push(fileOf(url));
    if (file.endsWith('.js')) {
      for (const [, spec] of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*'([^']+)'/g)) {
        refs.push(spec.startsWith('.') ? normalize(join(dirname(file), spec)) : fileOf(spec));
      }
    }
    for (const ref of refs) {
      if (ref && existsSync(ref) && !seen.has(ref)) {
        seen.add(ref);
        todo.push(ref);
      }
    }
  }
  return [...seen];
}

const pages = [
  ['widget loader (on the host page)', 'web/widget/loader.js'],
  ['widget chat panel', 'web/widget/frame.html'],
  ['agent console', 'web/console/index.html'],
  ['supervisor view', 'web/supervisor/index.html'],
  ['admin pages', 'web/admin/index.html'],
];

console.log('| page | files | bytes | gzipped |\n|---|---|---|---|');
for (const [name, entry] of pages) {
  const files = filesOf(join(repo, entry));
  const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
  const zipped = files.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`| ${name} (\`${relative(repo, join(repo, entry))}\`) | ${files.length} | ${kib(bytes)} | ${kib(zipped)} |`);
}
