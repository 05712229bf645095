"use strict";
// @aws-sdk/client-connectparticipant, unmodified, built as ChatJS builds it
// (empty keys; the tokens go in X-Amz-Bearer): every operation, and refusals.

const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const {
  CreateParticipantConnectionCommand,
  SendMessageCommand,
  SendEventCommand,
  GetTranscriptCommand,
  StartAttachmentUploadCommand,
  CompleteAttachmentUploadCommand,
  GetAttachmentCommand,
  DisconnectParticipantCommand,
  DescribeViewCommand,
} = require("@aws-sdk/client-connectparticipant");
const {
  env,
  participantClient,
  startChat,
  Agent,
  ChatSocket,
  awsError,
  assertAwsError,
  assertTyped4xx,
  ISO_MS,
  PNG,
} = require("../lib/common");

const client = participantClient();
const TYPING = "application/vnd.amazonaws.connect.event.typing";
const DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered";
const READ = "application/vnd.amazonaws.connect.event.message.read";

let agent;
after(() => agent?.close());
async function theAgent() {
  agent ??= await Agent.online();
  return agent;
}

/** A started chat and a connection token for its customer. */
async function customer(extra = {}) {
  const chat = await startChat(extra);
  const conn = await client.send(
    new CreateParticipantConnectionCommand({
      ParticipantToken: chat.ParticipantToken,
      Type: ["WEBSOCKET", "CONNECTION_CREDENTIALS"],
    }),
  );
  return { chat, conn, token: conn.ConnectionCredentials.ConnectionToken };
}

async function send(token, Content, ContentType = "text/plain", ClientToken) {
  return client.send(new SendMessageCommand({ ConnectionToken: token, Content, ContentType, ClientToken }));
}

async function transcript(token, params = {}) {
  return client.send(new GetTranscriptCommand({ ConnectionToken: token, ...params }));
}

