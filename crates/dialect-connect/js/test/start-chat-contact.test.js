"use strict";
// @aws-sdk/client-connect, unmodified: StartChatContact signed with a
// workspace access key (SigV4), and the same call with a wrong secret.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { StartChatContactCommand } = require("@aws-sdk/client-connect");
const { CreateParticipantConnectionCommand, GetTranscriptCommand } = require("@aws-sdk/client-connectparticipant");
const {
  env,
  connectClient,
  participantClient,
  startChat,
  awsError,
  assertAwsError,
} = require("../lib/common");

test("StartChatContact with the access key starts a chat whose token opens a connection", { timeout: 30_000 }, async () => {
  const res = await startChat({
    Attributes: { topic: "billing" },
    SupportedMessagingContentTypes: ["text/plain", "text/markdown"],
  });
  assert.equal(res.$metadata.httpStatusCode, 200);
  assert.equal(typeof res.ContactId, "string");
  assert.equal(typeof res.ParticipantId, "string");
  assert.equal(typeof res.ParticipantToken, "string");
  assert.equal(res.ContinuedFromContactId, undefined, "a new chat continues nothing");

  // The token is a participant token the Participant Service takes.
  const conn = await participantClient().send(
    new CreateParticipantConnectionCommand({
      ParticipantToken: res.ParticipantToken,
      Type: ["CONNECTION_CREDENTIALS"],
    }),
  );
  assert.ok(conn.ConnectionCredentials?.ConnectionToken, JSON.stringify(conn));
});

test("InitialMessage is the customer's first message", { timeout: 30_000 }, async () => {
  const res = await startChat({
    ParticipantDetails: { DisplayName: "Jane" },
    InitialMessage: { ContentType: "text/plain", Content: "I need help with my order" },
  });
  const client = participantClient();
  const conn = await client.send(
    new CreateParticipantConnectionCommand({ ParticipantToken: res.ParticipantToken, Type: ["CONNECTION_CREDENTIALS"] }),
  );
  const t = await client.send(
    new GetTranscriptCommand({ ConnectionToken: conn.ConnectionCredentials.ConnectionToken, MaxResults: 100 }),
  );
  const messages = t.Transcript.filter((i) => i.Type === "MESSAGE");
  assert.equal(messages.length, 1, JSON.stringify(t.Transcript));
  assert.equal(messages[0].Content, "I need help with my order");
  assert.equal(messages[0].ContentType, "text/plain");
  assert.equal(messages[0].ParticipantRole, "CUSTOMER");
  assert.equal(messages[0].ParticipantId, res.ParticipantId);
});

test("the same ClientToken twice starts one chat", { timeout: 30_000 }, async () => {
  const ClientToken = `retry-${process.pid}-${Date.now()}`;
  const one = await startChat({ ClientToken });
  const two = await startChat({ ClientToken });
  assert.equal(two.ContactId, one.ContactId);
  assert.equal(two.ParticipantId, one.ParticipantId);
});

test("the right secret is taken and a wrong one refused with AccessDeniedException (403)", { timeout: 30_000 }, async () => {
  await startChat();
  const e = await awsError(
    () =>
      connectClient("not-the-secret-" + "x".repeat(25)).send(
        new StartChatContactCommand({
          InstanceId: env.instanceId,
          ContactFlowId: env.contactFlowId,
          ParticipantDetails: { DisplayName: "Mallory" },
        }),
      ),
    "StartChatContact with a wrong secret",
  );
  assertAwsError(e, "AccessDeniedException", 403, "wrong secret");
});

test("bad fields are refused with typed 4xx errors, never a 500", { timeout: 30_000 }, async () => {
  const cases = [
    ["an unknown ContactFlowId", { ContactFlowId: "ep_does_not_exist" }, ["ResourceNotFoundException"]],
    ["another InstanceId", { InstanceId: "wsp_does_not_exist" }, ["ResourceNotFoundException", "AccessDeniedException"]],
    ["an empty DisplayName", { ParticipantDetails: { DisplayName: "" } }, ["InvalidParameterException", "InvalidRequestException"]],
    [
      "SupportedMessagingContentTypes without text/plain",
      { SupportedMessagingContentTypes: ["text/markdown"] },
      ["InvalidParameterException", "InvalidRequestException"],
    ],
    ["ChatDurationInMinutes 5", { ChatDurationInMinutes: 5 }, ["InvalidParameterException", "InvalidRequestException"]],
    [
      "an unknown RehydrationType",
      { PersistentChat: { RehydrationType: "SOMETIMES", SourceContactId: "cnv_x" } },
      ["InvalidParameterException", "InvalidRequestException"],
    ],
  ];
  for (const [what, fields, names] of cases) {
    const e = await awsError(
      () =>
        connectClient().send(
          new StartChatContactCommand({
            InstanceId: env.instanceId,
            ContactFlowId: env.contactFlowId,
            ParticipantDetails: { DisplayName: "Jane" },
            ...fields,
          }),
        ),
      what,
    );
    const status = e.$metadata?.httpStatusCode;
    assert.ok(
      names.includes(e.name) && status >= 400 && status < 500,
      `${what}: expected one of ${names} (4xx), got ${e.name} ${status}: ${e.message}`,
    );
  }
});
