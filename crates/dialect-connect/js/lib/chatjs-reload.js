"use strict";
// A page reload, as its own process (a fresh ChatJS, as a new page would
// have): a new session with the customer's same ContactId, ParticipantId and
// ParticipantToken. Run by chatjs-customer.test.js over IPC:
//   child → {type:"ready", transcript}    once its socket is up and it has read the transcript
//   child → {type:"done", messages}       once the message whose Content is RELOAD_UNTIL arrived
//   child → {type:"failed", error}
// then it exits, dropping its socket as a closed tab does.

const { customerSession, connectAndWait, withLog } = require("./chatjs");

/** Sends a message to the parent and waits until it is handed over. */
function tell(msg) {
  return new Promise((resolve) => process.send(msg, resolve));
}

async function main() {
  const chat = JSON.parse(process.env.RELOAD_CHAT);
  const until = process.env.RELOAD_UNTIL;
  const s = customerSession(chat, "ChatJS after reload");
  await withLog(async () => {
    await connectAndWait(s);
    const t = await s.session.getTranscript({ scanDirection: "BACKWARD", sortOrder: "ASCENDING", maxResults: 100 });
    await tell({ type: "ready", transcript: t.data.Transcript });
    await s.events.waitFor((e) => e.kind === "message" && e.data.Content === until, `the message "${until}"`, 30_000);
    await tell({ type: "done", messages: s.events.items.filter((e) => e.kind === "message").map((e) => e.data) });
  });
}

main().then(
  () => process.exit(0),
  (e) => tell({ type: "failed", error: e && e.stack ? e.stack : JSON.stringify(e) }).then(() => process.exit(1)),
);
