// Test harness: runs the real Switchboard binary on a free port with a fresh
// data dir, waits until it is ready, and offers admin-key REST helpers.
//
//   const server = await startServer();   // SWITCHBOARD_BIN, else the repository's target/debug/switchboard
//   await server.admin('POST', '/queues', {...});
//   await server.restart();                // kill -9 and start again, same data dir and port
//   await server.stop();
//
// Also workspace setup with the admin key (entry point, routing, agents).
// Run as a test file itself (node --test runs every file here), it checks
// the harness: start, restart on the same port and data, stop.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BIN = process.env.SWITCHBOARD_BIN
  || fileURLToPath(new URL('../../../target/debug/switchboard', import.meta.url));

export async function startServer({ args = [] } = {}) {
  if (!existsSync(BIN)) throw new Error(`no server binary at ${BIN} (set SWITCHBOARD_BIN)`);
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-sdk-'));
  const adminKey = `sbk_test_${randomBytes(16).toString('hex')}`;
  const server = new Server({ dataDir, adminKey, args });
  await server.start('127.0.0.1:0');
  return server;
}

class Server {
  constructor({ dataDir, adminKey, args }) {
    this.dataDir = dataDir;
    this.adminKey = adminKey;
    this.args = args;
    this.proc = null;
    this.address = null;
    this.log = [];
  }

  get baseUrl() {
    return `http://${this.address}`;
  }

  async start(listen) {
    const lockFile = join(this.dataDir, 'switchboard.db.lock');
    const proc = spawn(BIN, ['serve', '--listen', listen, '--data-dir', this.dataDir, '--admin-key', this.adminKey, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
    });
    this.proc = proc;
    const keep = (chunk) => {
      this.log.push(chunk.toString());
      if (this.log.length > 200) this.log.shift();
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    let exited = null;
    proc.once('exit', (code, signal) => (exited = { code, signal }));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`server exited (${JSON.stringify(exited)}):\n${this.log.join('')}`);
      if (Date.now() > deadline) throw new Error(`server not ready in 60 s:\n${this.log.join('')}`);
      const address = await readAddress(lockFile, proc.pid);
      if (address && (await ready(`http://${address}`))) {
        this.address = address;
        return;
      }
      await new Promise((r) => setTimeout(r, 50)); // polling the process's readiness, not a settle sleep
    }
  }

  /** SIGKILL, then start again on the same data dir and port. */
  async restart() {
    const address = this.address;
    await this.kill();
    await this.start(address);
  }

  async kill() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  async stop() {
    await this.kill();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** REST with the admin key; `path` under /api/v1. Throws with the body on a non-2xx. */
  async admin(method, path, body, { raw = false, contentType = 'application/json' } = {}) {
    const headers = { authorization: `Bearer ${this.adminKey}` };
    let payload;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(`${this.baseUrl}/api/v1${path}`, { method, headers, body: payload });
    const text = await res.text();
    if (raw) return { status: res.status, body: text ? JSON.parse(text) : null };
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

async function readAddress(lockFile, pid) {
  try {
    const lock = JSON.parse(await readFile(lockFile, 'utf8'));
    if (lock.pid !== undefined && lock.pid !== pid) return null; // a previous run's lock
    return lock.address || null;
  } catch {
    return null;
  }
}

async function ready(base) {
  try {
    const res = await fetch(`${base}/readyz`);
    return res.ok;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------ workspace setup

export async function websiteEntryPoint(server) {
  const list = await server.admin('GET', '/entry-points');
  const eps = Array.isArray(list) ? list : list.entry_points;
  const ep = eps.find((e) => e.name === 'Website') ?? eps[0];
  return ep.id;
}

/** A queue every agent serves, and a workflow that routes every chat to it. */
export async function routeEverythingTo(server, name = 'general') {
  const queue = await server.admin('POST', '/queues', { name });
  await server.admin('PUT', '/workflow', `default:\n  queue: ${name}\n`, { contentType: 'application/yaml' });
  return queue;
}

export async function createAgent(server, { name = 'Ann', capacity = 3 } = {}) {
  const login = `${name.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const password = 'correct horse battery';
  const agent = await server.admin('POST', '/agents', { name, login, password, capacity });
  return { agent, login, password };
}

/** A server whose chats on the `Website` entry point all route to one queue. */
export async function startRoutedServer() {
  const server = await startServer();
  const entryPointId = await websiteEntryPoint(server);
  await routeEverythingTo(server);
  return { server, entryPointId };
}

// ------------------------------------------------------------ the harness's own test

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { test } = await import('node:test');
  const assert = (await import('node:assert/strict')).default;
  test('the harness starts the server, restarts it on the same port and data, and stops it', async () => {
    const server = await startServer();
    try {
      assert.match(server.address, /^127\.0\.0\.1:\d+$/);
      const ep = await websiteEntryPoint(server);
      assert.match(ep, /^ept_/);
      const before = server.address;
      await server.restart();
      assert.equal(server.address, before);
      assert.equal(await websiteEntryPoint(server), ep, 'the same data after a restart');
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(server.dataDir), false, 'the data dir is removed');
  });
}
