"use strict";
// What every test file shares: the server's coordinates (from the environment
// the Rust test sets), the published AWS clients pointed at it, the agent's
// side through Switchboard's own API, and waiting for things without sleeping.

const assert = require("node:assert/strict");
const WebSocket = require("ws");
const { ConnectClient, StartChatContactCommand } = require("@aws-sdk/client-connect");
const { ConnectParticipantClient } = require("@aws-sdk/client-connectparticipant");

/** How long anything that should happen promptly may take. */
const PROMPTLY_MS = 10_000;

function need(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(
      `${name} is not set: these tests are run by crates/server/tests/it/connect_clients.rs, which starts a server and sets it`,
    );
  }
  return v;
}

const env = {
  get url() {
    return need("SB_URL");
  },
  get instanceId() {
    return need("SB_INSTANCE_ID");
  },
  get contactFlowId() {
    return need("SB_CONTACT_FLOW_ID");
  },
  get accessKeyId() {
    return need("SB_ACCESS_KEY_ID");
  },
  get secretAccessKey() {
    return need("SB_ACCESS_KEY_SECRET");
  },
  get agentToken() {
    return need("SB_AGENT_TOKEN");
  },
  get adminKey() {
    return need("SB_ADMIN_KEY");
  },
};

const REGION = "us-east-1";

function connectClient(secret = env.secretAccessKey) {
  return new ConnectClient({
    region: REGION,
    endpoint: env.url,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: secret },
    maxAttempts: 1,
  });
}

/** The Participant Service client exactly as ChatJS builds it: empty keys, bearer tokens. */
function participantClient() {
  return new ConnectParticipantClient({
    region: REGION,
    endpoint: env.url,
    credentials: { accessKeyId: "", secretAccessKey: "" },
    maxAttempts: 1,
  });
}

/** StartChatContact as a widget's back end calls it; returns the response. */
async function startChat(extra = {}) {
  const res = await connectClient().send(
    new StartChatContactCommand({
      InstanceId: env.instanceId,
      ContactFlowId: env.contactFlowId,
      ParticipantDetails: { DisplayName: "Jane" },
      ...extra,
    }),
  );
  assert.ok(res.ContactId, `StartChatContact answered without a ContactId: ${JSON.stringify(res)}`);
  assert.ok(res.ParticipantId, "StartChatContact answered without a ParticipantId");
  assert.ok(res.ParticipantToken, "StartChatContact answered without a ParticipantToken");
  return res;
}

/**
 * Things that arrive over time, and promises for the first one that matches.
 * `waitFor` looks at what already came too, so nothing is missed between
 * "it was sent" and "we began to wait".
 */
class Inbox {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (w.predicate(item)) {
        clearTimeout(w.timer);
        w.resolve(item);
        return false;
      }
      return true;
    });
  }

  waitFor(predicate, what, ms = PROMPTLY_MS) {
    const seen = this.items.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { predicate, resolve };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(
          new Error(
            `${this.name}: no ${what} within ${ms} ms; got ${this.items.length} item(s):\n` +
              this.items.map((i) => "  " + JSON.stringify(i)).join("\n"),
          ),
        );
      }, ms);
      this.waiters.push(w);
    });
  }

  count(predicate) {
    return this.items.filter(predicate).length;
  }
}

/**
 * An agent on Switchboard's own agent socket (`/api/v1/stream?token=sba_…`,
 * docs/stream.md): it takes offers for the chats a test names, and talks in them.
 */
class Agent {
  static async online() {
    const a = new Agent();
    await a.open();
    return a;
  }

  constructor() {
    this.frames = new Inbox("agent socket");
    this.refs = 0;
  }

