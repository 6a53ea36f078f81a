import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { signIn, SignInError, type Session } from '../sas.js';

/**
 * The sign-in form: a Manage connection string or SAS token, never sent anywhere as it is. The key is
 * turned into a one-hour SAS token in the page and the field is cleared; `check` asks the relay.
 */
export function SignIn(props: { notice?: string; check(session: Session): Promise<string | undefined>; done(session: Session): void }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const field = (event.target as HTMLFormElement).elements.namedItem('credential') as HTMLTextAreaElement;
    const text = field.value;
    field.value = '';
    setBusy(true);
    setError(undefined);
    try {
      const session = await signIn(text, location.hostname);
      const refusal = await props.check(session);
      if (refusal) setError(`Sign-in refused: ${refusal}`);
      else props.done(session);
    } catch (err) {
      setError(err instanceof SignInError ? err.message : 'Sign-in failed.');
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section class="sign-in">
      <h1>hybridge relay</h1>
      ${props.notice && html`<p class="notice">${props.notice}</p>`}
      <form onSubmit=${submit} autocomplete="off">
        <label for="credential">Manage connection string or SAS token</label>
        <textarea id="credential" name="credential" rows="3" spellcheck="false" autocomplete="off" required placeholder="Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=..."></textarea>
        <p class="hint">The key stays in this page: it signs a one-hour token here and is forgotten. Only the token is sent, in a header, and kept for this tab.</p>
        <button type="submit" id="sign-in" disabled=${busy}>Sign in</button>
        ${error && html`<p class="error" id="sign-in-error" role="alert">${error}</p>`}
      </form>
    </section>
  `;
}
