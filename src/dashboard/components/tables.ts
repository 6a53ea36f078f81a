import { html } from 'htm/preact';
import { age, bytes } from '../../observability/status/units.js';
import type { StatusView } from '../api.js';
import type { Rates } from '../rates.js';

const rate = (n: number | undefined) => `${bytes(n ?? 0)}/s`;

export function HybridConnections(props: { status: StatusView; rates: Rates; onRules(name: string): void; onDelete(name: string): void; onCreate(name: string, clientAuth: boolean): void }) {
  const create = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const name = (form.elements.namedItem('name') as HTMLInputElement).value.trim();
    const clientAuth = (form.elements.namedItem('clientAuth') as HTMLInputElement).checked;
    if (name) props.onCreate(name, clientAuth);
  };
  return html`
    <section id="hybrid-connections">
      <h2>Hybrid connections</h2>
      <table>
        <thead><tr><th>Name</th><th>Listeners</th><th>Connections</th><th>To listener</th><th>To sender</th><th>Rate to listener</th><th>Rate to sender</th><th>Client auth</th><th></th></tr></thead>
        <tbody>
          ${props.status.hybridConnections.map(
            (hc) => html`<tr data-hyco=${hc.name}>
              <td>${hc.name}</td><td class="listeners">${hc.listeners}</td><td class="connections">${hc.activeConnections}</td>
              <td>${bytes(hc.bytesToListener)}</td><td>${bytes(hc.bytesToSender)}</td>
              <td>${rate(props.rates.hycos[hc.name]?.toListener)}</td><td>${rate(props.rates.hycos[hc.name]?.toSender)}</td>
              <td>${hc.requiresClientAuthorization ? 'required' : 'anonymous'}</td>
              <td class="actions"><button class="rules" onClick=${() => props.onRules(hc.name)}>Rules</button> <button class="danger delete" onClick=${() => props.onDelete(hc.name)}>Delete</button></td>
            </tr>`,
          )}
        </tbody>
      </table>
      <form class="inline" id="create-hyco" onSubmit=${create} autocomplete="off">
        <input name="name" placeholder="new hybrid connection" pattern="[A-Za-z0-9._\\-/]{1,260}" required />
        <label><input type="checkbox" name="clientAuth" checked /> requires client authorization</label>
        <button type="submit">Create</button>
      </form>
    </section>
  `;
}

export function Listeners(props: { status: StatusView; now: number }) {
  return html`
    <section id="listeners">
      <h2>Listeners online</h2>
      ${props.status.listeners.length === 0
        ? html`<p class="empty">No listener is connected to this node.</p>`
        : html`<table>
            <thead><tr><th>Listener</th><th>Hybrid connection</th><th>Address</th><th>Online since</th><th>Node</th></tr></thead>
            <tbody>
              ${props.status.listeners.map(
                (l) => html`<tr data-listener-id=${l.listenerId}><td>${l.listenerId}</td><td>${l.hyco}</td><td>${l.remote ?? '-'}</td><td title=${l.since}>${age(props.now - Date.parse(l.since))} ago</td><td>${l.node}</td></tr>`,
              )}
            </tbody>
          </table>`}
    </section>
  `;
}

export function Connections(props: { status: StatusView; rates: Rates; now: number }) {
  return html`
    <section id="connections">
      <h2>Live connections</h2>
      ${props.status.connections.length === 0
        ? html`<p class="empty">No relayed connection is open on this node.</p>`
        : html`<table>
            <thead><tr><th>Tracking id</th><th>Hybrid connection</th><th>Listener</th><th>Open for</th><th>To listener</th><th>To sender</th><th>Rate</th></tr></thead>
            <tbody>
              ${props.status.connections.map((c) => {
                const r = c.trackingId ? props.rates.connections[c.trackingId] : undefined;
                return html`<tr data-tracking-id=${c.trackingId ?? ''}>
                  <td>${c.trackingId ?? '-'}</td><td>${c.hyco}</td><td>${c.listenerId ?? '-'}</td><td>${age(props.now - Date.parse(c.since))}</td>
                  <td class="bytes-to-listener" data-bytes=${c.bytesToListener}>${bytes(c.bytesToListener)}</td><td class="bytes-to-sender" data-bytes=${c.bytesToSender}>${bytes(c.bytesToSender)}</td>
                  <td>${rate((r?.toListener ?? 0) + (r?.toSender ?? 0))}</td>
                </tr>`;
              })}
            </tbody>
          </table>`}
    </section>
  `;
}

export function Nodes(props: { status: StatusView }) {
  const cluster = props.status.cluster;
  return html`
    <section id="nodes">
      <h2>Relay nodes</h2>
      ${cluster
        ? html`<p>Redis <strong class=${cluster.redisUp ? 'ok' : 'bad'}>${cluster.redisUp ? 'up' : 'DOWN'}</strong>; this page talks to <strong>${props.status.node}</strong>.</p>
            <ul>${cluster.nodes.map((n) => html`<li class=${n === props.status.node ? 'this-node' : ''}>${n}</li>`)}</ul>`
        : html`<p>Standalone node <strong>${props.status.node}</strong> (no cluster).</p>`}
    </section>
  `;
}

export function Events(props: { events: StatusView['events'] }) {
  return html`
    <section id="events">
      <h2>Recent events</h2>
      <ol class="events">
        ${[...props.events].reverse().slice(0, 50).map(
          (e) => html`<li data-event=${e.event}><time>${e.time.slice(11, 19)}</time> <strong>${e.event}</strong> ${[e.hyco, e.listenerId && `listener ${e.listenerId}`, e.trackingId && `connection ${e.trackingId}`, e.operation, e.rule && `rule ${e.rule}`, e.status, e.reason].filter(Boolean).join(' · ')}</li>`,
        )}
      </ol>
    </section>
  `;
}
