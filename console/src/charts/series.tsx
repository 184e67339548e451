// A live line chart over window numbers (uPlot): one line per series, data
// replaced in place as windows arrive (the plot is built once per set of
// series, not per update). Hover shows the values in the legend; drag zooms,
// double-click resets.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { num } from "../format";

export interface Series {
  label: string;
  colour: string;
  values: (number | null)[];
  stepped?: boolean;
  dash?: number[];
}

interface Props {
  title: string;
  xs: number[];
  series: Series[];
  yLabel: string;
  /** The x axis' label (default "window"). */
  xLabel?: string;
  testId?: string;
}

export function SeriesChart({ title, xs, series, yLabel, xLabel = "window", testId }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}:${s.colour}:${s.stepped ? 1 : 0}`).join("|");
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(Math.min(el.clientWidth, 620), 260);
    const opts: uPlot.Options = {
      width: width(),
      height: 200,
      scales: { x: { time: false } },
      axes: [{ label: xLabel }, { label: yLabel, size: 56 }],
      series: [
        { label: xLabel, value: (_u, v) => (v == null ? "—" : xLabel === "window" ? String(v) : num(v)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.colour,
          width: 2,
          dash: s.dash,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => (v == null ? "—" : num(v)),
          ...(s.stepped ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
          points: { show: false },
        })),
      ],
      cursor: { drag: { x: true, y: false } },
    };
    const p = new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: width(), height: 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = null;
    };
  }, [shape, yLabel, xLabel]);
  useEffect(() => {
    plot.current?.setData([xs, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [xs, series]);
  return (
    <figure class="chart" data-testid={testId} data-points={xs.length}>
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
    </figure>
  );
}
