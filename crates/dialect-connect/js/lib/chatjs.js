"use strict";
// ChatJS 5.0.0, unmodified, in Node: the browser globals it touches, and a
// customer session whose callbacks land in an Inbox.

const WebSocket = require("ws");
const { env, Inbox, REGION } = require("./common");

global.window = global;
global.self = global; // the bundled SDK's UMD wrapper names `self`
global.navigator = { onLine: true, userAgent: "node" };
/** Every socket ChatJS opened, so a test can cut one as a network would. */
const sockets = [];
global.WebSocket = class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    sockets.push(this);
  }
};
require("amazon-connect-chatjs");
const connect = global.connect;

/** Everything ChatJS logged, for a failure's message. */
const log = [];
const keep =
  (level) =>
  (...args) => {
    log.push(`${new Date().toISOString()} ${level} ${args.map((a) => (typeof a === "string" ? a : safe(a))).join(" ")}`);
    if (log.length > 400) log.shift();
  };
function safe(v) {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

connect.ChatSession.setGlobalConfig({
  region: REGION,
  endpoint: env.url,
  loggerConfig: {
    customizedLogger: { debug: keep("DEBUG"), info: keep("INFO"), warn: keep("WARN"), error: keep("ERROR") },
    level: connect.LogLevel.INFO,
    advancedLogWriter: "warn",
  },
  // Receipts batched for 100 ms instead of 5 s, so the test waits less.
  features: { messageReceipts: { shouldSendMessageReceipts: true, throttleTime: 100 } },
});

/**
 * A customer session (what a widget does with StartChatContact's answer),
 * every callback recorded in `events` as `{kind, data}`.
 */
function customerSession(chat, name = "ChatJS customer") {
  const session = connect.ChatSession.create({
    chatDetails: { ContactId: chat.ContactId, ParticipantId: chat.ParticipantId, ParticipantToken: chat.ParticipantToken },
    options: { region: REGION },
    type: connect.ChatSession.SessionTypes.CUSTOMER,
    disableCSM: true,
  });
  const events = new Inbox(name);
  session.onMessage((e) => events.push({ kind: "message", data: e.data }));
  session.onTyping((e) => events.push({ kind: "typing", data: e.data }));
  session.onReadReceipt((e) => events.push({ kind: "read", data: e.data }));
  session.onDeliveredReceipt((e) => events.push({ kind: "delivered", data: e.data }));
  session.onEnded(() => events.push({ kind: "ended" }));
  session.onConnectionBroken(() => events.push({ kind: "broken" }));
  session.onConnectionLost(() => events.push({ kind: "lost" }));
  session.onDeepHeartbeatSuccess(() => events.push({ kind: "deep heartbeat ok" }));
  session.onDeepHeartbeatFailure(() => events.push({ kind: "deep heartbeat failed" }));
  // Fired twice: once when CreateParticipantConnection answers (with
  // `connectSuccess`), once when the websocket is up (with `data`).
  session.onConnectionEstablished((e) => events.push({ kind: e && "data" in e ? "socket" : "connected" }));
  return { session, events };
}

/** Connects and waits until the websocket is up (the event, not a delay). */
async function connectAndWait({ session, events }) {
  const res = await session.connect();
  if (!res || res.connectSuccess !== true) {
    throw new Error(`connect() did not succeed: ${safe(res)}`);
  }
  await events.waitFor((e) => e.kind === "socket", "websocket connection (onConnectionEstablished from the socket)");
  return res;
}

/** Runs `fn`; on failure, adds what ChatJS logged. */
async function withLog(fn) {
  try {
    return await fn();
  } catch (e) {
    const tail = log.slice(-120).join("\n");
    if (e instanceof Error) {
      e.message += `\n--- ChatJS log (last ${Math.min(120, log.length)} lines) ---\n${tail}`;
      throw e;
    }
    throw new Error(`${safe(e)}\n--- ChatJS log ---\n${tail}`);
  }
}

const CT = {
  typing: "application/vnd.amazonaws.connect.event.typing",
  read: "application/vnd.amazonaws.connect.event.message.read",
  delivered: "application/vnd.amazonaws.connect.event.message.delivered",
  joined: "application/vnd.amazonaws.connect.event.participant.joined",
  left: "application/vnd.amazonaws.connect.event.participant.left",
  ended: "application/vnd.amazonaws.connect.event.chat.ended",
};

module.exports = { connect, customerSession, connectAndWait, withLog, log, CT, sockets };
