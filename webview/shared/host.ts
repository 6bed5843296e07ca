// The webview side of the host connection: a typed postMessage and a listener that only passes on
// messages that validate against their protocol definition.
import type { Envelope, MessageType } from '../../src/protocol/message';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post<T extends string, P>(type: MessageType<T, P>, params: P): void {
  api.postMessage(type.create(params));
}

export function getState<S>(): S | undefined {
  return api.getState() as S | undefined;
}

export function setState<S>(state: S): void {
  api.setState(state);
}

/** Calls `handler` for each message from the host that is a valid `type`; other messages are ignored with a console warning. */
export function on<T extends string, P>(type: MessageType<T, P>, handler: (params: P) => void): void {
  window.addEventListener('message', (ev: MessageEvent<unknown>) => {
    const data = ev.data;
    if (typeof data !== 'object' || data === null || (data as { type?: unknown }).type !== type.type) return;
    const problems = type.problems(data);
    if (problems.length) {
      console.warn(`ignored invalid ${type.type} message: ${problems.join('; ')}`);
      return;
    }
    handler((data as Envelope<T, P>).params);
  });
}

/** Creates an element with classes and children (text is set as text, never as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; text?: string; title?: string; attrs?: Record<string, string> } = {},
  ...children: (Node | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.class) e.className = props.class;
  if (props.text !== undefined) e.textContent = props.text;
  if (props.title) e.title = props.title;
  for (const [k, val] of Object.entries(props.attrs ?? {})) e.setAttribute(k, val);
  for (const c of children) if (c) e.appendChild(c);
  return e;
}
