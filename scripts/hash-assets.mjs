#!/usr/bin/env node
// Gives every asset of dist/ a content hash in its name (`main.js` → `main.1a2b3c4d5e.js`) and
// rewrites the references to it: the ES module imports, the module workers' URLs
// (`new URL('…', import.meta.url)`), the wasm module's URL and the pages' <script>, <link> and
// modulepreload tags. A host may then cache every asset for ever: a changed file is a new name.
// Only the HTML pages keep their names (they are the entry points).
//
// Renaming, not `?v=hash` queries: native modules are keyed by their full URL, so one importer
// with a stale query would load a second copy of a module (two copies of the page's shared state)
// without any error, while a stale name is a loud 404.
//
// A reference is any quoted string in an asset that, resolved against the asset's own folder,
// names another asset. Assets are hashed after everything they reference (their text then holds
// the final names), so a change anywhere renames every asset that leads to it.
// Usage: node scripts/hash-assets.mjs DIST
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const dist = path.resolve(process.argv[2] || 'dist');
const HASHED = /\.(js|css|wasm)$/;
const PAGES = /\.html$/;

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const files = walk(dist);
const assets = new Set(files.filter((f) => HASHED.test(f)));
const pages = files.filter((f) => PAGES.test(f));
const isText = (f) => !f.endsWith('.wasm');

// Quoted strings that look like relative paths to an asset.
const LITERAL = /(["'])((?:\.{1,2}\/)*[\w@-][\w@./-]*\.(?:js|css|wasm))\1/g;

function referencesOf(file, text) {
  const out = [];
  for (const m of text.matchAll(LITERAL)) {
    const target = path.resolve(path.dirname(file), m[2]);
    if (assets.has(target) && target !== file) out.push({ literal: m[2], target, index: m.index + 1 });
  }
  return out;
}

const text = new Map();
const deps = new Map();
for (const f of assets) {
  if (!isText(f)) { deps.set(f, []); continue; }
  const t = fs.readFileSync(f, 'utf8');
  text.set(f, t);
  deps.set(f, referencesOf(f, t));
}

// Depth-first: an asset is renamed after all it references.
const renamed = new Map(); // old absolute path → new absolute path
const visiting = new Set();
function rel(from, to) {
  let r = path.relative(path.dirname(from), to).split(path.sep).join('/');
  if (!r.startsWith('.')) r = `./${r}`;
  return r;
}
// Keeps the reference's own style: a bare `name.wasm` stays bare, `./x.js` keeps its `./`.
function rewrite(from, literal, to) {
  const dir = path.posix.dirname(literal);
  const base = path.basename(to);
  if (!literal.includes('/')) return base;
  return dir === '.' && !literal.startsWith('./') ? base : `${dir}/${base}`;
}
function visit(f) {
  if (renamed.has(f)) return renamed.get(f);
  if (visiting.has(f)) throw new Error(`hash-assets: an import cycle through ${path.relative(dist, f)}`);
  visiting.add(f);
  let body;
  if (isText(f)) {
    let t = text.get(f);
    // Replace from the end, so that earlier indices stay valid.
    const refs = [...deps.get(f)].sort((a, b) => b.index - a.index);
    for (const r of refs) {
      const to = visit(r.target);
      const replacement = rewrite(f, r.literal, to);
      t = t.slice(0, r.index) + replacement + t.slice(r.index + r.literal.length);
    }
    body = Buffer.from(t);
  } else {
    body = fs.readFileSync(f);
  }
  const hash = crypto.createHash('sha256').update(body).digest('hex').slice(0, 10);
  const ext = path.extname(f);
  const to = `${f.slice(0, -ext.length)}.${hash}${ext}`;
  fs.writeFileSync(to, body);
  fs.unlinkSync(f);
  visiting.delete(f);
  renamed.set(f, to);
  return to;
}
for (const f of assets) visit(f);

// The pages: every src/href naming an asset.
for (const page of pages) {
  let t = fs.readFileSync(page, 'utf8');
  t = t.replace(/\b(src|href)="([^"#?:]+)"/g, (whole, attr, ref) => {
    const target = path.resolve(path.dirname(page), ref);
    const to = renamed.get(target);
    return to ? `${attr}="${rel(page, to).replace(/^\.\//, '')}"` : whole;
  });
  fs.writeFileSync(page, t);
}

// Every reference must now point at a file that exists.
for (const [, to] of renamed) {
  if (!isText(to)) continue;
  const t = fs.readFileSync(to, 'utf8');
  for (const m of t.matchAll(LITERAL)) {
    const target = path.resolve(path.dirname(to), m[2]);
    if (/\.[0-9a-f]{10}\.(js|css|wasm)$/.test(target) && !fs.existsSync(target)) {
      throw new Error(`hash-assets: ${path.relative(dist, to)} references ${m[2]}, which does not exist`);
    }
  }
}
console.error(`hash-assets: ${renamed.size} assets renamed with their content hash`);
