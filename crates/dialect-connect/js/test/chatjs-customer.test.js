"use strict";
// amazon-connect-chatjs 5.0.0, unmodified, as a customer's widget uses it,
// against an agent on Switchboard's own agent socket. One chat, step by step.

const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { fork } = require("node:child_process");
const { startChat, Agent, Inbox, PNG, ISO_MS, PROMPTLY_MS } = require("../lib/common");
const { customerSession, connectAndWait, withLog, CT, sockets } = require("../lib/chatjs");

let agent;
after(() => agent?.close());

test("ChatJS customer session against an agent", { timeout: 180_000 }, async (t) => {
  agent = await Agent.online();
  const chat = await startChat({ ParticipantDetails: { DisplayName: "Jane" } });
  const conv = chat.ContactId;
  const s = customerSession(chat);
  const { session, events } = s;
  const messages = (pred) => events.items.filter((e) => e.kind === "message" && pred(e.data));

  // Later steps need what earlier ones found; once one fails the rest are skipped.
  let broken = false;
  const step = (name, fn) =>
    t.test(name, { skip: broken && "an earlier step failed" }, async () => {
      try {
        await withLog(fn);
      } catch (e) {
        broken = true;
        throw e;
      }
    });

  await step("connect(): CreateParticipantConnection, then the websocket", async () => {
    const res = await connectAndWait(s);
    assert.equal(res.connectCalled, true);
    // The socket answers ChatJS's aws/ping (its "deep heartbeat"), sent as it opens.
    await events.waitFor((e) => e.kind.startsWith("deep heartbeat"), "the answer to the deep heartbeat");
    assert.equal(events.count((e) => e.kind === "deep heartbeat failed"), 0);
  });

  let agentJoined;
  await step("the agent takes the chat; ChatJS hears participant.joined", async () => {
    await agent.take(conv);
    const e = await events.waitFor(
      (e) => e.kind === "message" && e.data.ContentType === CT.joined && e.data.ParticipantRole === "AGENT",
      "participant.joined of the agent",
    );
    agentJoined = e.data;
    assert.equal(agentJoined.ContactId, conv);
    assert.match(agentJoined.AbsoluteTime, ISO_MS);
  });

  let mine; // the customer's message as ChatJS knows it
  let mineNative; // the same message on the agent's socket
  await step("sendMessage: the agent gets it; ChatJS gets its own message back once", async () => {
    const res = await session.sendMessage({ contentType: "text/plain", message: "hello from ChatJS" });
    assert.ok(res.data.Id, JSON.stringify(res.data));
    assert.match(res.data.AbsoluteTime, ISO_MS);
    mineNative = await agent.event(
      conv,
      (e) => e.type === "message" && e.content === "hello from ChatJS",
      "the customer's message on the agent's socket",
    );
    assert.equal(mineNative.participant_id, chat.ParticipantId);
    const echo = await events.waitFor(
      (e) => e.kind === "message" && e.data.Id === res.data.Id,
      "the customer's own message on its socket",
    );
    mine = echo.data;
    assert.equal(mine.Type, "MESSAGE");
    assert.equal(mine.ParticipantRole, "CUSTOMER");
    assert.equal(mine.ParticipantId, chat.ParticipantId);
    assert.equal(mine.Content, "hello from ChatJS");
    assert.equal(mine.DisplayName, "Jane");
  });

  let reply; // the agent's reply as ChatJS got it
  let replyNative; // its ack on the agent's socket
  await step("the agent replies; onMessage gets it", async () => {
    replyNative = await agent.say(conv, "hello from the agent");
    const e = await events.waitFor(
      (e) => e.kind === "message" && e.data.Content === "hello from the agent",
      "the agent's reply",
    );
    reply = e.data;
    assert.equal(reply.Type, "MESSAGE");
    assert.equal(reply.ContentType, "text/plain");
    assert.equal(reply.ParticipantRole, "AGENT");
    assert.equal(reply.ContactId, conv);
    assert.notEqual(reply.ParticipantId, chat.ParticipantId);
    assert.equal(messages((d) => d.Content === "hello from the agent").length, 1, "once");
  });

  await step("typing both ways: the agent sees the customer type; onTyping hears the agent", async () => {
    await session.sendEvent({ contentType: CT.typing });
    await agent.frames.waitFor(
      (f) => f.type === "typing" && f.conversation_id === conv && f.participant_id === chat.ParticipantId,
      "the customer's typing on the agent's socket",
    );
    agent.typing(conv);
    const e = await events.waitFor(
      (e) => e.kind === "typing" && e.data.ParticipantRole === "AGENT",
      "the agent's typing in onTyping",
    );
    assert.equal(e.data.ContentType, CT.typing);
    assert.equal(e.data.ContactId, conv);
  });

  await step("receipts both ways, for two messages (ChatJS sends every receipt with the same ClientToken)", async () => {
    // The customer got and read the agent's reply: the agent's socket logs
    // message.delivered and message.read of its message.
    const receiptOf = (kind, nativeId) =>
      agent.event(conv, (e) => e.type === kind && e.message_id === nativeId, `${kind} of ${nativeId} on the agent's socket`);
    await session.sendEvent({ contentType: CT.delivered, content: JSON.stringify({ messageId: reply.Id }) });
    const delivered = await receiptOf("message.delivered", replyNative.id);
    assert.equal(delivered.participant_id, chat.ParticipantId);
    await session.sendEvent({ contentType: CT.read, content: JSON.stringify({ messageId: reply.Id }) });
    const read = await receiptOf("message.read", replyNative.id);
    assert.equal(read.participant_id, chat.ParticipantId);
    // A second message: ChatJS passes the receipt's kind where the SDK
    // takes a ClientToken, so this receipt has the same ClientToken as the
    // first; it is a different receipt all the same.
    const secondNative = await agent.say(conv, "one more thing");
    const second = await events.waitFor(
      (e) => e.kind === "message" && e.data.Content === "one more thing",
      "the agent's second message",
    );
    await session.sendEvent({ contentType: CT.delivered, content: JSON.stringify({ messageId: second.data.Id }) });
    await receiptOf("message.delivered", secondNative.id);
    await session.sendEvent({ contentType: CT.read, content: JSON.stringify({ messageId: second.data.Id }) });
    await receiptOf("message.read", secondNative.id);

    // The agent read the customer's message: ChatJS's onReadReceipt names it.
    await agent.receipt(conv, "read", mineNative.id);
    const e = await events.waitFor((e) => e.kind === "read", "onReadReceipt");
    assert.equal(e.data.MessageMetadata?.MessageId, mine.Id, JSON.stringify(e.data));
    const r = e.data.MessageMetadata.Receipts?.[0];
    assert.ok(r, JSON.stringify(e.data));
    assert.match(r.ReadTimestamp, ISO_MS);
    assert.notEqual(r.RecipientParticipantId, chat.ParticipantId, "the reader is the agent");
    assert.equal(events.count((e) => e.kind === "read"), 1, "the customer is not told of its own receipts");
  });

  await step("getTranscript backwards and forwards", async () => {
    const back = await session.getTranscript({ scanDirection: "BACKWARD", sortOrder: "ASCENDING", maxResults: 100 });
    const items = back.data.Transcript;
    assert.equal(back.data.InitialContactId, conv);
    const at = (id) => items.findIndex((i) => i.Id === id);
    assert.ok(at(mine.Id) >= 0 && at(reply.Id) > at(mine.Id), `the messages, in order: ${JSON.stringify(items)}`);
    assert.equal(new Set(items.map((i) => i.Id)).size, items.length, "no item twice");
    assert.ok(at(agentJoined.Id) >= 0, "the agent's joining is in the transcript");

    const fwd = await session.getTranscript({
      scanDirection: "FORWARD",
      sortOrder: "ASCENDING",
      startPosition: { id: mine.Id },
      maxResults: 100,
    });
    const fitems = fwd.data.Transcript;
    assert.ok(fitems.some((i) => i.Id === reply.Id), `the reply follows: ${JSON.stringify(fitems)}`);
    assert.ok(!fitems.some((i) => i.Id === agentJoined.Id), "nothing from before the start");
  });

  let attachment;
  await step("sendAttachment, then the ATTACHMENT item, then downloadAttachment", async () => {
    const file = new File([PNG], "dot.png", { type: "image/png" });
    const res = await session.sendAttachment({ attachment: file });
    assert.ok(res, "sendAttachment resolved");
    const e = await events.waitFor(
      (e) => e.kind === "message" && e.data.Type === "ATTACHMENT" && e.data.Attachments?.[0]?.AttachmentName === "dot.png",
      "the ATTACHMENT item",
    );
    attachment = e.data.Attachments[0];
    assert.equal(attachment.ContentType, "image/png");
    assert.ok(attachment.AttachmentId);
    assert.equal(e.data.ParticipantRole, "CUSTOMER");
    const blob = await session.downloadAttachment({ attachmentId: attachment.AttachmentId });
    assert.ok(blob && typeof blob.arrayBuffer === "function", `a Blob: ${blob}`);
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), PNG, "the same bytes");
  });

  await step("a reload: a new session with the same participant token gets nothing twice", async () => {
    const child = fork(path.join(__dirname, "..", "lib", "chatjs-reload.js"), [], {
      env: {
        ...process.env,
        RELOAD_CHAT: JSON.stringify({
          ContactId: chat.ContactId,
          ParticipantId: chat.ParticipantId,
          ParticipantToken: chat.ParticipantToken,
        }),
        RELOAD_UNTIL: "after reload 2",
      },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const fromChild = new Inbox("the reloaded page");
    child.on("message", (m) => fromChild.push(m));
    child.on("exit", (code) => fromChild.push({ type: "exit", code }));
    const next = async (type) => {
      const m = await fromChild.waitFor(
        (m) => m.type === type || m.type === "failed" || m.type === "exit",
        `"${type}" from the reloaded page`,
        3 * PROMPTLY_MS,
      );
      if (m.type === "failed") throw new Error(`the reloaded page failed:\n${m.error}`);
      if (m.type !== type) throw new Error(`the reloaded page exited (${m.code}) before "${type}"`);
      return m;
    };
    try {
      const ready = await next("ready");
      const ids = ready.transcript.map((i) => i.Id);
      assert.equal(new Set(ids).size, ids.length, `the transcript after the reload has no item twice: ${JSON.stringify(ready.transcript)}`);
      assert.equal(ids.filter((id) => id === mine.Id).length, 1);
      assert.equal(ids.filter((id) => id === reply.Id).length, 1);

      await agent.say(conv, "after reload 1");
      await agent.say(conv, "after reload 2");
      const done = await next("done");
      const got = (c) => done.messages.filter((m) => m.Content === c).length;
      assert.equal(got("after reload 1"), 1, `once on the new page: ${JSON.stringify(done.messages)}`);
      assert.equal(got("after reload 2"), 1, "once on the new page");
      assert.equal(got("hello from the agent"), 0, "the socket does not replay what came before it");
      assert.equal((await next("exit")).code, 0);
    } finally {
      child.kill();
    }
    // The first page, still open, got each once too.
    await events.waitFor((e) => e.kind === "message" && e.data.Content === "after reload 2", "the second message on the first page");
    assert.equal(messages((d) => d.Content === "after reload 1").length, 1);
    assert.equal(messages((d) => d.Content === "after reload 2").length, 1);
  });

  await step("a dropped socket: ChatJS reconnects by itself and gets what follows once", async () => {
    const open = sockets.filter((w) => w.readyState === w.OPEN);
    assert.equal(open.length, 1, "this page has one socket open");
    const socketsBefore = events.count((e) => e.kind === "socket");
    open[0].terminate(); // no close frame: the connection is simply gone
    await events.waitFor((e) => e.kind === "lost", "onConnectionLost");
    // ChatJS asks for a new URL (CreateParticipantConnection with the participant token) and reconnects.
    await events.waitFor(
      () => events.count((e) => e.kind === "socket") > socketsBefore,
      "the websocket again (onConnectionEstablished)",
      3 * PROMPTLY_MS,
    );
    await agent.say(conv, "after the drop");
    await events.waitFor((e) => e.kind === "message" && e.data.Content === "after the drop", "the message after the drop");
    await agent.say(conv, "after the drop, again");
    await events.waitFor((e) => e.kind === "message" && e.data.Content === "after the drop, again", "the next one");
    assert.equal(messages((d) => d.Content === "after the drop").length, 1, "once");
    assert.equal(events.count((e) => e.kind === "broken"), 0, "lost and regained, never broken");
  });

  await step("disconnectParticipant: the agent sees the customer leave; onEnded fires", async () => {
    await session.disconnectParticipant();
    await agent.event(
      conv,
      (e) => e.type === "participant.left" && e.member_id === chat.ParticipantId,
      "the customer's participant.left on the agent's socket",
    );
    await events.waitFor((e) => e.kind === "ended", "onEnded");
    assert.equal(events.count((e) => e.kind === "ended"), 1);
    assert.equal(events.count((e) => e.kind === "broken"), 0, "ended, not broken");
  });

  await step("after the end, a new session with the same token is refused with a 403", async () => {
    // A 403 is what ChatJS reads as "the chat ended meanwhile".
    const late = customerSession(chat, "ChatJS after the end");
    let outcome;
    try {
      outcome = { resolved: await late.session.connect() };
    } catch (e) {
      outcome = { rejected: e };
    }
    assert.ok(outcome.rejected, `connect() after the end resolved: ${JSON.stringify(outcome.resolved)}`);
    const cause = outcome.rejected?._debug?._debug;
    assert.equal(cause?.type, "AccessDeniedException", JSON.stringify(outcome.rejected));
    assert.equal(cause?.statusCode, 403, JSON.stringify(outcome.rejected));
  });
});