  async open() {
    const wsUrl = env.url.replace(/^http/, "ws") + `/api/v1/stream?token=${encodeURIComponent(env.agentToken)}`;
    this.ws = new WebSocket(wsUrl);
    this.ws.on("message", (data) => this.frames.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
    await this.frames.waitFor((f) => f.type === "hello", "hello frame");
    const ack = await this.command({ type: "activity", activity: "available" });
    assert.equal(ack.result.available, true, `the agent did not become available: ${JSON.stringify(ack)}`);
  }

  /** Sends a frame with a fresh `ref` and waits for its `ack` (an `error` fails). */
  async command(frame) {
    const ref = `r${++this.refs}`;
    this.ws.send(JSON.stringify({ ...frame, ref }));
    const answer = await this.frames.waitFor(
      (f) => (f.type === "ack" || f.type === "error") && f.ref === ref,
      `answer to ${JSON.stringify(frame)}`,
    );
    assert.equal(answer.type, "ack", `the server refused ${JSON.stringify(frame)}: ${JSON.stringify(answer)}`);
    return answer;
  }

  /** Waits for the offer of `conversationId`, accepts it and waits until the chat is assigned. */
  async take(conversationId) {
    const offer = await this.frames.waitFor(
      (f) => f.type === "offer" && f.offer.conversation_id === conversationId,
      `offer for ${conversationId}`,
    );
    await this.command({ type: "accept", offer_id: offer.offer.id });
    await this.frames.waitFor(
      (f) => f.type === "assigned" && f.conversation_id === conversationId,
      `assignment of ${conversationId}`,
    );
  }

  /** Sends a message; returns the ack's result (`{seq, id, at}`). */
  async say(conversationId, content, contentType = "text/plain") {
    const ack = await this.command({ type: "send", conversation_id: conversationId, content, content_type: contentType });
    return ack.result;
  }

  async receipt(conversationId, receipt, messageId) {
    return (await this.command({ type: "receipt", conversation_id: conversationId, receipt, message_id: messageId }))
      .result;
  }

  typing(conversationId) {
    this.ws.send(JSON.stringify({ type: "typing", conversation_id: conversationId }));
  }

  /** The first logged event of `conversationId` that matches. */
  event(conversationId, predicate, what) {
    return this.frames
      .waitFor((f) => f.type === "event" && f.event.conversation_id === conversationId && predicate(f.event), what)
      .then((f) => f.event);
  }

  close() {
    this.ws.close();
  }
}

/**
 * A raw client of the WebSocket protocol ChatJS speaks (DIALECTS A.5), for
 * the SDK-level tests: subscribes to `aws/chat` and collects the items.
 */
class ChatSocket {
  static async open(url) {
    const s = new ChatSocket();
    s.items = new Inbox(`chat socket ${url.replace(/\?.*/, "?…")}`);
    s.frames = new Inbox("chat socket frames");
    s.ws = new WebSocket(url);
    s.closed = new Promise((resolve) => s.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    s.ws.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      s.frames.push(frame);
      if (frame.topic === "aws/chat") s.items.push(JSON.parse(frame.content));
    });
    await new Promise((resolve, reject) => {
      s.ws.once("open", resolve);
      s.ws.once("error", reject);
    });
    s.ws.send(JSON.stringify({ topic: "aws/subscribe", content: { topics: ["aws/chat"] } }));
    const sub = await s.frames.waitFor((f) => f.topic === "aws/subscribe", "aws/subscribe reply");
    assert.equal(sub.content.status, "success", `subscribe refused: ${JSON.stringify(sub)}`);
    assert.deepEqual(sub.content.topics, ["aws/chat"]);
    return s;
  }

  close() {
    this.ws.close(1000);
  }
}

/** Calls `fn`, which must fail with an AWS typed error; returns the error. */
async function awsError(fn, what) {
  try {
    const res = await fn();
    assert.fail(`${what}: expected an error, got ${JSON.stringify(res)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return e;
  }
}

/** Asserts an SDK error is the named exception with the status. */
function assertAwsError(e, name, status, what) {
  assert.equal(
    e.name,
    name,
    `${what}: expected ${name} ${status}, got ${e.name} ${e.$metadata?.httpStatusCode}: ${e.message}`,
  );
  assert.equal(e.$metadata?.httpStatusCode, status, `${what}: status`);
  assert.ok(e.message && e.message.length > 0, `${what}: the error has no message`);
}

/** Asserts an SDK error is typed (a known exception name) and a 4xx: the server understood and refused. */
function assertTyped4xx(e, what) {
  const status = e.$metadata?.httpStatusCode;
  assert.ok(
    status >= 400 && status < 500,
    `${what}: expected a typed 4xx, got ${e.name} ${status}: ${e.message}`,
  );
  assert.ok(
    [
      "AccessDeniedException",
      "ValidationException",
      "ResourceNotFoundException",
      "ConflictException",
      "ThrottlingException",
      "ServiceQuotaExceededException",
    ].includes(e.name),
    `${what}: not a typed error of the service: ${e.name} ${status}: ${e.message}`,
  );
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A 1×1 PNG. */
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489" +
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082",
  "hex",
);

module.exports = {
  PROMPTLY_MS,
  REGION,
  env,
  connectClient,
  participantClient,
  startChat,
  Inbox,
  Agent,
  ChatSocket,
  awsError,
  assertAwsError,
  assertTyped4xx,
  ISO_MS,
  PNG,
};
