// Which bar of a chart is pointed at: the one under the mouse, or the one
// reached with the arrow keys (Right/Left: next/previous, Home/End, Escape).
// Shared by the diagram and the barcode, with the tooltip they both show.

import { useState } from "preact/hooks";
import type { Bar } from "../bars";
import { num } from "../format";

export interface Stepper {
  current: Bar | undefined;
  onKey(e: KeyboardEvent): boolean;
  hoverNearest(bars: Bar[], distance: (b: Bar) => number, within: number): void;
  clearHover(): void;
}

export function useStepper(ordered: Bar[]): Stepper {
  const [selected, setSelected] = useState(-1);
  const [hovered, setHovered] = useState<Bar | undefined>(undefined);
  const keyed = selected >= 0 && selected < ordered.length ? ordered[selected] : undefined;
  const go = (i: number) => {
    setHovered(undefined);
    setSelected(Math.max(0, Math.min(ordered.length - 1, i)));
  };
  return {
    current: hovered ?? keyed,
    onKey(e) {
      if (e.shiftKey || ordered.length === 0) return false;
      const acts: Record<string, () => void> = {
        ArrowRight: () => go(selected + 1),
        ArrowLeft: () => go(selected <= 0 ? 0 : selected - 1),
        Home: () => go(0),
        End: () => go(ordered.length - 1),
        Escape: () => {
          setSelected(-1);
          setHovered(undefined);
        },
      };
      const f = acts[e.key];
      if (!f) return false;
      e.preventDefault();
      f();
      return true;
    },
    hoverNearest(bars, distance, within) {
      let best: Bar | undefined;
      let bestD = within;
      for (const b of bars) {
        const dd = distance(b);
        if (dd < bestD) {
          bestD = dd;
          best = b;
        }
      }
      setHovered(best);
    },
    clearHover: () => setHovered(undefined),
  };
}

/** The tooltip of a bar, placed at (x, y) given as fractions of the chart box. */
export function BarTip({ bar, x, y }: { bar: Bar; x: number; y: number }) {
  const left = `${Math.min(Math.max(x * 100, 2), 70)}%`;
  const top = `${Math.min(Math.max(y * 100 + 3, 2), 85)}%`;
  return (
    <div class="tip" role="tooltip" style={{ left, top }}>
      <div>
        <b>H{bar.dim}</b> interval #{bar.index}
      </div>
      <div>birth {num(bar.birth)}</div>
      <div>death {num(bar.death)}</div>
      <div>persistence {num(bar.death - bar.birth)}</div>
    </div>
  );
}
