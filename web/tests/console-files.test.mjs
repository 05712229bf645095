// Files: the agent asks for a file, the customer uploads an image in answer,
// the console shows it arrive with a preview and a download; a file the
// customer sends unasked shows too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, routedChat, PNG_1PX } from './harness.mjs';
import { ANN, useConsoleWorld, signIn, finish } from './console-support.mjs';

const world = useConsoleWorld();

test('a file request is answered with an upload the agent can preview and download', async () => {
  const { server, browser } = world;
  const session = await signIn(world);
  const { page } = session;
  const jane = await routedChat(browser, server, page, { displayName: 'Jane' });

  await page.getByTestId('action-file').click();
  await page.getByTestId('file-dialog').waitFor();
  await page.getByTestId('file-record').fill('500Kx0000001');
  await page.getByTestId('file-submit').click();
  await page.getByTestId('file-dialog').waitFor({ state: 'hidden' });
  await page.getByTestId('notice-file.requested').filter({ hasText: 'record 500Kx0000001' }).waitFor();

  const requested = await jane.waitForEvent('file.requested', { record_id: '500Kx0000001' });
  await jane.upload({ name: 'receipt.png', contentType: 'image/png', bytes: PNG_1PX, requestId: requested.request_id });

  const attachment = page.getByTestId('transcript').getByTestId('attachment').filter({ hasText: 'receipt.png' });
  await attachment.waitFor();
  await page.getByTestId('notice-file.received').waitFor();
  // The preview is the server's thumbnail, loaded as an image.
  const preview = attachment.getByTestId('file-preview');
  await preview.waitFor({ state: 'visible' });
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await preview.elementHandle());
  assert.match(await preview.getAttribute('src'), /\/api\/v1\/files\//);

  // Download: the browser saves the file under its name.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    attachment.getByTestId('file-download').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'receipt.png');

  // A text file sent unasked has no preview, only a download.
  await jane.upload({ name: 'notes.txt', contentType: 'text/plain', bytes: Buffer.from('hello\n') });
  const notes = page.getByTestId('transcript').getByTestId('attachment').filter({ hasText: 'notes.txt' });
  await notes.waitFor();
  assert.equal(await notes.getByTestId('file-preview').count(), 0);
  await notes.getByTestId('file-download').waitFor();
  await finish(session, jane);
});

test('with a scan hook, files wait for the verdict; a refused one says why', async () => {
  const scanned = await startServer({
    args: ['--scan-command', 'if [ "$SWITCHBOARD_FILE_NAME" = bad.txt ]; then echo "looks bad"; exit 1; fi; exit 0'],
  });
  try {
    await scanned.setupRouting({ agents: [ANN] });
    const session = await signIn({ server: scanned, browser: world.browser });
    const { page } = session;
    const jane = await routedChat(world.browser, scanned, page, { displayName: 'Jane' });
    await jane.upload({ name: 'photo.png', contentType: 'image/png', bytes: PNG_1PX });
    await jane.upload({ name: 'bad.txt', contentType: 'text/plain', bytes: Buffer.from('nope\n') });
    const transcript = page.getByTestId('transcript');
    const photo = transcript.getByTestId('attachment').filter({ hasText: 'photo.png' });
    await photo.getByTestId('file-preview').waitFor({ state: 'visible' });
    await photo.getByTestId('file-download').waitFor();
    const bad = transcript.getByTestId('attachment').filter({ hasText: 'bad.txt' });
    await bad.getByText('Refused: looks bad').waitFor();
    assert.equal(await bad.getByTestId('file-download').count(), 0);
    await finish(session, jane);
  } finally {
    await scanned.stop();
  }
});
