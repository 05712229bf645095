"use strict";
// Persistent chat: StartChatContact with PersistentChat {SourceContactId,
// RehydrationType}; the transcript runs across the contacts of the chain.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const {
  CreateParticipantConnectionCommand,
  SendMessageCommand,
  GetTranscriptCommand,
  DisconnectParticipantCommand,
} = require("@aws-sdk/client-connectparticipant");
const { participantClient, startChat, ChatSocket, awsError } = require("../lib/common");
const { customerSession, connectAndWait, withLog, CT } = require("../lib/chatjs");

const client = participantClient();

async function connection(chat) {
  const conn = await client.send(
    new CreateParticipantConnectionCommand({
      ParticipantToken: chat.ParticipantToken,
      Type: ["WEBSOCKET", "CONNECTION_CREDENTIALS"],
    }),
  );
  return { url: conn.Websocket.Url, token: conn.ConnectionCredentials.ConnectionToken };
}

/** Every item the token can read, oldest first, following NextToken. */
async function transcript(token, extra = {}) {
  const out = [];
  let NextToken;
  do {
    const page = await client.send(
      new GetTranscriptCommand({ ConnectionToken: token, MaxResults: 100, NextToken, ScanDirection: "BACKWARD", SortOrder: "ASCENDING", ...extra }),
    );
    out.unshift(...page.Transcript);
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

/** Ends a contact as its customer does, and waits until the chat has ended. */
async function leave(chat) {
  const { url, token } = await connection(chat);
  const socket = await ChatSocket.open(url);
  await client.send(new DisconnectParticipantCommand({ ConnectionToken: token }));
  await socket.items.waitFor((i) => i.ContentType === CT.ended, `chat.ended of ${chat.ContactId}`);
  socket.close();
}

function assertControlRefusal(e, what) {
  const status = e.$metadata?.httpStatusCode;
  assert.ok(
    ["InvalidRequestException", "InvalidParameterException", "ResourceNotFoundException", "AccessDeniedException"].includes(e.name) &&
      status >= 400 &&
      status < 500,
    `${what}: expected a typed 4xx of the Connect API, got ${e.name} ${status}: ${e.message}`,
  );
}

test("a chain of three contacts: ENTIRE_PAST_SESSION carries the first, FROM_SEGMENT starts from the second", { timeout: 120_000 }, async (t) => {
  // Later steps need what earlier ones made; once one of those fails the rest
  // are skipped. A check nothing depends on (`alone`) fails on its own.
  let broken = false;
  const step = (name, fn, { alone = false } = {}) =>
    t.test(name, { skip: broken && "an earlier step failed" }, async () => {
      try {
        await withLog(fn);
      } catch (e) {
        if (!alone) broken = true;
        throw e;
      }
    });

  let first, m1;
  await step("the first contact; it cannot be continued before it has ended", async () => {
    first = await startChat();
    const a = await connection(first);
    m1 = await client.send(new SendMessageCommand({ ConnectionToken: a.token, ContentType: "text/plain", Content: "from the first contact" }));
    const early = await awsError(
      () => startChat({ PersistentChat: { SourceContactId: first.ContactId, RehydrationType: "ENTIRE_PAST_SESSION" } }),
      "continuing a contact that has not ended",
    );
    assertControlRefusal(early, "continuing a contact that has not ended");
    await leave(first);
  });

  let second, s, sent;
  await step("the second (ENTIRE_PAST_SESSION), through ChatJS: its transcript starts with the first", async () => {
    second = await startChat({ PersistentChat: { SourceContactId: first.ContactId, RehydrationType: "ENTIRE_PAST_SESSION" } });
    assert.notEqual(second.ContactId, first.ContactId);
    assert.equal(second.ContinuedFromContactId, first.ContactId);
    s = customerSession(second, "ChatJS on the second contact");
    await connectAndWait(s);
    sent = await s.session.sendMessage({ contentType: "text/plain", message: "from the second contact" });
    // ChatJS keeps the new contact's items (it filters on ContactId).
    await s.events.waitFor((e) => e.kind === "message" && e.data.Id === sent.data.Id, "the second contact's message on its socket");
    const t = await s.session.getTranscript({ scanDirection: "BACKWARD", sortOrder: "ASCENDING", maxResults: 100 });
    const items = t.data.Transcript;
    const at = (id) => items.findIndex((i) => i.Id === id);
    assert.ok(at(m1.Id) >= 0, `the first contact's message is in the second's transcript: ${JSON.stringify(items)}`);
    assert.ok(at(sent.data.Id) > at(m1.Id), "after it, the second's own");
    const old = items[at(m1.Id)];
    assert.equal(old.Content, "from the first contact");
    if (old.ContactId !== undefined) assert.equal(old.ContactId, first.ContactId, "an old item names its contact");
    assert.equal(new Set(items.map((i) => i.Id)).size, items.length, "no item twice");
  });

  await step(
    "GetTranscript with ContactId: one contact of the chain",
    async () => {
      const b = await connection(second);
      const onlyFirst = await transcript(b.token, { ContactId: first.ContactId });
      assert.ok(onlyFirst.some((i) => i.Id === m1.Id), JSON.stringify(onlyFirst));
      assert.ok(!onlyFirst.some((i) => i.Id === sent.data.Id), `only the first contact's items: ${JSON.stringify(onlyFirst)}`);
    },
    { alone: true },
  );

  await step("the second ends; a contact is continued once", async () => {
    await s.session.disconnectParticipant();
    await s.events.waitFor((e) => e.kind === "ended", "onEnded of the second contact");
    const twice = await awsError(
      () => startChat({ PersistentChat: { SourceContactId: first.ContactId, RehydrationType: "ENTIRE_PAST_SESSION" } }),
      "continuing a contact already continued",
    );
    assertControlRefusal(twice, "continuing a contact already continued");
  });

  await step("the third (FROM_SEGMENT from the second): the second, then the third", async () => {
    const third = await startChat({ PersistentChat: { SourceContactId: second.ContactId, RehydrationType: "FROM_SEGMENT" } });
    assert.equal(third.ContinuedFromContactId, second.ContactId);
    const c = await connection(third);
    const m3 = await client.send(new SendMessageCommand({ ConnectionToken: c.token, ContentType: "text/plain", Content: "from the third contact" }));
    // FROM_SEGMENT starts a session from its source (docs/persistent-chat.md):
    // what came before the second is not shown.
    const all = await transcript(c.token);
    const pos = (id) => all.findIndex((i) => i.Id === id);
    assert.ok(pos(sent.data.Id) >= 0 && pos(m3.Id) > pos(sent.data.Id), `the second contact, then the third: ${JSON.stringify(all)}`);
    assert.equal(pos(m1.Id), -1, "not the first contact, from before the segment");
    assert.equal(new Set(all.map((i) => i.Id)).size, all.length, "no item twice");
  });

  await step(
    "an unknown source is refused",
    async () => {
      const unknown = await awsError(
        () => startChat({ PersistentChat: { SourceContactId: "cnv_does_not_exist", RehydrationType: "FROM_SEGMENT" } }),
        "continuing an unknown contact",
      );
      assertControlRefusal(unknown, "continuing an unknown contact");
    },
    { alone: true },
  );
});