/** Every item, following NextToken from the most recent backwards. */
async function fullTranscript(token) {
  const out = [];
  let NextToken;
  do {
    const page = await transcript(token, { MaxResults: 100, NextToken });
    out.unshift(...page.Transcript);
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

test("CreateParticipantConnection: WEBSOCKET, CONNECTION_CREDENTIALS, both, and again", { timeout: 30_000 }, async () => {
  const chat = await startChat();
  const connect = (Type, extra = {}) =>
    client.send(new CreateParticipantConnectionCommand({ ParticipantToken: chat.ParticipantToken, Type, ...extra }));

  const both = await connect(["WEBSOCKET", "CONNECTION_CREDENTIALS"]);
  assert.match(both.Websocket?.Url ?? "", /^(wss:\/\/|ws:\/\/127\.0\.0\.1:)/, `ChatJS takes only these: ${JSON.stringify(both)}`);
  assert.match(both.Websocket.ConnectionExpiry, ISO_MS);
  assert.ok(Date.parse(both.Websocket.ConnectionExpiry) > Date.now(), "the socket URL is still valid");
  assert.ok(both.ConnectionCredentials?.ConnectionToken, JSON.stringify(both));
  assert.match(both.ConnectionCredentials.Expiry, ISO_MS);
  assert.ok(Date.parse(both.ConnectionCredentials.Expiry) > Date.now());

  const ws = await connect(["WEBSOCKET"]);
  assert.ok(ws.Websocket?.Url, JSON.stringify(ws));
  assert.equal(ws.ConnectionCredentials, undefined, "only what was asked for");

  const creds = await connect(["CONNECTION_CREDENTIALS"]);
  assert.ok(creds.ConnectionCredentials?.ConnectionToken, JSON.stringify(creds));
  assert.equal(creds.Websocket, undefined, "only what was asked for");

  // A page reload connects again with the same participant token; both connection tokens work.
  for (const token of [both.ConnectionCredentials.ConnectionToken, creds.ConnectionCredentials.ConnectionToken]) {
    const sent = await send(token, "still here");
    assert.ok(sent.Id);
  }
  // The agent's acknowledgement form (no Type) is taken too.
  const ack = await connect(undefined, { ConnectParticipant: true });
  assert.equal(ack.$metadata.httpStatusCode, 200);

  // The socket URL opens and subscribes.
  const socket = await ChatSocket.open(both.Websocket.Url);
  socket.ws.send(JSON.stringify({ topic: "aws/heartbeat" }));
  await socket.frames.waitFor((f) => f.topic === "aws/heartbeat", "heartbeat reply");
  socket.ws.send(JSON.stringify({ topic: "aws/ping" }));
  const pong = await socket.frames.waitFor((f) => f.topic === "aws/ping", "deep heartbeat reply");
  assert.equal(pong.statusCode, 200, JSON.stringify(pong));
  socket.close();
});

test("SendMessage: text/plain, text/markdown and application/json, each logged once", { timeout: 30_000 }, async () => {
  const { chat, token } = await customer();
  const json = JSON.stringify({ order: 42, items: ["a", "b"] });
  const sent = [];
  for (const [type, content] of [
    ["text/plain", "plain hello"],
    ["text/plain", "héllo 👋\nשלום\t\"quoted\" <b>&amp;</b>"],
    ["text/plain", "x".repeat(16_384)], // the service's largest Content
    ["text/markdown", "**bold** hello"],
    ["application/json", json],
  ]) {
    const r = await send(token, content, type);
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.ok(r.Id, JSON.stringify(r));
    assert.match(r.AbsoluteTime, ISO_MS);
    sent.push({ id: r.Id, type, content });
  }
  // A retry with the same ClientToken is the same message.
  const ClientToken = `ct-${Date.now()}`;
  const first = await send(token, "retried", "text/plain", ClientToken);
  const again = await send(token, "retried", "text/plain", ClientToken);
  assert.equal(again.Id, first.Id, "the same ClientToken is one message");

  const items = await fullTranscript(token);
  for (const s of sent) {
    const found = items.filter((i) => i.Id === s.id);
    assert.equal(found.length, 1, `${s.type} message once in the transcript: ${JSON.stringify(items)}`);
    const [item] = found;
    assert.equal(item.Type, "MESSAGE");
    assert.equal(item.ContentType, s.type);
    assert.equal(item.Content, s.content);
    assert.equal(item.ParticipantId, chat.ParticipantId);
    assert.equal(item.ParticipantRole, "CUSTOMER");
    assert.equal(item.DisplayName, "Jane");
    assert.match(item.AbsoluteTime, ISO_MS);
  }
  assert.equal(items.filter((i) => i.Id === first.Id).length, 1, "the retried message once");
  assert.equal(items.filter((i) => i.Content === "retried").length, 1, "the retried message once");
});

test("SendEvent: typing and delivered/read receipts reach the agent", { timeout: 60_000 }, async () => {
  const a = await theAgent();
  const { chat, conn, token } = await customer();
  const socket = await ChatSocket.open(conn.Websocket.Url);
  await a.take(chat.ContactId);
  await socket.items.waitFor(
    (i) => i.ContentType === "application/vnd.amazonaws.connect.event.participant.joined" && i.ParticipantRole === "AGENT",
    "the agent's participant.joined",
  );

  const typing = await client.send(new SendEventCommand({ ConnectionToken: token, ContentType: TYPING }));
  assert.ok(typing.Id);
  assert.match(typing.AbsoluteTime, ISO_MS);
  await a.frames.waitFor(
    (f) => f.type === "typing" && f.conversation_id === chat.ContactId && f.participant_id === chat.ParticipantId,
    "the customer's typing on the agent's socket",
  );

  const said = await a.say(chat.ContactId, "how can I help?");
  const item = await socket.items.waitFor(
    (i) => i.Type === "MESSAGE" && i.Content === "how can I help?",
    "the agent's message on the customer's socket",
  );
  assert.equal(item.ParticipantRole, "AGENT");
  assert.equal(item.ContactId, chat.ContactId);

  for (const [ContentType, kind] of [
    [DELIVERED, "message.delivered"],
    [READ, "message.read"],
  ]) {
    const r = await client.send(
      new SendEventCommand({ ConnectionToken: token, ContentType, Content: JSON.stringify({ messageId: item.Id }) }),
    );
    assert.ok(r.Id, JSON.stringify(r));
    const ev = await a.event(chat.ContactId, (e) => e.type === kind, `${kind} on the agent's socket`);
    assert.equal(ev.message_id, said.id, `the receipt names the agent's message: ${JSON.stringify(ev)}`);
    assert.equal(ev.participant_id, chat.ParticipantId);
  }

  // ChatJS sends every delivered receipt with ClientToken
  // "INCOMING_DELIVERED_RECEIPT" (and every read one with
  // "INCOMING_READ_RECEIPT"): receipts of different messages under one
  // ClientToken are different receipts, not retries of the first.
  const again = [];
  for (const text of ["first of two", "second of two"]) {
    const native = await a.say(chat.ContactId, text);
    const it = await socket.items.waitFor((i) => i.Type === "MESSAGE" && i.Content === text, `"${text}" on the customer's socket`);
    const r = await client.send(
      new SendEventCommand({
        ConnectionToken: token,
        ContentType: DELIVERED,
        Content: JSON.stringify({ messageId: it.Id }),
        ClientToken: "INCOMING_DELIVERED_RECEIPT",
      }),
    );
    again.push(r.Id);
    await a.event(
      chat.ContactId,
      (e) => e.type === "message.delivered" && e.message_id === native.id,
      `message.delivered of "${text}" on the agent's socket`,
    );
  }
  assert.notEqual(again[1], again[0], "two receipts, two items");
  socket.close();
});

test("GetTranscript: MaxResults, NextToken, ScanDirection, SortOrder, StartPosition", { timeout: 60_000 }, async () => {
  const { token } = await customer();
  const m = [];
  for (let n = 1; n <= 7; n++) {
    const r = await send(token, `m${n}`);
    m.push({ id: r.Id, at: r.AbsoluteTime, content: `m${n}` });
  }
  const ids = (t) => t.Transcript.map((i) => i.Id);
  const contents = (t) => t.Transcript.map((i) => i.Content);
  const all = await fullTranscript(token);
  const pos = (id) => all.findIndex((i) => i.Id === id);
  assert.deepEqual(
    m.map((x) => pos(x.id)),
    m.map((_, k) => all.length - 7 + k),
    `m1…m7 are the last seven items, in order: ${JSON.stringify(all)}`,
  );
  assert.equal(new Set(all.map((i) => i.Id)).size, all.length, "no item twice");

  // The default, as ChatJS sends it: the most recent, oldest first.
  const latest = await transcript(token, { MaxResults: 3, ScanDirection: "BACKWARD", SortOrder: "ASCENDING", StartPosition: {} });
  assert.deepEqual(contents(latest), ["m5", "m6", "m7"]);
  assert.ok(latest.InitialContactId, "InitialContactId is given");
  assert.ok(latest.NextToken, "more before them");
  const latestDesc = await transcript(token, { MaxResults: 3, ScanDirection: "BACKWARD", SortOrder: "DESCENDING" });
  assert.deepEqual(contents(latestDesc), ["m7", "m6", "m5"]);

  // Paging backwards by twos covers everything once.
  const paged = [];
  let NextToken;
  let pages = 0;
  do {
    const page = await transcript(token, { MaxResults: 2, NextToken, ScanDirection: "BACKWARD", SortOrder: "ASCENDING" });
    assert.ok(page.Transcript.length <= 2, `MaxResults 2 gave ${page.Transcript.length}`);
    paged.push(...ids(page));
    NextToken = page.NextToken;
    assert.ok(++pages <= all.length, "paging ends");
  } while (NextToken);
  assert.deepEqual([...paged].sort(), all.map((i) => i.Id).sort(), "paging covers every item once");
  // From an item, forwards: what follows it. Whether the item itself is
  // included is read once here and must hold everywhere below.
  const fromM2 = await transcript(token, { MaxResults: 3, ScanDirection: "FORWARD", SortOrder: "ASCENDING", StartPosition: { Id: m[1].id } });
  const inclusive = contents(fromM2).includes("m2");
  assert.deepEqual(contents(fromM2), inclusive ? ["m2", "m3", "m4"] : ["m3", "m4", "m5"], JSON.stringify(fromM2.Transcript));
  // Forwards from the first item, page by page.
  const forward = [];
  NextToken = undefined;
  do {
    const page = await transcript(token, {
      MaxResults: 3,
      NextToken,
      ScanDirection: "FORWARD",
      SortOrder: "ASCENDING",
      StartPosition: { Id: all[0].Id },
    });
    forward.push(...ids(page));
    NextToken = page.NextToken;
  } while (NextToken);
  assert.deepEqual(forward, all.slice(inclusive ? 0 : 1).map((i) => i.Id), "forward paging gives every item in order");

  const fromM2Desc = await transcript(token, { MaxResults: 3, ScanDirection: "FORWARD", SortOrder: "DESCENDING", StartPosition: { Id: m[1].id } });
  assert.deepEqual(ids(fromM2Desc), [...ids(fromM2)].reverse(), "DESCENDING is the same items, newest first");
  // From an item, backwards: what precedes it.
  const beforeM5 = await transcript(token, { MaxResults: 3, ScanDirection: "BACKWARD", SortOrder: "ASCENDING", StartPosition: { Id: m[4].id } });
  assert.deepEqual(contents(beforeM5), inclusive ? ["m3", "m4", "m5"] : ["m2", "m3", "m4"], JSON.stringify(beforeM5.Transcript));

  // From a time, forwards.
  const fromTime = await transcript(token, {
    MaxResults: 10,
    ScanDirection: "FORWARD",
    SortOrder: "ASCENDING",
    StartPosition: { AbsoluteTime: m[3].at },
  });
  assert.ok(contents(fromTime).includes("m5") && contents(fromTime).includes("m7"), JSON.stringify(fromTime.Transcript));
  for (const i of fromTime.Transcript) {
    assert.ok(Date.parse(i.AbsoluteTime) >= Date.parse(m[3].at), `${i.AbsoluteTime} is before ${m[3].at}`);
  }

  // From the n-th most recent, backwards: the very latest is left out.
  const recent = await transcript(token, { MaxResults: 3, ScanDirection: "BACKWARD", SortOrder: "ASCENDING", StartPosition: { MostRecent: 2 } });
  assert.ok(!contents(recent).includes("m7"), JSON.stringify(recent.Transcript));
  assert.ok(contents(recent).includes("m5"), JSON.stringify(recent.Transcript));
  assert.equal(recent.Transcript.length, 3);
});

test("attachments: StartAttachmentUpload, PUT with HeadersToInclude, Complete, GetAttachment, fetch", { timeout: 60_000 }, async () => {
  const { token } = await customer();
  const start = await client.send(
    new StartAttachmentUploadCommand({
      ConnectionToken: token,
      ContentType: "image/png",
      AttachmentName: "dot.png",
      AttachmentSizeInBytes: PNG.length,
    }),
  );
  assert.ok(start.AttachmentId, JSON.stringify(start));
  const meta = start.UploadMetadata;
  assert.ok(meta?.Url, JSON.stringify(start));
  assert.match(meta.UrlExpiry, ISO_MS);
  assert.ok(meta.HeadersToInclude && typeof meta.HeadersToInclude === "object");

  // The upload goes to the URL alone (no bearer): the URL carries its own authority.
  const put = await fetch(meta.Url, { method: "PUT", headers: meta.HeadersToInclude, body: PNG });
  assert.ok(put.ok, `PUT ${meta.Url}: ${put.status} ${await put.text()}`);

  const done = await client.send(new CompleteAttachmentUploadCommand({ ConnectionToken: token, AttachmentIds: [start.AttachmentId] }));
  assert.equal(done.$metadata.httpStatusCode, 200);

  const got = await client.send(new GetAttachmentCommand({ ConnectionToken: token, AttachmentId: start.AttachmentId }));
  assert.ok(got.Url, JSON.stringify(got));
  assert.match(got.UrlExpiry, ISO_MS);
  assert.equal(got.AttachmentSizeInBytes, PNG.length);
  const download = await fetch(got.Url);
  assert.equal(download.status, 200, `GET ${got.Url}`);
  assert.deepEqual(Buffer.from(await download.arrayBuffer()), PNG, "the same bytes come back");

  const items = await fullTranscript(token);
  const att = items.find((i) => i.Type === "ATTACHMENT");
  assert.ok(att, `an ATTACHMENT item in the transcript: ${JSON.stringify(items)}`);
  assert.equal(att.Attachments?.length, 1, JSON.stringify(att));
  assert.equal(att.Attachments[0].AttachmentId, start.AttachmentId);
  assert.equal(att.Attachments[0].AttachmentName, "dot.png");
  assert.equal(att.Attachments[0].ContentType, "image/png");
  assert.equal(att.Attachments[0].Status, "APPROVED");
  assert.equal(att.ParticipantRole, "CUSTOMER");

  // An unknown attachment is a typed refusal.
  const e = await awsError(
    () => client.send(new GetAttachmentCommand({ ConnectionToken: token, AttachmentId: "att-does-not-exist" })),
    "GetAttachment of an unknown id",
  );
  assertTyped4xx(e, "GetAttachment of an unknown id");
});

test("DisconnectParticipant: the customer leaves, the chat ends, later calls are refused", { timeout: 60_000 }, async () => {
  const { conn, token } = await customer();
  const socket = await ChatSocket.open(conn.Websocket.Url);
  const ClientToken = `bye-${Date.now()}`;
  const bye = await client.send(new DisconnectParticipantCommand({ ConnectionToken: token, ClientToken }));
  assert.equal(bye.$metadata.httpStatusCode, 200);
  await socket.items.waitFor(
    (i) => i.ContentType === "application/vnd.amazonaws.connect.event.participant.left" && i.ParticipantRole === "CUSTOMER",
    "participant.left",
  );
  await socket.items.waitFor(
    (i) => i.ContentType === "application/vnd.amazonaws.connect.event.chat.ended",
    "chat.ended (what makes ChatJS end the session)",
  );
  const closed = await Promise.race([
    socket.closed,
    new Promise((_, reject) => setTimeout(() => reject(new Error("the socket stayed open after chat.ended")), 10_000)),
  ]);
  assert.equal(closed.code, 1000, JSON.stringify(closed));

  const e = await awsError(() => send(token, "anyone there?"), "SendMessage after leaving");
  assertAwsError(e, "AccessDeniedException", 403, "SendMessage after leaving");
  // A retry of the same request (same ClientToken) is answered as the first was.
  const retry = await client.send(new DisconnectParticipantCommand({ ConnectionToken: token, ClientToken }));
  assert.equal(retry.$metadata.httpStatusCode, 200);
});

test("unauthenticated and malformed calls: typed errors, never a 500", { timeout: 60_000 }, async () => {
  const { chat, token } = await customer();

  // Unauthenticated.
  for (const [what, fn] of [
    ["CreateParticipantConnection with an unknown token", () =>
      client.send(new CreateParticipantConnectionCommand({ ParticipantToken: "sbp_not-a-token", Type: ["WEBSOCKET"] }))],
    ["CreateParticipantConnection with a connection token", () =>
      client.send(new CreateParticipantConnectionCommand({ ParticipantToken: token, Type: ["WEBSOCKET"] }))],
    ["SendMessage with the participant token instead of a connection token", () =>
      send(chat.ParticipantToken, "hi")],
    ["SendMessage with an unknown token", () => send("nope", "hi")],
    ["GetTranscript with an unknown token", () => transcript("nope")],
  ]) {
    const e = await awsError(fn, what);
    assertAwsError(e, "AccessDeniedException", 403, what);
  }

  // Malformed, through the SDK.
  for (const [what, fn] of [
    ["SendMessage with text/html", () => send(token, "<b>hi</b>", "text/html")],
    ["SendMessage with empty content", () => send(token, "", "text/plain")],
    ["SendMessage of 20 000 characters", () => send(token, "x".repeat(20_000), "text/plain")],
    ["SendEvent with an unknown event", () =>
      client.send(new SendEventCommand({ ConnectionToken: token, ContentType: "application/vnd.amazonaws.connect.event.nonsense" }))],
    ["SendEvent read receipt without a messageId", () =>
      client.send(new SendEventCommand({ ConnectionToken: token, ContentType: READ, Content: "{}" }))],
    ["GetTranscript with MaxResults 101", () => transcript(token, { MaxResults: 101 })],
    ["GetTranscript with a made-up NextToken", () => transcript(token, { NextToken: "garbage" })],
    ["GetTranscript with an unknown ScanDirection", () => transcript(token, { ScanDirection: "SIDEWAYS" })],
    ["GetTranscript from an unknown Id", () => transcript(token, { StartPosition: { Id: "nope" } })],
    ["GetTranscript from a time that is not one", () => transcript(token, { StartPosition: { AbsoluteTime: "yesterday" } })],
    ["StartAttachmentUpload of 0 bytes", () =>
      client.send(new StartAttachmentUploadCommand({ ConnectionToken: token, ContentType: "image/png", AttachmentName: "a.png", AttachmentSizeInBytes: 0 }))],
    ["StartAttachmentUpload of an executable", () =>
      client.send(new StartAttachmentUploadCommand({ ConnectionToken: token, ContentType: "application/x-msdownload", AttachmentName: "a.exe", AttachmentSizeInBytes: 10 }))],
    ["CompleteAttachmentUpload of an unknown id", () =>
      client.send(new CompleteAttachmentUploadCommand({ ConnectionToken: token, AttachmentIds: ["nope"] }))],
    ["DescribeView of an unknown view", () => client.send(new DescribeViewCommand({ ConnectionToken: token, ViewToken: "nope" }))],
  ]) {
    const e = await awsError(fn, what);
    assertTyped4xx(e, what);
  }

  // Malformed on the wire, where the SDK would not let us.
  const raw = async (path, init, what) => {
    const res = await fetch(env.url + path, init);
    const body = await res.text();
    assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status} ${body}`);
    const type = res.headers.get("x-amzn-errortype");
    assert.ok(type && /Exception/.test(type), `${what}: no x-amzn-errortype (${res.status} ${body})`);
    let parsed;
    assert.doesNotThrow(() => (parsed = JSON.parse(body)), `${what}: the body is not JSON: ${body}`);
    assert.ok(typeof parsed.message === "string" && parsed.message.length > 0, `${what}: no message: ${body}`);
    return res;
  };
  const json = { "content-type": "application/json" };
  await raw("/participant/message", { method: "POST", headers: { ...json, "x-amz-bearer": token }, body: "{not json" }, "a body that is not JSON");
  await raw("/participant/message", { method: "POST", headers: { ...json, "x-amz-bearer": token }, body: "[1,2]" }, "a body that is an array");
  await raw("/participant/message", { method: "POST", headers: { ...json, "x-amz-bearer": token }, body: JSON.stringify({ Content: 5, ContentType: "text/plain" }) }, "Content a number");
  await raw("/participant/message", { method: "POST", headers: { ...json, "x-amz-bearer": token }, body: JSON.stringify({ Content: "hi" }) }, "no ContentType");
  await raw("/participant/message", { method: "POST", headers: json, body: JSON.stringify({ Content: "hi", ContentType: "text/plain" }) }, "no bearer at all");
  await raw("/participant/connection", { method: "POST", headers: json, body: JSON.stringify({ Type: ["WEBSOCKET"] }) }, "CreateParticipantConnection without a bearer");
  await raw("/participant/connection", { method: "POST", headers: { ...json, "x-amz-bearer": chat.ParticipantToken }, body: JSON.stringify({ Type: ["CARRIER_PIGEON"] }) }, "an unknown connection Type");
  await raw("/participant/transcript", { method: "POST", headers: { ...json, "x-amz-bearer": token }, body: JSON.stringify({ MaxResults: "ten" }) }, "MaxResults a string");
  await raw("/participant/event", { method: "POST", headers: { ...json, "x-amz-bearer": token }, body: "" }, "an empty body");

  // A browser's preflight, as ChatJS on a web page causes it (DIALECTS A.7),
  // and the error headers exposed so the SDK can read the exception's type.
  const preflight = await fetch(env.url + "/participant/message", {
    method: "OPTIONS",
    headers: {
      Origin: "https://shop.example",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers":
        "x-amz-bearer,content-type,x-amz-user-agent,x-amz-date,x-amz-content-sha256,authorization,amz-sdk-invocation-id,amz-sdk-request",
    },
  });
  assert.ok(preflight.status >= 200 && preflight.status < 300, `preflight: ${preflight.status}`);
  assert.ok(["*", "https://shop.example"].includes(preflight.headers.get("access-control-allow-origin")), "preflight: allow-origin");
  const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase();
  for (const h of ["x-amz-bearer", "content-type", "x-amz-user-agent", "x-amz-date", "x-amz-content-sha256", "authorization", "amz-sdk-invocation-id", "amz-sdk-request"]) {
    assert.ok(allowed === "*" || allowed.split(",").map((x) => x.trim()).includes(h), `preflight: ${h} not allowed (${allowed})`);
  }
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
  const refused = await fetch(env.url + "/participant/message", {
    method: "POST",
    headers: { Origin: "https://shop.example", "content-type": "application/json", "x-amz-bearer": "nope" },
    body: JSON.stringify({ Content: "hi", ContentType: "text/plain" }),
  });
  assert.equal(refused.status, 403);
  const exposed = (refused.headers.get("access-control-expose-headers") ?? "").toLowerCase();
  assert.ok(exposed.includes("x-amzn-errortype") && exposed.includes("x-amzn-requestid"), `expose-headers: ${exposed}`);

  // The websocket refuses a made-up URL token before anything else.
  const bad = new (require("ws"))(env.url.replace(/^http/, "ws") + "/connect/ws?t=forged");
  const outcome = await new Promise((resolve) => {
    bad.on("unexpected-response", (_req, res) => resolve({ status: res.statusCode }));
    bad.on("open", () => resolve({ open: true }));
    bad.on("error", (e) => resolve({ error: e.message }));
  });
  bad.terminate();
  assert.ok(outcome.status >= 400 && outcome.status < 500, `a forged socket URL: ${JSON.stringify(outcome)}`);
});
