import { html } from 'htm/preact';

/** A change waiting for the user's yes. */
export interface PendingAction {
  title: string;
  detail: string;
  run(): Promise<void>;
}

/** Every management action goes through this: nothing changes without a second click. */
export function ConfirmDialog(props: { action: PendingAction | undefined; busy: boolean; onConfirm(): void; onCancel(): void }) {
  if (!props.action) return null;
  return html`
    <div class="overlay">
      <div class="confirm" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
        <h2 id="confirm-title">${props.action.title}</h2>
        <p>${props.action.detail}</p>
        <div class="buttons">
          <button class="danger" id="confirm-yes" disabled=${props.busy} onClick=${props.onConfirm}>Yes, do it</button>
          <button id="confirm-no" disabled=${props.busy} onClick=${props.onCancel}>Cancel</button>
        </div>
      </div>
    </div>
  `;
}
