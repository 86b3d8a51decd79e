/** Tiny DOM and number-formatting helpers shared by the panels (no framework: the page is small). */
import type { DecisionKind } from '../../src/pipeline/decide.ts';

type Attrs = Record<string, string | number | boolean | undefined | null>;
type Child = Node | string | number | null | undefined | false;

/** Create an element with attributes (`class`, `data-*`, `aria-*`, ...) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** The element with this id, typed; throws when the page shell lacks it (a build mistake). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`dashboard shell has no #${id}`);
  return el as T;
}

/** Replace all children of an element. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
}

/** 0.0123 -> "1.2%" (dash for missing). */
export function pct(p: number | undefined | null, digits = 1): string {
  return p === undefined || p === null || !Number.isFinite(p) ? '–' : `${(p * 100).toFixed(digits)}%`;
}

/** A number with a fixed number of decimals (dash for missing). */
export function num(x: number | undefined | null, digits = 1): string {
  return x === undefined || x === null || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/** Milliseconds, readable from 0.05 ms to seconds. */
export function ms(x: number | undefined | null): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–';
  if (x >= 1000) return `${(x / 1000).toFixed(2)} s`;
  if (x >= 10) return `${x.toFixed(0)} ms`;
  return `${x.toFixed(1)} ms`;
}

/** Wall-clock time of an epoch-ms timestamp, HH:MM:SS local. */
export function clock(ts: number | undefined): string {
  if (ts === undefined || !Number.isFinite(ts)) return '–';
  return new Date(ts).toLocaleTimeString([], { hour12: false });
}

/** Shape + word for each decision so it never relies on colour alone. */
export const DECISION_GLYPH: Readonly<Record<DecisionKind, string>> = {
  PASS: '✓',
  REJECT: '✕',
  REVIEW: '?',
  ALERT: '!',
};

/** A decision badge: glyph + word, class `decision decision-<kind>`. */
export function decisionBadge(d: DecisionKind | undefined): HTMLElement {
  if (!d) return h('span', { class: 'decision decision-none' }, '–');
  return h('span', { class: `decision decision-${d.toLowerCase()}`, 'data-decision': d, title: d }, h('span', { class: 'glyph', 'aria-hidden': 'true' }, DECISION_GLYPH[d]), ` ${d}`);
}

/** Human words for snake_case sensor keys: "rotational_speed_rpm" -> "Rotational speed [rpm]". */
export function sensorName(key: string): string {
  const units: Record<string, string> = { k: 'K', rpm: 'rpm', nm: 'Nm', min: 'min', c: '°C', bar: 'bar', hz: 'Hz', mm: 'mm', a: 'A', v: 'V' };
  const parts = key.split('_');
  const last = parts[parts.length - 1]?.toLowerCase() ?? '';
  const unit = parts.length > 1 ? units[last] : undefined;
  const words = (unit ? parts.slice(0, -1) : parts).join(' ');
  const title = words.charAt(0).toUpperCase() + words.slice(1);
  return unit ? `${title} [${unit}]` : title;
}
