// Attachments: announce (start) → PUT the bytes to the signed URL → complete.
// Progress comes from XMLHttpRequest where there is one (browsers); with
// fetch it is reported at the start and the end only.

import { SwitchboardError, NETWORK_ERROR } from './errors.js';
import { readBody } from './http.js';

export async function uploadFile(http, conversationId, blob, { name, contentType, requestId, onProgress, signal } = {}) {
  const fileName = name ?? blob.name;
  if (!fileName) throw new TypeError('a file name is required (options.name, or a File)');
  const type = contentType || blob.type || 'application/octet-stream';
  const base = `/conversations/${encodeURIComponent(conversationId)}/attachments`;
  const announce = { name: fileName, content_type: type, size: blob.size };
  if (requestId) announce.request_id = requestId;
  const started = await http.request('POST', base, announce);
  const { url, method = 'PUT' } = started.upload;
  const total = blob.size;
  onProgress?.(0, total);
  if (typeof XMLHttpRequest === 'function') await putWithXhr(url, method, blob, type, onProgress, signal);
  else await putWithFetch(http.fetch, url, method, blob, type, signal);
  onProgress?.(total, total);
  return http.request('POST', `${base}/${encodeURIComponent(started.attachment.id)}/complete`, {});
}

async function putWithFetch(fetchFn, url, method, blob, type, signal) {
  let res;
  try {
    res = await fetchFn(url, { method, body: blob, headers: { 'content-type': type }, signal, duplex: 'half' });
  } catch (err) {
    throw new SwitchboardError({ code: NETWORK_ERROR, message: `upload: ${err?.message || err}` });
  }
  await readBody(res);
}

function putWithXhr(url, method, blob, type, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader('content-type', type);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : blob.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      reject(SwitchboardError.fromBody(body, xhr.status));
    };
    xhr.onerror = () => reject(new SwitchboardError({ code: NETWORK_ERROR, message: 'upload failed' }));
    xhr.onabort = () => reject(new SwitchboardError({ code: 'aborted', message: 'upload aborted' }));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}
