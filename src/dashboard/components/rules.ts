import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { RelayApi, RuleView, Scope } from '../api.js';

const RIGHTS = ['Listen', 'Send', 'Manage'];

/**
 * The authorization rules of the namespace or of one hybrid connection: create, delete, renew keys
 * (each after a confirmation). Keys are never shown: `hybridge ... keys list` prints them.
 */
export function RulesPanel(props: {
  api: RelayApi;
  scope: Scope;
  revision: number;
  onScope(scope: Scope): void;
  hycos: string[];
  ask(title: string, detail: string, run: () => Promise<void>): void;
}) {
  const [rules, setRules] = useState<RuleView[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const where = props.scope === undefined ? 'the namespace' : `hybrid connection "${props.scope}"`;
  useEffect(() => {
    let live = true;
    props.api.rules(props.scope).then(
      (r) => live && (setRules(r), setError(undefined)),
      (err: Error) => live && setError(err.message),
    );
    return () => {
      live = false;
    };
  }, [props.scope, props.revision]);
  const create = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const name = (form.elements.namedItem('rule') as HTMLInputElement).value.trim();
    const rights = RIGHTS.filter((r) => (form.elements.namedItem(`right-${r}`) as HTMLInputElement).checked);
    if (!name || rights.length === 0) return;
    props.ask(`Create rule "${name}"?`, `A rule of ${where} with ${rights.join(', ')} rights and two new random keys.`, () => props.api.putRule(props.scope, name, rights).then(() => undefined));
  };
  return html`
    <section id="rules">
      <h2>Authorization rules of <select id="rule-scope" value=${props.scope ?? ''} onChange=${(e: Event) => props.onScope((e.target as HTMLSelectElement).value || undefined)}>
        <option value="">the namespace</option>
        ${props.hycos.map((h) => html`<option value=${h}>${h}</option>`)}
      </select></h2>
      ${error && html`<p class="error">${error}</p>`}
      <table>
        <thead><tr><th>Rule</th><th>Rights</th><th></th></tr></thead>
        <tbody>
          ${(rules ?? []).map(
            (rule) => html`<tr data-rule=${rule.name}>
              <td>${rule.name}</td><td>${rule.rights.join(', ')}</td>
              <td class="actions">
                <button class="renew-primary" onClick=${() => props.ask(`Renew the primary key of "${rule.name}"?`, `Listeners and senders that connected with the old primary key of ${where} are cut; they need the new key.`, () => props.api.renewKey(props.scope, rule.name, 'PrimaryKey'))}>Renew primary key</button>
                <button class="renew-secondary" onClick=${() => props.ask(`Renew the secondary key of "${rule.name}"?`, `Connections made with the old secondary key of ${where} are cut.`, () => props.api.renewKey(props.scope, rule.name, 'SecondaryKey'))}>Renew secondary key</button>
                <button class="danger delete-rule" onClick=${() => props.ask(`Delete rule "${rule.name}"?`, `Everything connected with its keys is cut, and the keys stop working.`, () => props.api.deleteRule(props.scope, rule.name).then(() => undefined))}>Delete</button>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      <form class="inline" id="create-rule" onSubmit=${create} autocomplete="off">
        <input name="rule" placeholder="new rule name" pattern="[A-Za-z0-9._\\-]{1,256}" required />
        ${RIGHTS.map((r) => html`<label><input type="checkbox" name=${`right-${r}`} checked=${r !== 'Manage'} /> ${r}</label>`)}
        <button type="submit">Create rule</button>
      </form>
    </section>
  `;
}
