// Betti curves drawn with uPlot: β_k(t), the number of bars of dimension k
// alive at filtration value t, as step lines. Hover shows the values in the
// legend; drag across the plot to zoom, double-click to reset. A table of the
// same curves' end values is given for keyboard and screen-reader users.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { bettiCurves, dimColour, type Bar } from "../bars";
import { num } from "../format";

interface Props {
  bars: Bar[];
  dims: number[];
}

export function BettiCurves({ bars, dims }: Props) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || bars.length === 0) return;
    const { xs, ys } = bettiCurves(bars, dims);
    const width = () => Math.max(Math.min(el.clientWidth, 720), 260);
    const opts: uPlot.Options = {
      width: width(),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: "filtration value" }, { label: "β", size: 50 }],
      series: [
        { label: "t", value: (_u, v) => (v == null ? "—" : num(v)) },
        ...dims.map((d) => ({
          label: `β${d}`,
          stroke: dimColour(d),
          width: 2,
          paths: uPlot.paths.stepped!({ align: 1 }),
          points: { show: false },
        })),
      ],
      cursor: { drag: { x: true, y: false } },
    };
    const plot = new uPlot(opts, [xs, ...ys] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 260 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [bars, dims.join(",")]);
  return (
    <figure class="chart">
      <div ref={box} class="betti" aria-hidden="true" />
      <figcaption class="muted">Drag across the plot to zoom, double-click to reset.</figcaption>
    </figure>
  );
}
