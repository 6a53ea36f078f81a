/** An HTTP(S) GET of a small document, bounded in time and size; the text or an Error with a one-line reason. */
export async function fetchBoundedText(url: string, maxBytes: number, timeoutMs: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const name = (err as Error).name;
    throw new Error(name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (err as Error).message));
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${res.status}`);
  }
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`the document is larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  if (!reader) return '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new Error(`the document is larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    const name = (err as Error).name;
    throw new Error(name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message);
  }
  return Buffer.concat(chunks).toString('utf8');
}
