/**
 * The strip of the most recent frames: image, predicted label, probability and decision. A REJECT
 * is marked by a heavy dashed frame and a "✕ REJECT" banner (shape and text, not colour alone).
 * New frames are prepended and the oldest tile is dropped, so existing images are not reloaded.
 */
import { releasePartImage, showPartImage } from './api.ts';
import { clock, decisionBadge, h, pct } from './dom.ts';
import type { InspectionEvent, Part } from './types.ts';

type Frame = Pick<Part, 'part_id' | 'ts' | 'station' | 'label' | 'probability' | 'decision' | 'has_image' | 'reason'>;

/** The recent-frames strip. */
export class StripPanel {
  private readonly ids = new Set<string>();

  constructor(
    private readonly root: HTMLElement,
    private readonly size = 12,
    private readonly onSelect?: (partId: string) => void,
  ) {}

  /** Replace the strip with the newest parts (newest first). */
  setSnapshot(parts: readonly Frame[]): void {
    for (const img of this.root.querySelectorAll('img')) releasePartImage(img);
    this.root.replaceChildren();
    this.ids.clear();
    for (const p of parts.slice(0, this.size).reverse()) this.add(p);
    this.root.dataset.count = String(this.ids.size);
  }

  onInspection(e: InspectionEvent): void {
    this.add(e);
    this.root.dataset.count = String(this.ids.size);
  }

  private add(p: Frame): void {
    if (this.ids.has(p.part_id)) return;
    this.ids.add(p.part_id);
    const img = h('img', { alt: `part ${p.part_id}`, decoding: 'async' });
    if (p.has_image !== false) {
      showPartImage(img, p.part_id).catch(() => img.classList.add('img-missing'));
    } else {
      img.classList.add('img-missing');
    }
    const reject = p.decision === 'REJECT';
    const tile = h(
      'figure',
      { class: `frame frame-${p.decision.toLowerCase()}`, 'data-part': p.part_id, 'data-decision': p.decision, tabindex: 0, title: `${p.station} · ${clock(p.ts)} · ${p.part_id}${p.reason ? `\n${p.decision}: ${p.reason}` : ''}` },
      reject ? h('div', { class: 'frame-banner' }, '✕ REJECT') : null,
      img,
      h('figcaption', {}, h('span', { class: 'frame-label' }, p.label), h('span', { class: 'frame-prob' }, pct(p.probability, 0)), decisionBadge(p.decision)),
    );
    if (this.onSelect) {
      const select = (): void => this.onSelect?.(p.part_id);
      tile.addEventListener('click', select);
      tile.addEventListener('keydown', (ev) => {
        if (ev.key === ' ' || ev.key === 'Enter') {
          // Enter on a focused frame opens it; it must not reach the page's "confirm label" key
          ev.preventDefault();
          ev.stopPropagation();
          select();
        }
      });
    }
    this.root.prepend(tile);
    while (this.root.children.length > this.size) {
      const last = this.root.lastElementChild as HTMLElement | null;
      if (!last) break;
      const oldImg = last.querySelector('img');
      if (oldImg) releasePartImage(oldImg);
      if (last.dataset.part) this.ids.delete(last.dataset.part);
      last.remove();
    }
  }
}
